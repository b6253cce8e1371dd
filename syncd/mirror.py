"""The mirror: the last known raw state of every case, as plain data.

`syncd.poll` fills it from Dolibarr, `syncd.store` keeps it in SQLite,
`syncd.casebuild` reads cases out of it. It is data only: it must never read
Dolibarr, decide anything or import the modules that use it.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RELATED_KINDS = ("contacts", "proposals", "invoices")


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    socid: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class ProposalRow:
    id: int
    socid: int
    ref: str
    status: Any  # `statut` as Dolibarr sent it; casebuild reads it


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """An invoice's raw values as Dolibarr sent them; casebuild reads and judges them.

    QUIRKS.md, "Invoices: the paid signal": `type`, `statut`, `close_code`,
    `totalpaid` tell a credit note, a deposit and a short-paid invoice apart;
    `currency` is `multicurrency_code`, with `mc_total_ht` in it next to the
    company currency's `total_ht`. `deposits_ht` / `mc_deposits_ht` sum the
    `(DEPOSIT)` lines by which this invoice absorbs paid deposits.
    """

    id: int
    socid: int
    ref: str
    is_paid: bool  # `paye == "1"`
    total_ht: str
    currency: str
    type: Any = None
    status: Any = None  # `statut`
    close_code: Any = None
    source_id: Any = None  # `fk_facture_source`
    total_ttc: Any = None
    totalpaid: Any = None
    mc_total_ht: Any = None
    deposits_ht: Any = None
    mc_deposits_ht: Any = None
    date: Any = None


RelatedRow = ContactRow | ProposalRow | InvoiceRow
SHARED_TEXT = 40  # a value this short is likely repeated (a step, a date, a flag)
# Row fields whose values come from a small set (a country, a currency, a status code).
SHARED_FIELDS = frozenset({"country_code", "currency", "type", "status", "close_code"})


def compact(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values (field name → value) as the mirror keeps them: one copy of each
    extrafield name, and of each short text that many rows repeat.

    Read from JSON, every name and value is a string of its own: at 50,000
    cases, tens of megabytes of the same dozen extrafield names, `FR` and
    `EUR`. Equal strings are equal either way: this changes what is held,
    never what is read.
    """
    for name in SHARED_FIELDS & values.keys():
        values[name] = _shared(values[name])
    if "array_options" in values:
        options = values["array_options"]
        values["array_options"] = {sys.intern(k): _shared(v) for k, v in options.items()}
    return values


def _shared(value: Any) -> Any:
    if type(value) is str and len(value) <= SHARED_TEXT:
        return sys.intern(value)
    return value


ROW_TYPES: dict[str, type[Any]] = {
    "thirdparties": PartyRow,
    "contacts": ContactRow,
    "proposals": ProposalRow,
    "invoices": InvoiceRow,
}


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
    company_currency: str | None = None  # `GET /setup/company`; None until read or unreadable
    # Rows whose modification time is implausibly far ahead, as last warned about
    # (not stored: a restart warns again).
    future_rows: set[tuple[str, int]] = field(default_factory=set)
    # A time Dolibarr's clock had reached, with syncd's monotonic reading then
    # (poll.Bookmarks; not stored: a new process starts from the cursors).
    server_mark: tuple[datetime, float] | None = None
    # What changed since the mirror was last stored: `Store.save_cycle` writes only these.
    # Row ids by kind: a cold read puts every row, and a set of ints is a third of a
    # set of (kind, id) pairs.
    dirty: dict[str, set[int]] = field(default_factory=dict)
    gone: dict[str, set[int]] = field(default_factory=dict)
    dirty_tags: set[str] = field(default_factory=set)

    def put(self, kind: str, row: Any) -> None:
        """Keep `row` (a row of `kind`) as the latest known, to be stored."""
        table = self.thirdparties if kind == "thirdparties" else self.related[kind]
        table[row.id] = row
        self.dirty.setdefault(kind, set()).add(row.id)
        self.gone.get(kind, set()).discard(row.id)

    def set_members(self, tag: str, ids: set[int]) -> None:
        if self.members.get(tag) != ids:
            self.members[tag] = set(ids)
            self.dirty_tags.add(tag)

    def dirty_rows(self) -> Iterator[tuple[str, int]]:
        """(kind, id) of every row put since the mirror was stored, sorted."""
        return _sorted_pairs(self.dirty)

    def gone_rows(self) -> Iterator[tuple[str, int]]:
        """(kind, id) of every row forgotten since the mirror was stored, sorted."""
        return _sorted_pairs(self.gone)

    def stored(self) -> None:
        """Everything is in the state database now."""
        self.dirty.clear()
        self.gone.clear()
        self.dirty_tags.clear()

    def tags_of(self, socid: int) -> frozenset[str]:
        return frozenset(tag for tag, ids in self.members.items() if socid in ids)

    def related_by_case(self, kind: str) -> dict[int, list[Any]]:
        """Rows of one kind grouped by third party, by id: one pass for all cases."""
        grouped: dict[int, list[Any]] = {}
        for row in sorted(self.related[kind].values(), key=lambda row: int(row.id)):
            grouped.setdefault(row.socid, []).append(row)
        return grouped

    def related_of(self, kind: str, socids: Collection[int]) -> dict[int, list[Any]]:
        """Rows of one kind of the cases `socids`, grouped by case, by id (one pass)."""
        grouped: dict[int, list[Any]] = {}
        for row in self.related[kind].values():
            if row.socid in socids:
                grouped.setdefault(row.socid, []).append(row)
        for rows in grouped.values():
            rows.sort(key=lambda row: int(row.id))
        return grouped

    def forget(self, socid: int) -> None:
        if self.thirdparties.pop(socid, None) is not None:
            self._gone("thirdparties", socid)
        for kind, rows in self.related.items():
            for row_id in [i for i, row in rows.items() if row.socid == socid]:
                del rows[row_id]
                self._gone(kind, row_id)
        for tag, ids in self.members.items():
            if socid in ids:
                ids.discard(socid)
                self.dirty_tags.add(tag)

    def _gone(self, kind: str, row_id: int) -> None:
        self.dirty.get(kind, set()).discard(row_id)
        self.gone.setdefault(kind, set()).add(row_id)


def _sorted_pairs(ids: Mapping[str, set[int]]) -> Iterator[tuple[str, int]]:
    for kind in sorted(ids):
        for row_id in sorted(ids[kind]):
            yield kind, row_id


__all__ = [
    "RELATED_KINDS",
    "ROW_TYPES",
    "ContactRow",
    "InvoiceRow",
    "Mirror",
    "PartyRow",
    "ProposalRow",
    "RelatedRow",
    "compact",
]
