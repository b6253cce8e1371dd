"""A forwarding proxy between syncd and Synapse that can keep a send's answer back.

With `hold_sends` set, a `PUT …/send/…` is forwarded to Synapse (which posts the
event), and its answer is then withheld: the moment a kill lands "right after the
send", before syncd could store the outcome. Everything else passes through.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Proxy:
    upstream: str
    url: str = ""
    hold_sends: bool = False
    sent: threading.Event = field(default_factory=threading.Event)  # a held send reached Synapse
    closing: threading.Event = field(default_factory=threading.Event)
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status

    def sends(self) -> list[str]:
        return [path for method, path, _ in self.log if method == "PUT" and "/send/" in path]


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            answer = session.request(
                self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
            )
            proxy.log.append((self.command, self.path.split("?")[0], answer.status_code))
            if self.command == "PUT" and "/send/" in self.path and proxy.hold_sends:
                proxy.sent.set()
                proxy.closing.wait(120)  # the answer never comes back in time
                return
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in HOP_HEADERS | {"content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_PUT = do_POST = do_DELETE = _forward

    return Handler


@contextmanager
def proxied(upstream: str) -> Iterator[Proxy]:
    proxy = Proxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        proxy.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
