"""Write a commission note on the referring partner for every paid invoice.

An agenda event plus a line in the partner's note, giving invoice ref, amount
excl. tax, currency, rate and commission (amount × rate %, rounded to cents).
The rate is the partner's `commission_rate`, a percentage, else `default_rate`
(a percentage too). Exactly one note per invoice, ever, whatever the
customer's step: the key names the partner and the invoice,
`partner_commission_note:<partner>:inv:<invoice>`, with `:event` / `:note` for
the two writes.

Only a standard invoice earns commission. One closed "paid partially" earns it
on what was paid, and the note says so. A final invoice that absorbs a deposit
earns it on its own amount plus the deposit, so the deposit counts once; a
deposit invoice alone earns nothing. A paid credit note against an invoice
that earned commission reverses it: a negative note keyed on the credit note,
`partner_commission_note:<partner>:credit:<credit note>`, taking back at most
what the invoice earned on. `since` leaves out invoices dated before it (the
invoice date stands for the paid date: Dolibarr sends no closing date, see
docs/contracts/dolibarr-invoices.md).

Nothing is written on a partner whose data is in error or who is paused
(`syncd_pause`): the notes wait, and the audit says why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
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
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Params:
    default_rate: Decimal = Decimal("10")  # a percentage: 10 is 10 %
    since: str = ""  # YYYY-MM-DD: only invoices dated from this day; empty for all

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.default_rate <= HUNDRED:
            raise ValueError(f"default_rate {self.default_rate} is not between 0 and 100 (a %)")
        if self.since:
            try:
                date.fromisoformat(self.since)
            except ValueError:
                raise ValueError(f"since {self.since!r} is not a date (YYYY-MM-DD)") from None

    @property
    def since_date(self) -> date | None:
        return date.fromisoformat(self.since) if self.since else None


def decide(case: Case, now: datetime, p: Params) -> Decision:
    partner = case.referrer
    if partner is None:
        return skip("not referred by a partner")
    if partner.waits:
        return skip(f"commission and referral notes wait: {partner.waits}")
    earning, left_out = _earning(case, p.since_date)
    if not earning and not left_out:
        return skip("no paid invoice")
    rate = Rate.of(partner, p)
    actions = [a for inv in earning for a in _notes(case, partner, inv, rate)]
    actions += [a for r in _reversing(case, earning) for a in _reversal(case, partner, r, rate)]
    if not actions:
        return skip("; ".join(left_out))
    # What earns nothing is said beside what does, so the audit accounts for every invoice.
    aside = f"; no note for: {'; '.join(left_out)}" if left_out else ""
    return [replace(a, because=a.because + aside) for a in actions]


@dataclass(frozen=True)
class Rate:
    percent: Decimal
    source: str

    @classmethod
    def of(cls, partner: Referrer, p: Params) -> Rate:
        if partner.commission_rate is not None:
            return cls(partner.commission_rate, "partner commission_rate")
        return cls(p.default_rate, "default rate")

    @property
    def shown(self) -> str:
        return format(self.percent.normalize(), "f")

    def because(self) -> str:
        text = f"{self.source} {self.shown} %"
        if self.source == "default rate" and Decimal(0) < self.percent <= 1:
            text += f" ({self.shown} %; write 100 for 100 %)"
        return text


def commission(amount: Decimal, rate: Decimal) -> Decimal:
    """`amount` × `rate` %, to the cent."""
    return (amount * rate / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def _earning(case: Case, since: date | None) -> tuple[list[Invoice], list[str]]:
    """The invoices that earn commission, and why each other paid one does not."""
    earning: list[Invoice] = []
    left_out: list[str] = []
    for inv in case.invoices:
        if inv.kind == "deposit" and inv.is_settled:
            left_out.append(f"deposit {inv.ref} counts with the final invoice that absorbs it")
        if not inv.is_paid:
            continue
        reason = _left_out(inv, since)
        if reason:
            left_out.append(reason)
        else:
            earning.append(inv)
    return earning, left_out


def _left_out(inv: Invoice, since: date | None) -> str:
    if not inv.total_ht.is_finite():
        return f"invoice {inv.ref}: its amount cannot be read"
    if not inv.currency:
        return (
            f"invoice {inv.ref}: no currency (the invoice names none, and the company's is unknown)"
        )
    if since is not None and (inv.issued_on is None or inv.issued_on < since):
        dated = inv.issued_on.isoformat() if inv.issued_on else "with no date"
        return f"invoice {inv.ref} dated {dated}, before since {since.isoformat()}"
    if inv.paid_ht is not None and inv.paid_ht + inv.deposits_ht <= 0:
        return f"invoice {inv.ref} closed as paid partially ({inv.close_code}) with nothing paid"
    return ""


@dataclass(frozen=True)
class Reversal:
    credit: Invoice
    source: Invoice
    amount: Decimal  # negative; never more than the source's commissioned amount


def _reversing(case: Case, earning: list[Invoice]) -> list[Reversal]:
    """Each paid credit note against an invoice that earned commission, in id order.

    Together they reverse at most what the invoice earned on: a credit note for
    the whole of an invoice paid partially takes back the part paid, no more.
    """
    commissioned = {inv.id: inv for inv in earning}
    left = {inv.id: _base(inv)[0] for inv in earning}
    found: list[Reversal] = []
    for credit in sorted(case.invoices, key=lambda inv: inv.id):
        source = commissioned.get(credit.source_id or -1)
        if credit.kind != "credit_note" or not credit.is_settled or source is None:
            continue
        if credit.currency != source.currency or not credit.total_ht.is_finite():
            continue
        amount = max(credit.total_ht, -left[source.id])
        if amount < 0:
            left[source.id] += amount
            found.append(Reversal(credit, source, amount))
    return found


def _notes(case: Case, partner: Referrer, inv: Invoice, rate: Rate) -> list[Action]:
    base, words = _base(inv)
    due = commission(base, rate.percent)
    text = (
        f"Commission on invoice {inv.ref} ({case.label}){words}: "
        f"{_cents(base)} {inv.currency} excl. tax × rate {rate.shown} % = {due} {inv.currency}"
    )
    because = f"invoice {inv.ref} of customer {case.ref} is paid; {rate.because()}"
    key = f"partner_commission_note:{partner.id}:inv:{inv.id}"
    return _pair(case, partner, key, text, because, _figures(inv, base, rate, due))


def _base(inv: Invoice) -> tuple[Decimal, str]:
    """The amount commission is due on, and the words that explain it in the note."""
    words = ""
    base = inv.total_ht
    if inv.paid_ht is not None:
        base = inv.paid_ht
        words = (
            f", paid partially ({inv.close_code}): {_cents(inv.paid_ht)} of "
            f"{_cents(inv.total_ht)} {inv.currency} paid"
        )
    if inv.deposits_ht:
        base += inv.deposits_ht
        words += f", with the deposit of {_cents(inv.deposits_ht)} {inv.currency} it absorbs"
    return base, words


def _reversal(case: Case, partner: Referrer, r: Reversal, rate: Rate) -> list[Action]:
    credit, source = r.credit, r.source
    capped = "" if r.amount == credit.total_ht else f" (of {_cents(credit.total_ht)}, capped)"
    due = commission(r.amount, rate.percent)
    text = (
        f"Commission reversed by credit note {credit.ref} on invoice {source.ref} "
        f"({case.label}): {_cents(r.amount)} {credit.currency}{capped} excl. tax × rate "
        f"{rate.shown} % = {due} {credit.currency}"
    )
    because = (
        f"credit note {credit.ref} of customer {case.ref} is paid against invoice "
        f"{source.ref}, which earned commission; {rate.because()}"
    )
    key = f"partner_commission_note:{partner.id}:credit:{credit.id}"
    return _pair(case, partner, key, text, because, _figures(credit, r.amount, rate, due))


def _pair(
    case: Case, partner: Referrer, key: str, text: str, because: str, figures: dict[str, str]
) -> list[Action]:
    event = agenda_event(case, text, f"{key}:event", because, is_task=False, target_id=partner.id)
    note = dolibarr_note(case, text, f"{key}:note", because, target_id=partner.id)
    return [_with(event, figures), _with(note, figures)]


def _figures(inv: Invoice, base: Decimal, rate: Rate, due: Decimal) -> dict[str, str]:
    return {
        "invoice_ref": inv.ref,
        "amount_ht": str(_cents(base)),
        "currency": inv.currency,
        "rate": f"{rate.shown} %",
        "commission": str(due),
    }


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _with(action: Action, figures: dict[str, str]) -> Action:
    """Add the commission figures to the payload, so the audit shows them as data."""
    return replace(action, payload={**action.payload, **figures})


RULE = Rule(name="partner_commission_note", process="any", params=Params, decide=decide)
