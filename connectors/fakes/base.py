"""What every stateful fake shares: the request log, faults as data, one `handle()` door.

Role: a fake subclasses `FakeBase`, implements `_dispatch(request)` for its
routes and `_fault_body(status)` for the error body its real server sends, and
gets for free: a request log with `count()`, and `fail` / `drop` / `timeout` /
`malformed` / `not_json` / `cut` faults that tests set as data. A fake must never
speak HTTP itself, import `requests`/`responses`, sleep, or read the real clock;
the adapters in `connectors.fakes.web` put it on the wire. A fault the fake cannot
express as an answer (a lost connection, a stall, a body cut short on the wire)
is raised as a marker exception that each adapter turns into the real thing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Response = tuple[int, dict[str, str], bytes]
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class ConnectionLost(Exception):
    """The connection is lost before an answer; adapters turn it into a connection error."""

    def __init__(self, applied: bool = False) -> None:
        super().__init__("connection lost" + (" after the write was applied" if applied else ""))
        self.applied = applied


class TimedOut(ConnectionLost):
    """No answer within the client's timeout; adapters turn it into a read timeout.

    Over real HTTP the adapter holds the connection silent for `stall` seconds (its
    own default when None), which must be longer than the client's timeout.
    """

    def __init__(self, applied: bool = False, stall: float | None = None) -> None:
        super().__init__(applied)
        self.stall = stall


class CutShort(ConnectionLost):
    """The answer's head and part of its body go out, then the connection drops.

    Only ever raised after the write was applied: the server acted and began to
    answer. The adapters announce the whole body's length and send half of it.
    """

    def __init__(self, response: tuple[int, dict[str, str], bytes]) -> None:
        super().__init__(applied=True)
        self.response = response


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes | None


FaultKind = Literal["respond", "drop", "timeout", "malformed", "not_json", "cut"]
# An HTML error page where JSON was expected, as a proxy or a PHP notice would send it.
NOT_JSON_BODY = b"<html><body><h1>It works!</h1></body></html>"


@dataclass
class Fault:
    kind: FaultKind
    method: str | None
    path_prefix: str
    remaining: int | None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    after_apply: bool = False
    stall: float | None = None


class FakeBase:
    """Request log, faults and the `handle()` template shared by every fake."""

    json_headers: Mapping[str, str] = JSON_HEADERS

    def __init__(self) -> None:
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ what subclasses supply
    def _dispatch(self, req: Request) -> Response:
        raise NotImplementedError

    def _fault_body(self, status: int) -> bytes:
        """The body the real server sends with this status (used by `fail` without a body)."""
        return json.dumps({"error": {"code": status, "message": ""}}).encode()

    def _norm_path(self, path: str) -> str:
        return "/" + path.split("?", 1)[0].strip("/")

    # ------------------------------------------------------------------ request log
    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        prefix = self._norm_path(path_prefix) if path_prefix else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (prefix is None or r.path.startswith(prefix))
        )

    def clear_log(self) -> None:
        self.requests.clear()

    # ------------------------------------------------------------------ faults
    def fail(
        self,
        method: str | None,
        path_prefix: str,
        *,
        status: int = 500,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
        times: int | None = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with this instead (None: forever).

        With `after_apply` the write is applied first (a proxy's 502 after the server acted).
        """
        if body is None:
            payload = self._fault_body(status)
        else:
            payload = body.encode() if isinstance(body, str) else body
        hdrs = dict(self.json_headers) | dict(headers or {})
        fault = Fault("respond", method, path_prefix, times, status, hdrs, payload, after_apply)
        self._add_fault(fault)

    def throttle(
        self, method: str | None, path_prefix: str, *, retry_after: int = 1, times: int | None = 1
    ) -> None:
        """Answer 429 with `Retry-After: retry_after` (seconds) and the server's 429 body."""
        headers = {"Retry-After": str(retry_after)}
        self.fail(method, path_prefix, status=429, headers=headers, times=times)

    def drop(
        self,
        method: str | None,
        path_prefix: str,
        *,
        times: int | None = 1,
        after_apply: bool = False,
    ) -> None:
        """Lose the connection (before answering; with after_apply, after the write)."""
        self._add_fault(Fault("drop", method, path_prefix, times, after_apply=after_apply))

    def timeout(
        self,
        method: str | None,
        path_prefix: str,
        *,
        times: int | None = 1,
        after_apply: bool = False,
        stall: float | None = None,
    ) -> None:
        """Never answer in time (adapters raise a read timeout).

        Over real HTTP the connection stays silent for `stall` seconds (the adapter's
        default when None) before it is closed: set it past the client's timeout.
        """
        fault = Fault("timeout", method, path_prefix, times, after_apply=after_apply, stall=stall)
        self._add_fault(fault)

    def malformed(self, method: str | None, path_prefix: str, *, times: int | None = 1) -> None:
        """Apply the request, then answer 200 with a truncated JSON body."""
        self._add_fault(Fault("malformed", method, path_prefix, times))

    def not_json(self, method: str | None, path_prefix: str, *, times: int | None = 1) -> None:
        """Apply the request, then answer 200 with an HTML page instead of JSON."""
        self._add_fault(Fault("not_json", method, path_prefix, times))

    def cut(self, method: str | None, path_prefix: str, *, times: int | None = 1) -> None:
        """Apply the request, then send its answer with the body stopping halfway (a drop)."""
        self._add_fault(Fault("cut", method, path_prefix, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    def _add_fault(self, fault: Fault) -> None:
        fault.path_prefix = self._norm_path(fault.path_prefix)
        fault.method = fault.method.upper() if fault.method else None
        self.faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method not in (None, "*", method) or not path.startswith(fault.path_prefix):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    # ------------------------------------------------------------------ entry point
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Response:
        """Answer one request; raise a `ConnectionLost` marker (`TimedOut`, `CutShort`) when
        the fault is something other than an answer."""
        with self._lock:
            method, path = method.upper(), self._norm_path(path)
            self.requests.append(LoggedRequest(method, path, dict(query), body))
            fault = self._take_fault(method, path)
            early = _before_apply(fault) if fault and not fault.after_apply else None
            if early is not None:
                return early
            lowered = {k.lower(): v for k, v in headers.items()}
            response = self._dispatch(Request(method, path, dict(query), lowered, body))
            if fault is None:
                return response
            return self._after_apply(fault, response)

    def _after_apply(self, fault: Fault, response: Response) -> Response:
        """The answer (or the marker) for a fault that strikes once the server has acted."""
        if fault.kind == "respond":
            return fault.status, dict(fault.headers), fault.body
        if fault.kind == "malformed":
            text = response[2] if response[2][:1] in (b"{", b"[") else b'{"id": "1"}'
            return 200, dict(self.json_headers), text[: max(1, len(text) // 2)]
        if fault.kind == "not_json":
            return 200, {"Content-Type": "text/html; charset=UTF-8"}, NOT_JSON_BODY
        if fault.kind == "cut":
            raise CutShort(response)
        if fault.kind == "timeout":
            raise TimedOut(True, fault.stall)
        raise ConnectionLost(True)


def _before_apply(fault: Fault) -> Response | None:
    """Strike before the server acts: answer instead of it, or lose the connection.

    None: this kind only strikes after the server acted (a garbled or cut answer).
    """
    if fault.kind == "respond":
        return fault.status, dict(fault.headers), fault.body
    if fault.kind == "timeout":
        raise TimedOut(False, fault.stall)
    if fault.kind == "drop":
        raise ConnectionLost(False)
    return None
