"""Dolibarr REST client: the only module that speaks Dolibarr's protocol.

It turns Dolibarr's JSON (string numbers, epoch dates, `options_` keys, a 404
for an empty third-party list) into small typed records, and nothing more:
no step, tag meaning or rule is known here. See tests/fixtures/dolibarr/QUIRKS.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DolibarrSettings:
    url: str
    api_key: str = field(repr=False)
    timezone: str = "UTC"
    page_size: int = 100
    timeout: float = 30.0


@dataclass(frozen=True)
class ThirdParty:
    id: int
    ref: str
    name: str
    email: str
    country_code: str
    client: int
    created_at: int  # UNIX epoch
    modified_at: int | None  # UNIX epoch; None where Dolibarr answers ""
    array_options: Mapping[str, Any]  # keys without the `options_` prefix, raw values


@dataclass(frozen=True)
class Category:
    id: int
    label: str


@dataclass(frozen=True)
class ContactRecord:
    id: int
    socid: int
    name: str
    email: str


@dataclass(frozen=True)
class ProposalRecord:
    id: int
    socid: int
    ref: str
    status: int


@dataclass(frozen=True)
class InvoiceRecord:
    id: int
    socid: int
    ref: str
    is_paid: bool
    total_ht: str
    currency: str


class DolibarrClient:
    """Read side (and, later, write side) of Dolibarr's REST API."""

    def __init__(self, settings: DolibarrSettings) -> None:
        raise NotImplementedError

    def iter_thirdparties(self, modified_since: datetime | None = None) -> Iterator[ThirdParty]:
        raise NotImplementedError

    def iter_thirdparty_ids(self) -> Iterator[int]:
        raise NotImplementedError

    def categories(self) -> list[Category]:
        raise NotImplementedError

    def category_member_ids(self, category_id: int) -> set[int]:
        raise NotImplementedError

    def iter_contacts(self, modified_since: datetime | None = None) -> Iterator[ContactRecord]:
        raise NotImplementedError

    def iter_proposals(self, modified_since: datetime | None = None) -> Iterator[ProposalRecord]:
        raise NotImplementedError

    def iter_invoices(self, modified_since: datetime | None = None) -> Iterator[InvoiceRecord]:
        raise NotImplementedError
