"""Adapters that put any fake with a `handle(method, path, query, headers, body)` on the wire.

Role: `use_responses` answers `requests` calls in-process through a `responses.RequestsMock`;
`serve` runs the fake on a loopback `ThreadingHTTPServer` for real-HTTP tests. A fake's
markers become the real thing here: `ConnectionLost` a connection error (a reset socket),
`TimedOut` a read timeout (over real HTTP: the connection stays silent for `stall`
seconds, past the client's timeout, then closes), `CutShort` an answer whose body stops
halfway (requests raises `ChunkedEncodingError`). Only these adapters ever wait; the fakes
never sleep. The adapters must never hold state of their own, change what the fake
answers, or listen on anything but 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

if TYPE_CHECKING:  # a test-only package: `syncd demo` runs without it (serve only)
    import responses

from connectors.fakes.base import ConnectionLost, CutShort, TimedOut

DEFAULT_STALL = 5.0  # seconds a `timeout` fault keeps a real connection silent

_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class FakeServer(Protocol):
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, dict[str, str], bytes]: ...


def _split(url: str, base_path: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    return path or "/", dict(parse_qsl(parts.query, keep_blank_values=True))


def use_responses(fake: FakeServer, rsps: responses.RequestsMock, base_url: str) -> None:
    """Route every request under `base_url` in `rsps` to `fake.handle`."""
    base = base_url.rstrip("/")
    base_path = urlsplit(base).path
    pattern = re.compile(re.escape(base) + r"(?:[/?].*)?$")

    def callback(
        request: requests.PreparedRequest,
    ) -> tuple[int, dict[str, str], bytes] | Exception:
        path, query = _split(request.url or "", base_path)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        try:
            return fake.handle(
                request.method or "GET", path, query, dict(request.headers), body or None
            )
        except TimedOut as lost:
            return requests.ReadTimeout(str(lost), request=request)
        except CutShort as lost:
            return requests.exceptions.ChunkedEncodingError(str(lost), request=request)
        except ConnectionLost as lost:
            return requests.ConnectionError(str(lost), request=request)

    for method in _METHODS:
        rsps.add_callback(method, pattern, callback=callback)


@contextmanager
def serve(fake: FakeServer, stall: float = DEFAULT_STALL) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 at a free port; yield its base URL (no trailing slash).

    `stall`: how long a `timeout` fault without its own `stall` keeps the connection
    silent; make it longer than the client's timeout.
    """
    closing = threading.Event()
    server = _Server(("127.0.0.1", 0), _handler_for(fake, stall, closing))
    server.daemon_threads = True
    # A short poll keeps shutdown quick (the default waits up to half a second).
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-http", daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        closing.set()  # stalled connections give up at once
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that dies mid-request (a killed daemon) is expected, not news."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler_for(
    fake: FakeServer, stall: float, closing: threading.Event
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, keep-alive clients
        # wait for a delayed ACK (~40 ms) on every request.
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path, query = _split(self.path, "")
            try:
                status, headers, payload = fake.handle(
                    self.command, path, query, dict(self.headers.items()), body
                )
            except TimedOut as late:
                # Silent past the client's timeout, then gone; the fake never sleeps, we do.
                closing.wait(stall if late.stall is None else late.stall)
                self._hang_up()
                return
            except CutShort as cut:
                status, headers, payload = cut.response
                self._send_head(status, headers, max(2, len(payload)))
                with suppress(OSError):
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                self._hang_up()
                return
            except ConnectionLost:
                self._hang_up()  # a dropped connection: no answer at all
                return
            self._send_head(status, headers, len(payload))
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

        def _send_head(self, status: int, headers: Mapping[str, str], length: int) -> None:
            self.send_response_only(status)
            self.send_header("Server", self.version_string())
            if not any(name.lower() == "date" for name in headers):
                self.send_header("Date", self.date_time_string())  # else the fake's clock
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        def _hang_up(self) -> None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

        def log_message(self, format: str, *args: object) -> None:
            return  # keep test output quiet

    return Handler
