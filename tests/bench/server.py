"""The fake Dolibarr in a process of its own, steered over a pipe.

Role: run `FakeDolibarr` on 127.0.0.1 in a separate process, so that the
benchmark's process holds syncd alone and its CPU time and peak memory are
syncd's, not the server's. The bench steers the fake between cycles over a
`multiprocessing` pipe: seed it, change 1 % of it, move its clock, read and
clear its request log, ask how much CPU it used. Commands are only sent while
no cycle runs, so they never race with a request. Nothing here decides what is
measured or how it is reported.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from connectors.fakes.base import Response
from connectors.fakes.dolibarr import FakeDolibarr, ListSpec, Request
from connectors.fakes.web import serve
from tests.bench import world


class BenchDolibarr(FakeDolibarr):
    """The fake, with the lookups a real database does in C, or by index, done quickly.

    The fake answers `?thirdparty_ids=` by scanning every contact or invoice
    (Dolibarr's tables have an index on the owner), a `label LIKE` filter by
    evaluating it row by row in Python (MariaDB scans in C), and each page of a
    list by filtering and sorting the whole table again. syncd looks its own
    agenda event up before creating one, reads lists page by page, and the
    naive poller asks per third party: without these shortcuts the fake's
    scans, growing with the table, would set the wall time. Answers are
    unchanged: the fake's own handler computes them, over a subset of rows that
    holds every row it would return. It also counts the bytes it answers with.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owned: dict[str, dict[int, dict[int, Any]]] = {}
        self._selections: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}
        self.bytes_out = 0

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Response:
        if method.upper() != "GET":
            self.forget_index()  # a write may add or move a row
        answer = super().handle(method, path, query, headers, body)
        self.bytes_out += len(answer[2])
        return answer

    def forget_index(self) -> None:
        self._owned.clear()
        self._selections.clear()

    def _list(self, req: Request, rows: Iterable[Any], spec: ListSpec) -> Response:
        """A page of a list, selecting and sorting the whole list once for all its pages.

        The fake filters and sorts every row again for each page; a database
        walks an index. The selection is kept until the next write or command.
        """
        query = req.query
        limit = query.get("limit") or "100"
        if query.get("pagination_data") or not limit.isdigit() or limit == "0":
            return super()._list(req, rows, spec)
        key = (req.path, tuple(sorted((k, v) for k, v in query.items() if k != "page")))
        if key not in self._selections:
            selected = self._select(req, list(rows), spec)
            if selected is None:
                return super()._list(req, rows, spec)
            self._selections[key] = selected
        page = int(query.get("page") or 0) if str(query.get("page") or 0).isdigit() else 0
        window = self._selections[key][page * int(limit) : (page + 1) * int(limit)]
        return super()._list(replace(req, query={**query, "page": "0"}), window, spec)

    def _select(self, req: Request, rows: list[Any], spec: ListSpec) -> list[Any] | None:
        """The rows the fake's own `_list` selects, in its order (None: it answers an error)."""
        place = {id(row): n for n, row in enumerate(rows)}
        numbered = replace(spec, render=lambda row: {"n": place[id(row)]}, empty_404=None)
        query = {k: v for k, v in req.query.items() if k not in ("page", "properties")}
        status, _headers, body = super()._list(
            replace(req, query={**query, "limit": "0"}), rows, numbered
        )
        if status != 200:
            return None
        return [rows[item["n"]] for item in json.loads(body)]

    def _list_contacts(self, req: Request, m: re.Match[str]) -> Response:
        answer = super()._list_contacts
        return self._within("contacts", self._of_owner("contacts", req), lambda: answer(req, m))

    def _list_invoices(self, req: Request, m: re.Match[str]) -> Response:
        answer = super()._list_invoices
        return self._within("invoices", self._of_owner("invoices", req), lambda: answer(req, m))

    def _list_events(self, req: Request, m: re.Match[str]) -> Response:
        answer = super()._list_events
        return self._within("events", self._labelled(req), lambda: answer(req, m))

    def _of_owner(self, kind: str, req: Request) -> dict[int, Any] | None:
        raw = req.query.get("thirdparty_ids") or ""
        if not raw.isdigit():
            return None
        if kind not in self._owned:
            index: dict[int, dict[int, Any]] = {}
            for row in getattr(self, kind).values():
                index.setdefault(row.socid, {})[row.id] = row
            self._owned[kind] = index
        return self._owned[kind].get(int(raw), {})

    def _labelled(self, req: Request) -> dict[int, Any] | None:
        """Events a `(t.label:like:'…')` term, ANDed with the rest, can match."""
        text = req.query.get("sqlfilters") or ""
        term = _LABEL_LIKE.search(text)
        if term is None or _OR.search(text):
            return None
        pattern = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in term[1]),
            re.IGNORECASE | re.DOTALL,
        )
        return {i: e for i, e in self.events.items() if pattern.fullmatch(e.label)}

    def _within(
        self, kind: str, rows: dict[int, Any] | None, answer: Callable[[], Response]
    ) -> Response:
        """`answer()` computed with only `rows` in the table `kind` (all of it when None)."""
        if rows is None:
            return answer()
        every = getattr(self, kind)
        setattr(self, kind, rows)
        try:
            return answer()
        finally:
            setattr(self, kind, every)


_LABEL_LIKE = re.compile(r"\(t\.label:like:'([^']*)'\)")
_OR = re.compile(r"\)\s+or\s+\(", re.IGNORECASE)
_ID = re.compile(r"/\d+(?=/|$)")


def endpoint(method: str, path: str) -> str:
    """`GET /categories/{id}/objects`: a request's route, ids folded."""
    return f"{method} {_ID.sub('/{id}', path)}"


def _serve(conn: Connection, now: float) -> None:
    """The child process: the fake on loopback, answering commands until `stop`."""
    fake = BenchDolibarr(now=now)
    commands: dict[str, Callable[..., Any]] = {
        "seed": lambda count: world.seed(fake, count),
        "change": lambda fraction, round_no: world.change(fake, fraction, round_no),
        "advance": fake.advance,
        "requests": lambda: _take_log(fake),
        "bytes": lambda: fake.bytes_out,
        "cpu": time.process_time,
    }
    with serve(fake) as url:
        conn.send(("ok", (url, fake.api_key)))
        while True:
            name, args = conn.recv()
            if name == "stop":
                break
            fake.forget_index()  # a command may add or move a row
            try:
                conn.send(("ok", commands[name](*args)))
            except Exception as exc:  # reported to the bench, which stops
                conn.send(("error", f"{name}: {exc!r}"))
    conn.send(("ok", None))


def _take_log(fake: FakeDolibarr) -> dict[str, int]:
    counts = Counter(endpoint(r.method, r.path) for r in fake.requests)
    fake.clear_log()
    return dict(counts)


class FakeProcess:
    """`with FakeProcess(now) as fake:` a served fake Dolibarr and its remote control."""

    def __init__(self, now: float) -> None:
        context = multiprocessing.get_context("spawn")  # a clean process: no copy of ours
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, now), name="bench-dolibarr", daemon=True
        )
        self.url = ""
        self.api_key = ""

    def __enter__(self) -> FakeProcess:
        self._process.start()
        self.url, self.api_key = self._answer()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._process.is_alive():
                self._conn.send(("stop", ()))
                self._answer()
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    def _call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        return self._answer()

    def _answer(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the fake Dolibarr process failed: {value}")
        return value

    def seed(self, count: int) -> dict[str, int]:
        return dict(self._call("seed", count))

    def change(self, fraction: float, round_no: int) -> dict[str, int]:
        return dict(self._call("change", fraction, round_no))

    def advance(self, seconds: float) -> None:
        self._call("advance", seconds)

    def requests(self) -> dict[str, int]:
        """Requests since the last call, by endpoint; the log is cleared."""
        return dict(self._call("requests"))

    def bytes_out(self) -> int:
        """Bytes the server has answered with so far (bodies)."""
        return int(self._call("bytes"))

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (all its threads)."""
        return float(self._call("cpu"))
