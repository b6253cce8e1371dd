"""Write a commission note on the referring partner for every paid invoice.

An agenda event plus a line in the partner's note, giving invoice ref, amount
excl. tax, currency, rate and commission (total_ht × rate, rounded to cents).
The rate is the partner's `commission_rate`, else `default_rate`. Exactly one
note per invoice, ever, whatever the customer's step: the key names the
partner and the invoice, `partner_commission_note:<partner>:inv:<invoice>`,
with `:event` / `:note` for the two writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from syncd.model import (
    Action,
    Case,
    Decision,
    Invoice,
    Referrer,
    Rule,
    agenda_event,
    dolibarr_note,
    skip,
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Params:
    default_rate: Decimal = Decimal("0.10")


def decide(case: Case, now: datetime, p: Params) -> Decision:
    partner = case.referrer
    if partner is None:
        return skip("not referred by a partner")
    paid = [inv for inv in case.invoices if inv.is_paid]
    if not paid:
        return skip("no paid invoice")
    rate = partner.commission_rate if partner.commission_rate is not None else p.default_rate
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        return skip(f"commission rate {rate} of partner {partner.ref} is not between 0 and 1")
    return [action for inv in paid for action in _notes(case, partner, inv, rate)]


def commission(total_ht: Decimal, rate: Decimal) -> Decimal:
    return (total_ht * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _notes(case: Case, partner: Referrer, inv: Invoice, rate: Decimal) -> list[Action]:
    if not inv.total_ht.is_finite():
        return []
    amount = inv.total_ht.quantize(CENT, rounding=ROUND_HALF_UP)
    due = commission(inv.total_ht, rate)
    text = (
        f"Commission on invoice {inv.ref} ({case.label}): "
        f"{amount} {inv.currency} excl. tax × rate {rate} = {due} {inv.currency}"
    )
    source = "partner commission_rate" if partner.commission_rate is not None else "default rate"
    because = f"invoice {inv.ref} of customer {case.ref} is paid; {source} {rate}"
    key = f"partner_commission_note:{partner.id}:inv:{inv.id}"
    figures = {
        "invoice_ref": inv.ref,
        "amount_ht": str(amount),
        "currency": inv.currency,
        "rate": str(rate),
        "commission": str(due),
    }
    event = agenda_event(case, text, f"{key}:event", because, is_task=False, target_id=partner.id)
    note = dolibarr_note(case, text, f"{key}:note", because, target_id=partner.id)
    return [_with(event, figures), _with(note, figures)]


def _with(action: Action, figures: dict[str, str]) -> Action:
    """Add the commission figures to the payload, so the audit shows them as data."""
    return replace(action, payload={**action.payload, **figures})


RULE = Rule(name="partner_commission_note", process="any", params=Params, decide=decide)
