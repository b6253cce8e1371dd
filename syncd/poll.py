"""Incremental reading of Dolibarr into a mirror of every case's raw data.

The core sees Dolibarr only through the small `Reader` protocol below; the
connector satisfies it. One `poll` costs, when nothing changed, one request per
object type (third parties, contacts, proposals, invoices) plus one per watched
tag: tagging does not touch the third party, so each tag's members are diffed
against the mirror (QUIRKS.md, "Change detection"). Deletions leave no trace
in the lists, so a periodic id sweep drops them. This module decides nothing
about steps or rules and never writes to Dolibarr.

Cursors are bookmarks in Dolibarr's own clock: the greatest modification time
the server has returned, never syncd's clock. Dolibarr's `tms` is its
database's time, which can run an hour from PHP's and from ours (QUIRKS.md,
"Time"); a cursor from our clock would then skip real changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from loguru import logger

from syncd.errors import ConfigError, SyncdError
from syncd.mirror import (
    RELATED_KINDS,
    ROW_TYPES,
    Mirror,
    compact,
)

# The empty-storage guard: a tag that had at least this many members and now
# has none is far more likely a renamed category or a permission change than
# a real mass untagging, so the cycle stops instead of acting on it.
GUARD_MIN_MEMBERS = 3
T = TypeVar("T")


def _copy(kind: str, row: Any) -> Any:
    """The reader's record as a mirror row: same attribute names, our own type."""
    cls = ROW_TYPES[kind]
    return cls(**compact({f.name: getattr(row, f.name) for f in fields(cls)}))


class Reader(Protocol):
    def iter_thirdparties(self, modified_since: datetime | None = None) -> Iterable[Any]: ...
    def iter_thirdparty_ids(self) -> Iterable[int]: ...
    def categories(self) -> Iterable[Any]: ...
    def category_member_ids(self, category_id: int) -> set[int]: ...
    def iter_contacts(self, modified_since: datetime | None = None) -> Iterable[Any]: ...
    def iter_proposals(self, modified_since: datetime | None = None) -> Iterable[Any]: ...
    def iter_invoices(self, modified_since: datetime | None = None) -> Iterable[Any]: ...
    def setup_constants(self, prefix: str = "SYNCD_") -> dict[str, str]: ...
    def server_clock(self) -> datetime | None: ...
    def company_currency(self) -> str | None: ...


class TagGuardError(SyncdError):
    """A watched tag suddenly lost every member; the cycle stops rather than act on it."""


@dataclass(frozen=True)
class PollSettings:
    tag_labels: Mapping[str, str]  # logical tag -> Dolibarr category label
    overlap: timedelta = timedelta(minutes=5)
    sweep_every: int = 60


@dataclass(frozen=True)
class PollResult:
    changed: frozenset[int]
    deleted: frozenset[int]
    missing_tags: tuple[str, ...] = ()


Progress = Callable[[str, int], None]

# A modification time further ahead of syncd's clock than any time zone or
# clock mismatch explains is bad data: it does not move a cursor, or every
# change until that day would be skipped.
FUTURE_LIMIT = timedelta(days=1)


def poll(
    reader: Reader,
    mirror: Mirror,
    settings: PollSettings,
    now: datetime,
    progress: Progress | None = None,
    monotonic: Callable[[], float] | None = None,
) -> PollResult:
    """Bring the mirror up to date; return the ids of the cases that changed.

    Each object type is read from its bookmark minus the overlap window (rows
    sharing the bookmark's second, and rows committed a little late, are read
    again rather than missed), and its bookmark then moves to the greatest
    modification time the server returned (`Bookmarks`). `monotonic` measures
    the time between reads; without it, `now` of each poll does (tests).
    """
    missing = _ensure_categories(reader, mirror, settings.tag_labels, _sweep_due(mirror, settings))
    if mirror.company_currency is None or _sweep_due(mirror, settings):
        # Invoices with no currency of their own are in the company's (QUIRKS.md).
        mirror.company_currency = reader.company_currency() or ""
    clock = monotonic or (lambda: now.timestamp())
    marks = Bookmarks(mirror, now + FUTURE_LIMIT, clock)
    changed = _poll_thirdparties(reader, mirror, settings, marks, progress)
    for kind in RELATED_KINDS:
        changed |= _poll_related(reader, mirror, kind, settings, marks)
    changed |= _poll_members(reader, mirror)
    deleted = _sweep(reader, mirror, settings)
    marks.warn_future()
    mirror.polls += 1
    return PollResult(frozenset(changed - deleted), frozenset(deleted), missing)


class Bookmarks:
    """Where each object type's next read starts, in Dolibarr's clock.

    `mirror.server_mark` is a time Dolibarr's clock had certainly reached (the
    greatest modification time it returned) with our monotonic reading then;
    from it, `server_time(at)` is a time its clock had reached at any other
    reading, as both clocks run at the same rate whatever their offset. A read
    of one object type then starts from the server time at which the previous
    read of that type began, minus the overlap: every change made since has a
    later `tms`, so none is missed, and an idle read costs only the rows of
    the overlap window (late commits, and rows sharing a second, are read
    twice rather than missed). Times past `ceiling` (syncd's clock plus
    `FUTURE_LIMIT`) are bad data and move nothing.
    """

    def __init__(self, mirror: Mirror, ceiling: datetime, monotonic: Callable[[], float]) -> None:
        self.mirror = mirror
        self.ceiling = ceiling
        self.monotonic = monotonic
        self.future: set[tuple[str, int]] = set()
        if mirror.server_mark is None and mirror.cursors:
            # A new process: the stored cursors are server times already passed.
            mirror.server_mark = (max(mirror.cursors.values()), monotonic())

    def since(self, kind: str, overlap: timedelta) -> datetime | None:
        cursor = self.mirror.cursors.get(kind)
        return None if cursor is None else cursor - overlap

    def server_time(self, at: float) -> datetime | None:
        mark = self.mirror.server_mark
        return None if mark is None else mark[0] + timedelta(seconds=at - mark[1])

    def read(self, kind: str, records: Iterable[T]) -> Iterator[T]:
        """`records` as they come; once they are all read, `kind`'s cursor moves."""
        started = self.monotonic()
        latest: datetime | None = None
        for record in records:
            moment = _moment(getattr(record, "modified_at", None))
            if moment is not None and moment > self.ceiling:
                self.future.add((kind, int(getattr(record, "id", 0))))
            elif moment is not None and (latest is None or moment > latest):
                latest = moment
            yield record
        ended = self.monotonic()
        known = self.server_time(ended)
        if latest is not None and (known is None or latest > known):
            self.mirror.server_mark = (latest, ended)
        start = self.server_time(started)
        if start is not None:
            previous = self.mirror.cursors.get(kind)
            self.mirror.cursors[kind] = start if previous is None else max(previous, start)

    def warn_future(self) -> None:
        """Name rows dated implausibly far ahead, once per change of that set."""
        if self.future and self.future != self.mirror.future_rows:
            kind, row_id = min(self.future)
            logger.warning(
                "{} Dolibarr row(s) carry a modification time more than a day ahead of "
                "syncd's clock (first: {} {}); they do not move the read cursor: "
                "check Dolibarr's clock, or those rows",
                len(self.future),
                kind,
                row_id,
            )
        self.mirror.future_rows = set(self.future)


def _moment(value: Any) -> datetime | None:
    """A `date_modification` epoch (int or digit string) as a time, or None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if not text.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _ensure_categories(
    reader: Reader, mirror: Mirror, labels: Mapping[str, str], recheck: bool
) -> tuple[str, ...]:
    """Find each tag's category by label, ignoring case as people do.

    Two categories whose labels differ only by case ("trial" and "Trial") are
    a `ConfigError` naming both ids: picking one would tag and read the
    wrong one without a word. Nothing is kept until every tag is resolved;
    with each id sweep the labels are checked again, as such a twin is
    usually created long after the first.
    """
    if mirror.category_ids and not recheck:
        return ()
    by_label: dict[str, list[tuple[int, str]]] = {}
    for category in reader.categories():
        label = str(category.label)
        by_label.setdefault(label.casefold(), []).append((int(category.id), label))
    found: dict[str, int] = {}
    problems: list[str] = []
    missing = []
    for tag, label in labels.items():
        matches = by_label.get(label.casefold(), [])
        if len(matches) == 1:
            found[tag] = matches[0][0]
        elif matches:
            problems.append(_ambiguous(tag, label, matches))
        else:
            missing.append(tag)
    if problems:
        raise ConfigError(problems)
    if mirror.category_ids:
        return ()  # a recheck: the tags keep their categories (and members) until restart
    for tag in missing:
        logger.warning("tag {} ({!r}) is not a Dolibarr category; nobody has it", tag, labels[tag])
    mirror.category_ids.update(found)
    return tuple(missing)


def _ambiguous(tag: str, label: str, matches: list[tuple[int, str]]) -> str:
    named = " and ".join(f"{shown!r} (id {cid})" for cid, shown in sorted(matches))
    return (
        f"tag {tag} ({label!r}) matches several Dolibarr categories: {named}; "
        "rename or delete all but one"
    )


def _poll_thirdparties(
    reader: Reader,
    mirror: Mirror,
    settings: PollSettings,
    marks: Bookmarks,
    progress: Progress | None,
) -> set[int]:
    changed: set[int] = set()
    since = marks.since("thirdparties", settings.overlap)
    records = marks.read("thirdparties", reader.iter_thirdparties(since))
    for seen, record in enumerate(records, start=1):
        row = _copy("thirdparties", record)
        if mirror.thirdparties.get(row.id) != row:
            changed.add(row.id)
            mirror.put("thirdparties", row)
        if progress and seen % 100 == 0:
            progress("third parties read", seen)
    return changed


def _poll_related(
    reader: Reader, mirror: Mirror, kind: str, settings: PollSettings, marks: Bookmarks
) -> set[int]:
    iterate = {
        "contacts": reader.iter_contacts,
        "proposals": reader.iter_proposals,
        "invoices": reader.iter_invoices,
    }[kind]
    rows = mirror.related[kind]
    changed: set[int] = set()
    since = marks.since(kind, settings.overlap)
    for record in marks.read(kind, iterate(since)):
        row = _copy(kind, record)
        previous = rows.get(row.id)
        if previous is not None and previous.socid != row.socid:
            changed.add(previous.socid)
        if previous != row:
            changed.add(row.socid)
            mirror.put(kind, row)
    return changed


def _poll_members(reader: Reader, mirror: Mirror) -> set[int]:
    changed: set[int] = set()
    for tag, category_id in mirror.category_ids.items():
        members = reader.category_member_ids(category_id)
        before = mirror.members.get(tag, set())
        if not members and len(before) >= GUARD_MIN_MEMBERS:
            raise TagGuardError(
                f"tag {tag} (category {category_id}) suddenly has no members; "
                f"it had {len(before)}. Check the category in Dolibarr; nothing was done."
            )
        changed |= members ^ before
        mirror.set_members(tag, set(members))
    return changed


def _sweep_due(mirror: Mirror, settings: PollSettings) -> bool:
    return mirror.polls != 0 and mirror.polls % settings.sweep_every == 0


def _sweep(reader: Reader, mirror: Mirror, settings: PollSettings) -> set[int]:
    """Drop third parties deleted in Dolibarr (thirdparty_get_404_deleted.json)."""
    if not _sweep_due(mirror, settings):
        return set()
    alive = set(reader.iter_thirdparty_ids())
    deleted = set(mirror.thirdparties) - alive
    for socid in deleted:
        logger.info("case {} was deleted in Dolibarr; dropped from the mirror", socid)
        mirror.forget(socid)
    return deleted
