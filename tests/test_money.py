"""Money through the fakes: what a partner, a customer and the accountant see.

The fake Dolibarr answers invoices as the recorded 23.0 and 22.0 servers do
(`type`, `statut`, `paye`, `close_code`, `totalpaid`, `fk_facture_source`,
`multicurrency_*`, `(DEPOSIT)` lines; QUIRKS.md, "Invoices: the paid signal"),
and `GET /setup/company` names the company currency. Each test reads what
lands in Dolibarr (the partner's notes, the tags) and what the audit says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from syncd.audit import case_text
from syncd.model import CaseReport
from tests.harness import World


def partner(world: World, rate: str | None = "15", **more: Any) -> int:
    options = {"commission_rate": rate} if rate is not None else {}
    return world.dolibarr.add_thirdparty(
        "Quartz Partners",
        email="hello@quartz.example",
        tags=("Partner-Active",),
        array_options=options | more,
    )


def customer(world: World, partner_id: int | None, tags: tuple[str, ...] = ()) -> int:
    options = {"referred_by": partner_id} if partner_id is not None else {}
    return world.dolibarr.add_thirdparty(
        "Helix Ltd", email="it@helix.example", tags=tags, array_options=options or None
    )


def notes(world: World, socid: int) -> str:
    return str(world.dolibarr.thirdparties[socid].fields.get("note_private") or "")


def report(world: World, socid: int) -> CaseReport:
    world.advance(minutes=10)
    found = {r.case_id: r for r in world.cycle().plan.reports}
    return found[socid]


def skipped(found: CaseReport) -> Mapping[str, str]:
    return dict(found.skipped)


def commission_lines(world: World, socid: int) -> list[str]:
    return [line for line in notes(world, socid).splitlines() if "partner_commission_note" in line]


# ---------------------------------------------------------------------- invoice types


def test_a_paid_standard_invoice_earns_commission_at_the_partners_percentage(
    world: World,
) -> None:
    p = partner(world, "15")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    report(world, c)
    (line,) = commission_lines(world, p)
    assert "Commission on invoice FA2612-0003 (Helix Ltd)" in line
    assert line.endswith("1000.00 EUR excl. tax × rate 15 % = 150.00 EUR")


def test_a_credit_note_alone_never_makes_a_paying_customer(world: World) -> None:
    p = partner(world)
    c = customer(world, p, tags=("Trial", "ICP-fit"))
    credit = world.dolibarr.add_invoice(c, "AV2612-0001", "1000.00", type=2)
    world.dolibarr.credit_available(credit)  # statut 2, paye "1": settled
    found = report(world, c)
    assert found.step == "welcome_call"
    assert world.dolibarr.members[world.dolibarr.category_id("Customer-Active")] == set()
    assert skipped(found)["partner_commission_note"] == "no paid invoice"
    assert commission_lines(world, p) == []


def test_a_paid_credit_note_reverses_the_commission_keyed_on_the_credit_note(
    world: World,
) -> None:
    p = partner(world, "15")
    c = customer(world, p)
    invoice = world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    report(world, c)
    credit = world.dolibarr.add_invoice(c, "AV2612-0001", "1000.00", type=2, source_id=invoice)
    unsettled = report(world, c)
    assert not any(":credit:" in a.key for a in unsettled.actions)  # validated, not yet paid
    world.dolibarr.credit_available(credit)
    found = report(world, c)
    keys = {a.key for a in found.actions}
    assert f"partner_commission_note:{p}:credit:{credit}:note" in keys
    first, reversal = commission_lines(world, p)
    assert "150.00 EUR" in first
    assert "Commission reversed by credit note AV2612-0001 on invoice FA2612-0003" in reversal
    assert reversal.endswith("-1000.00 EUR excl. tax × rate 15 % = -150.00 EUR")
    report(world, c)
    assert len(commission_lines(world, p)) == 2  # once each, also on the next cycles


def test_a_credit_note_against_an_invoice_that_earned_nothing_reverses_nothing(
    world: World,
) -> None:
    p = partner(world)
    c = customer(world, p)
    unpaid = world.dolibarr.add_invoice(c, "FA2612-0004", "1000.00")
    credit = world.dolibarr.add_invoice(c, "AV2612-0002", "1000.00", type=2, source_id=unpaid)
    world.dolibarr.credit_available(credit)
    report(world, c)
    assert commission_lines(world, p) == []


def test_a_deposit_counts_once_with_the_final_invoice_that_absorbs_it(world: World) -> None:
    p = partner(world, "10")
    c = customer(world, p)
    deposit = world.dolibarr.add_invoice(c, "AC2612-0001", "300.00", type=3, paid=True)
    found = report(world, c)
    assert (
        "deposit AC2612-0001 counts with the final invoice that absorbs it"
        in (skipped(found)["partner_commission_note"])
    )
    assert commission_lines(world, p) == []
    final = world.dolibarr.add_invoice(c, "FA2612-0005", "1000.00")
    world.dolibarr.absorb_deposit(final, deposit)  # the invoice itself is now 700 HT
    world.dolibarr.pay_invoice(final)
    report(world, c)
    (line,) = commission_lines(world, p)
    assert "FA2612-0005 (Helix Ltd), with the deposit of 300.00 EUR it absorbs" in line
    assert line.endswith("1000.00 EUR excl. tax × rate 10 % = 100.00 EUR")


def test_an_invoice_closed_as_paid_partially_earns_on_what_was_paid(world: World) -> None:
    p = partner(world, "10")
    c = customer(world, p)
    invoice = world.dolibarr.add_invoice(c, "FA2612-0004", "1000.00")  # 1200 incl. tax
    world.dolibarr.close_partially(invoice, paid_ttc=900, close_code="discount_vat")
    report(world, c)
    (line,) = commission_lines(world, p)
    assert "paid partially (discount_vat): 750.00 of 1000.00 EUR paid" in line
    assert line.endswith("750.00 EUR excl. tax × rate 10 % = 75.00 EUR")


def test_an_invoice_abandoned_or_merely_given_a_close_code_earns_nothing(world: World) -> None:
    p = partner(world)
    c = customer(world, p)
    open_one = world.dolibarr.add_invoice(c, "FA2612-0006", "1000.00")
    world.dolibarr.invoices[open_one].close_code = "discount_vat"  # PUT on an open invoice
    report(world, c)
    assert commission_lines(world, p) == []


def test_a_negative_standard_invoice_is_bad_data_on_the_case(world: World) -> None:
    p = partner(world)
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0009", "-100.00")
    other = world.dolibarr.add_thirdparty("Other", tags=("Trial",))
    found = report(world, c)
    assert found.errors == (
        "field invoice FA2612-0009 total_ht: '-100.00000000' is negative on a standard "
        "invoice (a refund is a credit note)",
    )
    assert report(world, other).actions  # other cases go on


# ---------------------------------------------------------------------- currency


def test_an_invoice_in_its_own_currency_is_noted_in_that_currency(world: World) -> None:
    p = partner(world, "10")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0007", "1000.00", "USD", paid=True, mc_tx=1.1)
    report(world, c)
    (line,) = commission_lines(world, p)
    assert line.endswith("1100.00 USD excl. tax × rate 10 % = 110.00 USD")


def test_an_invoice_without_a_currency_is_in_the_company_currency(world: World) -> None:
    world.dolibarr.conf["MAIN_MONNAIE"] = "CHF"  # what GET /setup/company answers
    p = partner(world, "10")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0008", "1000.00", "", paid=True)
    report(world, c)
    (line,) = commission_lines(world, p)
    assert line.endswith("1000.00 CHF excl. tax × rate 10 % = 100.00 CHF")


def test_no_currency_anywhere_is_said_and_nothing_is_labelled(world: World) -> None:
    world.dolibarr.fail("GET", "/setup/company", status=403, times=100)
    p = partner(world, "10")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0008", "1000.00", "", paid=True)
    found = report(world, c)
    assert skipped(found)["partner_commission_note"] == (
        "invoice FA2612-0008: no currency (the invoice names none, and the company's is unknown)"
    )
    assert commission_lines(world, p) == []


# ---------------------------------------------------------------------- the rate


def test_a_rate_outside_0_to_100_is_an_error_on_the_partner_and_visible_on_the_customer(
    world: World,
) -> None:
    p = partner(world, "150")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    report(world, c)
    world.advance(minutes=10)
    world.cycle()
    by_id = {case_id: world.report(case_id) for case_id in (p, c)}
    error = (  # a double extrafield comes back with eight decimals
        "field commission_rate: '150.00000000' is not between 0 and 100 (a percentage: 15 = 15 %)"
    )
    assert by_id[p].errors == (error,)
    why = f"commission and referral notes wait: partner {by_id[p].ref} has an error: {error}"
    assert skipped(by_id[c])["partner_commission_note"] == why
    assert skipped(by_id[c])["partner_referral_note"] == why
    assert f"  · skip partner_commission_note: {why}" in case_text(by_id[c])
    assert f"  ! error: {error}" in case_text(by_id[p])
    assert notes(world, p) == "" and notes(world, c) == ""


def test_a_rate_of_one_or_less_is_a_warning_on_the_partner(world: World) -> None:
    p = partner(world, "1")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    found = report(world, p)
    assert found.warnings == ("commission_rate 1 %; write 100 for 100 % (15 for 15 %)",)
    assert "  ! warning: commission_rate 1 %; write 100 for 100 % (15 for 15 %)" in case_text(found)
    (line,) = commission_lines(world, p)
    assert line.endswith("× rate 1 % = 10.00 EUR")


def test_one_key_switches_the_unit_for_companies_that_store_fractions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_DOLIBARR_COMMISSION_RATE_UNIT", "fraction")
    world.restart()
    p = partner(world, "0.15000000")
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    found = report(world, p)
    assert found.warnings == ()
    (line,) = commission_lines(world, p)
    assert line.endswith("× rate 15 % = 150.00 EUR")


# ---------------------------------------------------------------------- partners


@pytest.mark.parametrize("to_itself", [True, False])
def test_a_referral_to_itself_or_to_a_deleted_third_party_is_an_error_on_the_case(
    world: World, to_itself: bool
) -> None:
    c = customer(world, None, tags=("Trial",))
    gone = world.dolibarr.add_thirdparty("Gone Partners", tags=("Partner-Active",))
    world.dolibarr.delete_thirdparty(gone)
    world.dolibarr.set_fields(c, referred_by=c if to_itself else gone)
    found = report(world, c)
    why = "names this third party itself" if to_itself else "names no third party"
    assert found.errors and found.errors[0].startswith("field referred_by: ")
    assert why in found.errors[0]
    assert found.actions == ()


def test_a_paused_partner_is_left_alone_and_the_customer_side_is_still_noted(
    world: World,
) -> None:
    p = partner(world, "15", syncd_pause=1)
    c = customer(world, p)
    world.dolibarr.add_invoice(c, "FA2612-0003", "1000.00", paid=True)
    world.advance(minutes=10)
    by_id = {r.case_id: r for r in world.cycle().plan.reports}
    found = by_id[c]
    waits = f"partner {by_id[p].ref} is paused (syncd_pause is set on it)"
    assert (
        skipped(found)["partner_commission_note"] == f"commission and referral notes wait: {waits}"
    )
    (on_customer,) = [a for a in found.actions if a.rule == "partner_referral_note"]
    assert on_customer.target == f"thirdparty:{c}"
    assert f"the note on the partner waits: {waits}" in on_customer.because
    assert "Referred by partner Quartz Partners" in notes(world, c)
    assert notes(world, p) == ""
    assert not [e for e in world.dolibarr.events.values() if e.socid == p]

    world.dolibarr.set_fields(p, syncd_pause=0)  # the pause is lifted: the partner catches up
    report(world, c)
    assert "Referred customer Helix Ltd" in notes(world, p)
    assert len(commission_lines(world, p)) == 1


# ---------------------------------------------------------------------- since


def test_since_leaves_out_invoices_dated_before_it(world: World) -> None:
    day = world.now.astimezone(world.dolibarr.tz).date()
    world.config_path.write_text(
        world.config_path.read_text()
        + f"\n[rule:partner_commission_note]\nsince = {day.isoformat()}\n"
    )
    world.restart()
    p = partner(world, "10")
    c = customer(world, p)
    old = world.dolibarr.add_invoice(c, "FA2611-0001", "500.00", paid=True)
    dated = datetime.combine(day - timedelta(days=3), datetime.min.time(), world.dolibarr.tz)
    world.dolibarr.invoices[old].date = int(dated.timestamp())
    world.dolibarr.add_invoice(c, "FA2612-0002", "1000.00", paid=True)
    found = report(world, c)
    (line,) = commission_lines(world, p)
    assert "FA2612-0002" in line
    assert "FA2611-0001" not in notes(world, p)
    before = (day - timedelta(days=3)).isoformat()
    whys = [a.because for a in found.actions if a.rule == "partner_commission_note"]
    assert len(whys) == 2  # the event and the note line, each saying what was left out
    assert all(
        why.endswith(f"no note for: invoice FA2611-0001 dated {before}, before since {day}")
        for why in whys
    )
