"""The rows the fake Dolibarr keeps, one dataclass per table, and their SQL columns.

Role: plain state for `FakeDolibarr` (llx_societe with its extrafields row, categories,
contacts, proposals, invoices, agenda events) and, per row type, the column names a
`sqlfilters` expression may name (`t.rowid`, `t.fk_soc`, …). Data only: it must never
speak HTTP, import `requests`/`responses`, sleep, or read the real clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.fakes import sqlfilters as sf

COUNTRY_IDS = {"FR": 1, "BE": 2, "IT": 3, "ES": 4, "DE": 5, "CH": 6, "GB": 7, "IE": 8, "US": 11}
TP_WRITABLE = frozenset(
    [
        "name",
        "name_alias",
        "email",
        "phone",
        "url",
        "address",
        "zip",
        "town",
        "country_code",
        "client",
        "fournisseur",
        "note_private",
        "note_public",
        "code_client",
        "tva_intra",
        "idprof1",
        "idprof2",
    ]
)


@dataclass
class ThirdPartyRow:
    id: int
    fields: dict[str, Any]
    datec: int
    tms: int
    ef_tms: int | None = None  # None: no llx_societe_extrafields row yet
    extras: dict[str, Any] = field(default_factory=dict)  # names WITHOUT `options_`
    # Body keys served as given, over the computed ones (hostile data for tests);
    # `array_options` here merges into the computed one, a value of DROP removes the key.
    raw: dict[str, Any] = field(default_factory=dict)


DROP = object()  # in ThirdPartyRow.raw: leave the key out of the body


@dataclass
class CategoryRow:
    id: int
    label: str
    type: str = "customer"
    description: str = ""
    color: str = ""
    datec: int = 0


@dataclass
class ContactRow:
    id: int
    socid: int | None
    firstname: str
    lastname: str
    email: str
    poste: str
    datec: int
    tms: int


@dataclass
class ProposalRow:
    id: int
    socid: int
    ref: str
    status: int
    total_ht: float
    datec: int
    tms: int


@dataclass
class InvoiceRow:
    id: int
    socid: int
    ref: str
    total_ht: float
    currency: str
    status: int  # 0 draft, 1 validated, 2 closed, 3 abandoned
    paye: bool
    totalpaid: float
    date: int
    datec: int
    tms: int
    payments: list[dict[str, str]] = field(default_factory=list)
    type: int = 0  # 0 standard, 1 replacement, 2 credit note, 3 deposit, 5 situation
    close_code: str | None = None  # why a closed invoice was closed short
    close_note: str | None = None
    source_id: int | None = None  # a credit note's corrected invoice (fk_facture_source)
    mc_tx: float = 1.0  # company currency → `currency` (multicurrency_tx)
    deposit_lines: list[float] = field(default_factory=list)  # absorbed deposits, HT (< 0)


@dataclass
class EventRow:
    id: int
    socid: int | None
    type_code: str
    code: str
    label: str
    note_private: str
    datep: int
    datec: int
    tms: int


def category_resolver(c: CategoryRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {"t.rowid": c.id, "t.label": c.label, "t.type": 2}
    return values.get


def contact_resolver(c: ContactRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": c.id,
        "t.tms": c.tms,
        "t.datec": c.datec,
        "t.fk_soc": c.socid,
        "t.email": c.email,
        "t.lastname": c.lastname,
        "t.firstname": c.firstname,
    }
    return values.get


def proposal_resolver(p: ProposalRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": p.id,
        "t.tms": p.tms,
        "t.datec": p.datec,
        "t.fk_soc": p.socid,
        "t.ref": p.ref,
        "t.fk_statut": p.status,
    }
    return values.get


def invoice_resolver(i: InvoiceRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": i.id,
        "t.tms": i.tms,
        "t.datec": i.datec,
        "t.datef": i.date,
        "t.fk_soc": i.socid,
        "t.ref": i.ref,
        "t.paye": int(i.paye),
        "t.type": i.type,
        "t.fk_statut": i.status,
        "t.total_ht": i.total_ht,
    }
    return values.get


def event_resolver(e: EventRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.id": e.id,
        "t.fk_soc": e.socid,
        "t.label": e.label,
        "t.code": e.code,
        "t.datep": e.datep,
        "t.tms": e.tms,
        "t.datec": e.datec,
    }
    return values.get
