"""Builders of realistic test snapshots, shared by every test package.

`make_case` builds a `model.Case` in one call: case-level attributes by name,
every other keyword straight into its `model.Fields`::

    make_case()                                        # a trial signed up on SIGNUP_DATE
    make_case(tags=("trial", "icp_fit"), onboarding_call_date=date(2026, 11, 25))
    make_case(tags=("partner_qualified",), discovery_call_date=date(2026, 11, 20))
    make_case(invoices=(paid_invoice(),), logins_count=5)

Tests should pair it with `NOW` (an aware time in the Dolibarr server's zone,
`PARIS`), so that "day N since signup" reads the same in every test.
No I/O, no clock: everything here is fixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from syncd.model import Case, Contact, Fields, Invoice, Proposal, Referral, Referrer

PARIS = ZoneInfo("Europe/Paris")  # the zone of the recorded Dolibarr fixtures
SIGNUP_DATE = date(2026, 11, 12)
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=PARIS)  # day 11 since SIGNUP_DATE


def make_case(
    id: int = 1,
    tags: Iterable[str] = ("trial",),
    signup_date: date | None = SIGNUP_DATE,
    *,
    ref: str | None = None,
    name: str | None = None,
    email: str | None = None,
    created_at: datetime | None = None,
    country_code: str = "FR",
    contacts: Iterable[Contact] = (),
    proposals: Iterable[Proposal] = (),
    invoices: Iterable[Invoice] = (),
    referrals: Iterable[Referral] = (),
    referrer: Referrer | None = None,
    step: str = "",
    evidence: Iterable[str] = (),
    **field_overrides: Any,
) -> Case:
    """A case with sensible defaults; unknown keywords are `Fields` attributes.

    `signup_date=None` leaves the field unset, so `Case.signup_date` falls back
    to `created_at` (by default 09:00 in Paris on SIGNUP_DATE).
    """
    fields = Fields(signup_date=signup_date, **field_overrides)
    created = created_at or datetime.combine(signup_date or SIGNUP_DATE, time(9), PARIS)
    return Case(
        id=id,
        ref=ref if ref is not None else f"CU2611-{id:04d}",
        name=name if name is not None else f"Company {id}",
        email=email if email is not None else f"contact{id}@example.com",
        created_at=created,
        country_code=country_code,
        tags=frozenset(tags),
        fields=fields,
        contacts=tuple(contacts),
        proposals=tuple(proposals),
        invoices=tuple(invoices),
        referrals=tuple(referrals),
        referrer=referrer,
        step=step,
        evidence=tuple(evidence),
    )


def paid_invoice(
    ref: str = "FA2611-0001", total_ht: str = "490.00", id: int = 1, **more: Any
) -> Invoice:
    """A standard invoice closed as paid in full; `more` sets any other `Invoice` field."""
    return Invoice(
        id=id, ref=ref, is_settled=True, total_ht=Decimal(total_ht), currency="EUR", **more
    )


def unpaid_invoice(ref: str = "FA2611-0002", total_ht: str = "490.00", id: int = 2) -> Invoice:
    return Invoice(id=id, ref=ref, is_settled=False, total_ht=Decimal(total_ht), currency="EUR")


def proposal(ref: str = "PR2611-0001", id: int = 1, status: int = 1) -> Proposal:
    return Proposal(id=id, ref=ref, status=status)


def referral(id: int = 20, ref: str = "CU2611-0020", name: str = "Iris Media") -> Referral:
    return Referral(id=id, ref=ref, name=name)
