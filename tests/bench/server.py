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
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from connectors.fakes.base import Response
from connectors.fakes.dolibarr import EventRow, FakeDolibarr, ListSpec, Request
from connectors.fakes.web import serve
from tests.bench import world


class BenchDolibarr(FakeDolibarr):
    """The fake, with the lookups a real database does in C, or by index, done quickly.

    The fake answers `?thirdparty_ids=` by scanning every contact or invoice
    (Dolibarr's tables have an index on the owner), a `label LIKE 'start%'`
    filter by evaluating it on every agenda event (an index on the label finds
    the start), and each page of a list by filtering and sorting the whole
    table again. syncd looks its own agenda event up before creating one, reads
    lists page by page, and the naive poller asks per third party: without
    these shortcuts the fake's scans, growing with the table, would set the
    wall time. Answers are unchanged: the fake's own handler computes them,
    over a subset of rows that holds every row it would return. It also counts
    the bytes it answers with.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owned: dict[str, dict[int, dict[int, Any]]] = {}
        self._selections: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}
        self._labelled_by_filter: dict[str, dict[int, Any] | None] = {}
        self._labels: LabelIndex | None = None  # kept across writes: events are only added
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
            self._forget_selections()  # a write may add or move a row
        answer = super().handle(method, path, query, headers, body)
        self.bytes_out += len(answer[2])
        return answer

    def forget_index(self) -> None:
        """After a command, which may change any row."""
        self._forget_selections()
        self._labels = None

    def _forget_selections(self) -> None:
        """After a write through the API, which adds agenda events but changes none."""
        self._owned.clear()
        self._selections.clear()
        self._labelled_by_filter.clear()

    def _create_event(self, socid: int | None, type_code: str, **kwargs: Any) -> int:
        was_current = self._labels is not None and self._labels.size == len(self.events)
        new_id = super()._create_event(socid, type_code, **kwargs)
        if self._labels is not None:
            if was_current and self._labels.size + 1 == len(self.events):
                self._labels.add(self.events[new_id])
            else:  # an id given again replaced a row
                self._labels = None
        return new_id

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
        """Events a `(t.label:like:'…')` term, ANDed with the rest, can match, in table order."""
        text = req.query.get("sqlfilters") or ""
        if text not in self._labelled_by_filter:  # the pages of one list ask alike
            self._labelled_by_filter[text] = self._label_candidates(text)
        return self._labelled_by_filter[text]

    def _label_candidates(self, text: str) -> dict[int, Any] | None:
        term = _LABEL_LIKE.search(text)
        if term is None or _OR.search(text):
            return None
        if self._labels is None or self._labels.size != len(self.events):
            self._labels = LabelIndex(self.events.values())
        ids = self._labels.candidates(term[1].partition("%")[0])
        return None if ids is None else {i: self.events[i] for i in ids}

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


class LabelIndex:
    """Agenda events by label, as an index on `label` serves `LIKE 'start%'`.

    ASCII labels are kept lowercased in one sorted list, where bisection finds
    a start, `_` (any one character) included; for those, case-insensitive
    matching is lowercasing. A label outside ASCII, which Python's
    case-insensitive matching can fold in other ways (`K` matches KELVIN SIGN),
    is always a candidate. It only ever grows, as the events table does.
    """

    def __init__(self, events: Iterable[EventRow] = ()) -> None:
        self._ids: list[int] = []  # by position in the table
        self._other: list[int] = []  # positions of the labels outside ASCII
        self._sorted: list[tuple[str, int]] = []  # (lowercased label, position)
        for event in events:
            self._note(event)
        self._sorted.sort()

    @property
    def size(self) -> int:
        return len(self._ids)

    def add(self, event: EventRow) -> None:
        if event.label.isascii():
            insort(self._sorted, (event.label.lower(), len(self._ids)))
        else:
            self._other.append(len(self._ids))
        self._ids.append(event.id)

    def candidates(self, start: str) -> list[int] | None:
        """Ids of the events whose label may begin as `start` does, in table order.

        None when `start` is outside ASCII: the caller then scans the table.
        """
        if not start.isascii():
            return None
        found = list(self._other)
        self._walk("", start.lower(), 0, len(self._sorted), found)
        return [self._ids[n] for n in sorted(found)]

    def _note(self, event: EventRow) -> None:
        if event.label.isascii():
            self._sorted.append((event.label.lower(), len(self._ids)))
        else:
            self._other.append(len(self._ids))
        self._ids.append(event.id)

    def _walk(self, done: str, rest: str, lo: int, hi: int, found: list[int]) -> None:
        """Add the labels in `_sorted[lo:hi]` (all beginning with `done`) that begin like `rest`."""
        literal, wildcard, after = rest.partition("_")
        begun = done + literal
        lo = bisect_left(self._sorted, (begun,), lo, hi)
        hi = bisect_left(self._sorted, (begun + _ABOVE_ALL,), lo, hi)
        if not wildcard:
            found.extend(position for _label, position in self._sorted[lo:hi])
            return
        at = len(begun)
        while lo < hi:  # one run of labels per character in the wildcard's place
            label = self._sorted[lo][0]
            if len(label) == at:  # ends where the wildcard needs a character
                lo += 1
                continue
            end = bisect_left(self._sorted, (label[: at + 1] + _ABOVE_ALL,), lo, hi)
            self._walk(label[: at + 1], after, lo, end, found)
            lo = end


_ABOVE_ALL = chr(0x10FFFF)  # sorts after every character of an ASCII label
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
