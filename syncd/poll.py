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
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from loguru import logger

from syncd.errors import ConfigError, SyncdError

# The empty-storage guard: a tag that had at least this many members and now
# has none is far more likely a renamed category or a permission change than
# a real mass untagging, so the cycle stops instead of acting on it.
GUARD_MIN_MEMBERS = 3


@dataclass(frozen=True)
class PartyRow:
    """A third party as the mirror keeps it: raw extrafields and raw dates, read by casebuild."""

    id: int
    ref: str
    name: str
    email: str
    country_code: str
    created_at: Any  # `date_creation` as Dolibarr sent it (an epoch, int or string)
    modified_at: Any
    array_options: Mapping[str, Any]


@dataclass(frozen=True)
class ContactRow:
    id: int
    socid: int
    name: str
    email: str


@dataclass(frozen=True)
class ProposalRow:
    id: int
    socid: int
    ref: str
    status: Any  # `statut` as Dolibarr sent it; casebuild reads it


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    socid: int
    ref: str
    is_paid: bool
    total_ht: str
    currency: str


RelatedRow = ContactRow | ProposalRow | InvoiceRow
ROW_TYPES: dict[str, type[Any]] = {
    "thirdparties": PartyRow,
    "contacts": ContactRow,
    "proposals": ProposalRow,
    "invoices": InvoiceRow,
}


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


RELATED_KINDS = ("contacts", "proposals", "invoices")


class TagGuardError(SyncdError):
    """A watched tag suddenly lost every member; the cycle stops rather than act on it."""


@dataclass
class Mirror:
    """The last known raw state of every case, and the cursors that keep it fresh."""

    thirdparties: dict[int, PartyRow] = field(default_factory=dict)
    related: dict[str, dict[int, Any]] = field(
        default_factory=lambda: {kind: {} for kind in RELATED_KINDS}
    )
    members: dict[str, set[int]] = field(default_factory=dict)
    category_ids: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, datetime] = field(default_factory=dict)
    polls: int = 0

    def tags_of(self, socid: int) -> frozenset[str]:
        return frozenset(tag for tag, ids in self.members.items() if socid in ids)

    def related_by_case(self, kind: str) -> dict[int, list[Any]]:
        """Rows of one kind grouped by third party, by id: one pass for all cases."""
        grouped: dict[int, list[Any]] = {}
        for row in sorted(self.related[kind].values(), key=lambda row: int(row.id)):
            grouped.setdefault(row.socid, []).append(row)
        return grouped

    def forget(self, socid: int) -> None:
        self.thirdparties.pop(socid, None)
        for rows in self.related.values():
            for row_id in [i for i, row in rows.items() if row.socid == socid]:
                del rows[row_id]
        for ids in self.members.values():
            ids.discard(socid)


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
