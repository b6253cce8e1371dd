"""Turn the mirror's raw Dolibarr rows into immutable `Case` snapshots.

Pure: no I/O, no clock. A third party whose fields cannot be parsed becomes a
`CaseDataError` in the result instead of a case; every other case goes on.
Cross-links between cases (a customer's referrer, a partner's referrals) are
resolved here because they need every case at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

from syncd.errors import CaseDataError
from syncd.fields import parse_amount, parse_fields, parse_moment, parse_text, parse_whole
from syncd.mirror import RELATED_KINDS, Mirror
from syncd.model import Case, Contact, Invoice, Proposal, Referral, Referrer


@dataclass(frozen=True)
class Built:
    cases: list[Case]
    errors: list[tuple[Any, CaseDataError]]  # (raw third party, error)


def build_cases(mirror: Mirror, field_codes: Mapping[str, str], tz: tzinfo) -> Built:
    related = {kind: mirror.related_by_case(kind) for kind in RELATED_KINDS}
    cases: list[Case] = []
    errors: list[tuple[Any, CaseDataError]] = []
    for socid in sorted(mirror.thirdparties):
        row = mirror.thirdparties[socid]
        try:
            cases.append(_case(row, mirror, related, field_codes, tz))
        except CaseDataError as exc:
            errors.append((row, exc))
    return Built(link_referrals(cases), errors)


def _case(
    row: Any,
    mirror: Mirror,
    related: Mapping[str, Mapping[int, list[Any]]],
    field_codes: Mapping[str, str],
    tz: tzinfo,
) -> Case:
    def of(kind: str) -> list[Any]:
        return list(related[kind].get(row.id, ()))

    return Case(
        id=row.id,
        ref=parse_text(row.id, "ref", row.ref),
        name=parse_text(row.id, "name", row.name),
        email=parse_text(row.id, "email", row.email),
        country_code=parse_text(row.id, "country_code", row.country_code),
        created_at=parse_moment(row.id, "date_creation", row.created_at, tz),
        tags=mirror.tags_of(row.id),
        fields=parse_fields(row.id, row.array_options, field_codes, tz),
        contacts=tuple(_contact(row.id, c) for c in of("contacts")),
        proposals=tuple(_proposal(row.id, p) for p in of("proposals")),
        invoices=tuple(_invoice(row.id, i) for i in of("invoices")),
    )


def _contact(socid: int, row: Any) -> Contact:
    name = parse_text(socid, f"contact {row.id} name", row.name)
    return Contact(row.id, name, parse_text(socid, f"contact {row.id} email", row.email))


def _proposal(socid: int, row: Any) -> Proposal:
    ref = parse_text(socid, f"proposal {row.id} ref", row.ref)
    return Proposal(row.id, ref, parse_whole(socid, f"proposal {ref} statut", row.status))


def _invoice(socid: int, row: Any) -> Invoice:
    """Its ref and amount go out in commission notes, and the ref into an action key."""
    ref = parse_text(socid, f"invoice {row.id} ref", row.ref)
    amount = parse_amount(socid, f"invoice {ref} total_ht", row.total_ht)
    currency = parse_text(socid, f"invoice {ref} currency", row.currency)
    return Invoice(row.id, ref, row.is_paid, amount, currency)


def link_referrals(cases: list[Case]) -> list[Case]:
    """Give each referred customer its `referrer`, and each partner its `referrals`."""
    by_id = {case.id: case for case in cases}
    referrals: dict[int, list[Referral]] = {}
    for case in cases:
        partner_id = case.fields.referred_by
        if partner_id is not None and partner_id in by_id:
            referrals.setdefault(partner_id, []).append(Referral(case.id, case.ref, case.name))
    linked = []
    for case in cases:
        partner = by_id.get(case.fields.referred_by or -1)
        referrer = (
            Referrer(partner.id, partner.ref, partner.name, partner.fields.commission_rate)
            if partner is not None
            else None
        )
        linked.append(replace(case, referrer=referrer, referrals=tuple(referrals.get(case.id, ()))))
    return linked
