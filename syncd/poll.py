"""Incremental reading of Dolibarr into a mirror of every case's raw data.

The core sees Dolibarr only through the small `Reader` protocol below; the
connector satisfies it. One `poll` costs, when nothing changed, one request per
object type (third parties, contacts, proposals, invoices) plus one per watched
tag: tagging does not touch the third party, so each tag's members are diffed
against the mirror (QUIRKS.md, "Change detection"). Deletions leave no trace
in the lists, so a periodic id sweep drops them. This module decides nothing
about steps or rules and never writes to Dolibarr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from loguru import logger

from syncd.errors import ConfigError, SyncdError
from syncd.mirror import (
    RELATED_KINDS,
    ROW_TYPES,
    Mirror,
)

# The empty-storage guard: a tag that had at least this many members and now
# has none is far more likely a renamed category or a permission change than
# a real mass untagging, so the cycle stops instead of acting on it.
GUARD_MIN_MEMBERS = 3


def _copy(kind: str, row: Any) -> Any:
    """The reader's record as a mirror row: same attribute names, our own type."""
    cls = ROW_TYPES[kind]
    values = {f.name: getattr(row, f.name) for f in fields(cls)}
    if kind == "thirdparties":
        values["array_options"] = dict(values["array_options"])
    return cls(**values)


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


def poll(
    reader: Reader,
    mirror: Mirror,
    settings: PollSettings,
    now: datetime,
    progress: Progress | None = None,
) -> PollResult:
    """Bring the mirror up to date; return the ids of the cases that changed.

    Cursors are set to `now` (the start of this poll) and read back with an
    overlap window, so a row written while we were reading is read again next
    time rather than missed.
    """
    missing = _ensure_categories(reader, mirror, settings.tag_labels, _sweep_due(mirror, settings))
    if mirror.company_currency is None or _sweep_due(mirror, settings):
        # Invoices with no currency of their own are in the company's (QUIRKS.md).
        mirror.company_currency = reader.company_currency() or ""
    changed = _poll_thirdparties(reader, mirror, settings, progress)
    for kind in RELATED_KINDS:
        changed |= _poll_related(reader, mirror, kind, settings)
    changed |= _poll_members(reader, mirror)
    deleted = _sweep(reader, mirror, settings)
    for kind in ("thirdparties", *RELATED_KINDS):
        mirror.cursors[kind] = now
    mirror.polls += 1
    return PollResult(frozenset(changed - deleted), frozenset(deleted), missing)


def _since(mirror: Mirror, kind: str, overlap: timedelta) -> datetime | None:
    cursor = mirror.cursors.get(kind)
    return None if cursor is None else cursor - overlap


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
    reader: Reader, mirror: Mirror, settings: PollSettings, progress: Progress | None
) -> set[int]:
    changed: set[int] = set()
    since = _since(mirror, "thirdparties", settings.overlap)
    for seen, record in enumerate(reader.iter_thirdparties(since), start=1):
        row = _copy("thirdparties", record)
        if mirror.thirdparties.get(row.id) != row:
            changed.add(row.id)
        mirror.thirdparties[row.id] = row
        if progress and seen % 100 == 0:
            progress("third parties read", seen)
    return changed


def _poll_related(reader: Reader, mirror: Mirror, kind: str, settings: PollSettings) -> set[int]:
    iterate = {
        "contacts": reader.iter_contacts,
        "proposals": reader.iter_proposals,
        "invoices": reader.iter_invoices,
    }[kind]
    rows = mirror.related[kind]
    changed: set[int] = set()
    for record in iterate(_since(mirror, kind, settings.overlap)):
        row = _copy(kind, record)
        previous = rows.get(row.id)
        if previous is not None and previous.socid != row.socid:
            changed.add(previous.socid)
        if previous != row:
            changed.add(row.socid)
        rows[row.id] = row
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
        mirror.members[tag] = set(members)
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
