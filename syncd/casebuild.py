"""Turn the mirror's raw Dolibarr rows into immutable `Case` snapshots.

Pure: no I/O, no clock. A third party whose fields cannot be parsed becomes a
`CaseDataError` in the result instead of a case; every other case goes on.
Cross-links between cases (a customer's referrer, a partner's referrals) are
resolved here because they need every case at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from syncd.errors import CaseDataError, shown_text
from syncd.fields import (
    FieldsReader,
    parse_amount,
    parse_day,
    parse_moment,
    parse_text,
    parse_whole,
    rate_warning,
)
from syncd.mirror import RELATED_KINDS, Mirror
from syncd.model import (
    INVOICE_KINDS,
    ONBOARDING_TAGS,
    PARTNER_TAGS,
    Case,
    Contact,
    Invoice,
    Proposal,
    Referral,
    Referrer,
)


@dataclass(frozen=True)
class Built:
    cases: list[Case]
    errors: list[tuple[Any, CaseDataError]]  # (the raw third party, or a case badly referred)


def build_cases(
    mirror: Mirror,
    field_codes: Mapping[str, str],
    tz: tzinfo,
    rate_unit: str = "percent",
    only: Collection[int] | None = None,
    customers_of: Mapping[int, Collection[int]] | None = None,
    grouped: Related | None = None,
) -> Built:
    """Every case, or the cases `only`: those are built with the cases they link to
    (the partner each names, and, from `customers_of`, the customers naming each).

    `grouped`: every case's related rows (`related_rows`), for a caller that
    builds every case a slice at a time; else each call finds its cases' rows.
    """
    money = _Money(mirror.company_currency or "", tz)
    reader = FieldsReader(field_codes, tz, rate_unit)
    if only is None:
        ids: Collection[int] = mirror.thirdparties
        related = grouped or related_rows(mirror)
    else:
        ids = {socid for socid in only if socid in mirror.thirdparties}
        related = grouped or {kind: mirror.related_of(kind, ids) for kind in RELATED_KINDS}
    cases, errors = _build(mirror, sorted(ids), related, reader, rate_unit, money)
    if only is not None:
        context = {c.fields.referred_by for c in cases if c.fields.referred_by is not None}
        for socid in ids:
            context |= set((customers_of or {}).get(socid, ()))
        context = {x for x in context - set(ids) if x in mirror.thirdparties}
        more = grouped or {kind: mirror.related_of(kind, context) for kind in RELATED_KINDS}
        extra, extra_errors = _build(mirror, sorted(context), more, reader, rate_unit, money)
        cases, errors = cases + extra, errors + extra_errors
    linked, bad_links = link_referrals(cases, errors, frozenset(mirror.thirdparties))
    if only is None:
        return Built(linked, errors + bad_links)
    return Built(
        [c for c in linked if c.id in ids],
        [(row, exc) for row, exc in errors + bad_links if row.id in ids],
    )


Related = Mapping[str, Mapping[int, list[Any]]]  # kind → case → its rows of that kind, by id


def related_rows(mirror: Mirror) -> Related:
    """Every case's contacts, invoices and proposals, grouped in one pass per kind."""
    return {kind: mirror.related_by_case(kind) for kind in RELATED_KINDS}


def _build(
    mirror: Mirror,
    ids: Iterable[int],
    related: Related,
    reader: FieldsReader,
    rate_unit: str,
    money: _Money,
) -> tuple[list[Case], list[tuple[Any, CaseDataError]]]:
    cases: list[Case] = []
    errors: list[tuple[Any, CaseDataError]] = []
    for socid in ids:
        row = mirror.thirdparties[socid]
        try:
            cases.append(_case(row, related, reader, rate_unit, mirror, money))
        except CaseDataError as exc:
            errors.append((row, exc))
    return cases, errors


def _case(
    row: Any,
    related: Related,
    reader: FieldsReader,
    rate_unit: str,
    mirror: Mirror,
    money: _Money,
) -> Case:
    def of(kind: str) -> list[Any]:
        return list(related[kind].get(row.id, ()))

    tz = money.tz
    fields = reader.read(row.id, row.array_options)
    warning = rate_warning(fields.commission_rate, rate_unit)
    return Case(
        id=row.id,
        ref=parse_text(row.id, "ref", row.ref),
        name=parse_text(row.id, "name", row.name),
        email=parse_text(row.id, "email", row.email),
        country_code=parse_text(row.id, "country_code", row.country_code),
        created_at=parse_moment(row.id, "date_creation", row.created_at, tz),
        tags=mirror.tags_of(row.id),
        fields=fields,
        contacts=tuple(_contact(row.id, c) for c in of("contacts")),
        proposals=tuple(_proposal(row.id, p) for p in of("proposals")),
        invoices=tuple(money.invoice(row.id, i) for i in of("invoices")),
        warnings=(warning,) if warning else (),
    )


def _contact(socid: int, row: Any) -> Contact:
    name = parse_text(socid, f"contact {row.id} name", row.name)
    return Contact(row.id, name, parse_text(socid, f"contact {row.id} email", row.email))


def _proposal(socid: int, row: Any) -> Proposal:
    ref = parse_text(socid, f"proposal {row.id} ref", row.ref)
    return Proposal(row.id, ref, parse_whole(socid, f"proposal {ref} statut", row.status))


# A closed invoice with one of these codes was "paid partially": the rest is
# written off (QUIRKS.md, "Correction: a short-paid invoice is NOT paye 1").
# "abandon" and "replaced" close an invoice unpaid.
PARTIAL_CLOSE_CODES = frozenset(
    {"discount_vat", "badcustomer", "bankcharge", "withholdingtax", "other"}
)
CLOSED = 2  # invoice `statut`: 0 draft, 1 validated, 2 closed, 3 abandoned


@dataclass(frozen=True)
class _Money:
    """Reads invoices: the company currency and zone are the same for every one."""

    company_currency: str
    tz: tzinfo

    def invoice(self, socid: int, row: Any) -> Invoice:
        """Its ref and amount go out in commission notes, and the ref into an action key."""
        ref = parse_text(socid, f"invoice {row.id} ref", row.ref)
        kind = INVOICE_KINDS.get(parse_whole(socid, f"invoice {ref} type", row.type), "other")
        status = parse_whole(socid, f"invoice {ref} statut", row.status)
        total, deposits, currency = self._amounts(socid, ref, row)
        if kind == "standard" and status and total < 0:
            why = "is negative on a standard invoice (a refund is a credit note)"
            raise CaseDataError(socid, f"invoice {ref} total_ht", row.total_ht, why)
        close_code = parse_text(socid, f"invoice {ref} close_code", row.close_code or "")
        is_partial = status == CLOSED and not row.is_paid and close_code in PARTIAL_CLOSE_CODES
        return Invoice(
            id=row.id,
            ref=ref,
            is_settled=status == CLOSED and (row.is_paid or is_partial),
            total_ht=total,
            currency=currency,
            kind=kind,
            paid_ht=_paid_share(socid, ref, row, total) if is_partial else None,
            close_code=close_code,
            source_id=parse_whole(socid, f"invoice {ref} fk_facture_source", row.source_id) or None,
            deposits_ht=-deposits,
            issued_on=parse_day(socid, f"invoice {ref} date", row.date, self.tz),
        )

    def _amounts(self, socid: int, ref: str, row: Any) -> tuple[Decimal, Decimal, str]:
        """Total and absorbed deposits in the invoice's currency, else in the company's.

        `total_ht` is always the company currency; an amount is never labelled
        with the other currency (invoice_type_multicurrency_usd_get.json).
        """
        code = parse_text(socid, f"invoice {ref} multicurrency_code", row.currency or "")
        if code:
            total = parse_amount(socid, f"invoice {ref} multicurrency_total_ht", row.mc_total_ht)
            return total, _sum(socid, ref, row.mc_deposits_ht), code
        total = parse_amount(socid, f"invoice {ref} total_ht", row.total_ht)
        return total, _sum(socid, ref, row.deposits_ht), self.company_currency


def _sum(socid: int, ref: str, value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return parse_amount(socid, f"invoice {ref} deposit lines", value)


def _paid_share(socid: int, ref: str, row: Any, total: Decimal) -> Decimal:
    """What came in, excl. tax: `totalpaid` is incl. tax, in the company currency, so the
    share paid (`totalpaid / total_ttc`) is applied to the total."""
    paid = parse_amount(socid, f"invoice {ref} totalpaid", row.totalpaid or 0)
    gross = parse_amount(socid, f"invoice {ref} total_ttc", row.total_ttc or 0)
    if gross <= 0:
        return Decimal(0)
    share = min(max(paid / gross, Decimal(0)), Decimal(1))
    return total * share


def link_referrals(
    cases: list[Case],
    broken: Sequence[tuple[Any, CaseDataError]] = (),
    known: frozenset[int] | None = None,
) -> tuple[list[Case], list[tuple[Any, CaseDataError]]]:
    """Give each referred customer its `referrer`, and each partner its `referrals`.

    A partner whose own data is in error (`broken`) is still named, with its
    error, so the customer's notes say why they wait. A referral to the case
    itself, or to an id that is no third party (`known`: every id Dolibarr
    has), is an error on the referring case.
    """
    bad: list[tuple[Any, CaseDataError]] = []
    kept: list[Case] = []
    for case in cases:
        problem = _bad_referral(case, known)
        if problem:
            bad.append((case, problem))
        else:
            kept.append(case)
    by_id = {case.id: case for case in kept}
    errors = {row.id: (row, exc) for row, exc in [*broken, *bad]}
    referrals: dict[int, list[Referral]] = {}
    for case in kept:
        partner_id = case.fields.referred_by
        if partner_id is not None and partner_id in by_id:
            referrals.setdefault(partner_id, []).append(_referral(case))
    linked = [
        _linked(case, _referrer(case.fields.referred_by, by_id, errors), referrals) for case in kept
    ]
    return linked, bad


def _linked(case: Case, referrer: Referrer | None, referrals: Mapping[int, list[Referral]]) -> Case:
    """The case with its referrer and referrals; itself when they are already its own
    (most cases have neither)."""
    mine = tuple(referrals.get(case.id, ()))
    if referrer == case.referrer and mine == case.referrals:
        return case
    return replace(case, referrer=referrer, referrals=mine)


def _referral(case: Case) -> Referral:
    is_partner = bool(case.tags & PARTNER_TAGS) and not case.tags & ONBOARDING_TAGS
    return Referral(case.id, case.ref, case.name, is_partner)


def _bad_referral(case: Case, known: frozenset[int] | None) -> CaseDataError | None:
    partner_id = case.fields.referred_by
    if partner_id is None:
        return None
    if partner_id == case.id:
        return CaseDataError(case.id, "referred_by", partner_id, "names this third party itself")
    if known is not None and partner_id not in known:
        why = "names no third party (deleted in Dolibarr?)"
        return CaseDataError(case.id, "referred_by", partner_id, why)
    return None


def _referrer(
    partner_id: int | None,
    by_id: Mapping[int, Case],
    errors: Mapping[int, tuple[Any, CaseDataError]],
) -> Referrer | None:
    if partner_id is None:
        return None
    partner = by_id.get(partner_id)
    if partner is not None:
        fields = partner.fields
        return Referrer(
            partner.id, partner.ref, partner.name, fields.commission_rate, fields.is_paused
        )
    if partner_id in errors:
        row, exc = errors[partner_id]
        return Referrer(
            partner_id, shown_text(str(row.ref)), shown_text(str(row.name)), error=str(exc)
        )
    return None
