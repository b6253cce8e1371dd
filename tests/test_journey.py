"""Whole journeys over simulated days, through every fake: each effect exactly once.

A customer goes from trial to handed-off customer, a partner from prospect to
active partner with a referred customer whose invoice is paid; syncd runs a
cycle every six hours for thirty days. The fakes count every email, message,
note and event; nothing may be missing and nothing may come twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from syncd.store import Status
from tests.harness import World

SALES, SUCCESS = "!sales:test", "!success:test"


def today(world: World) -> date:
    return world.now.astimezone(world.dolibarr.tz).date()


def run_days(world: World, days: int, per_day: int = 4) -> None:
    for _ in range(days * per_day):
        world.advance(hours=24 / per_day)
        world.cycle()


def test_customer_journey_sends_everything_exactly_once(world: World) -> None:
    d = world.dolibarr
    aster = d.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": today(world)},
        created_at=world.now.timestamp(),
    )
    world.cycle()
    run_days(world, 2)  # day 2: still unqualified → reminder
    d.tag(aster, "ICP-fit")  # a person qualifies the trial
    run_days(world, 2)  # welcome call offered
    d.set_fields(aster, onboarding_call_date=today(world) + timedelta(days=2))
    run_days(world, 4)  # the call happens on day 6; follow-up; day-7 check-in
    d.set_fields(aster, logins_count=5, frameworks_mapped=1)
    run_days(world, 3)  # day 11: conversion task
    d.add_invoice(aster, "FA2611-0001", "1200.00", paid=True)
    run_days(world, 19)

    # offer, follow-up, support channel invitation at hand-off
    assert len(world.freescout.messages_to("jane@aster.example")) == 3
    assert len(world.mautic.sent(to="jane@aster.example")) == 1  # the day-7 check-in
    sales = world.matrix.messages(SALES)
    assert len(sales) == len(set(sales))
    assert any("Aster Labs" in m for m in world.matrix.messages(SUCCESS))  # handoff
    assert d.members[d.category_id("Customer-Active")] == {aster}
    keys = Counter(world.syncd_events())
    assert keys and max(keys.values()) == 1
    assert set(world.rt.store.counts()) == {"done"}
    rules = {row.rule for row in world.rt.store.with_status(Status.DONE)}
    assert {
        "signup_notify",
        "mautic_contact_link",
        "qualification_reminder",
        "welcome_call_offer",
        "follow_up_message",
        "check_in_email",
        "conversion_proposal",
        "subscription_activate",
        "handoff_success",
        "step_writeback",
    } <= rules


def test_running_the_same_cycle_twice_sends_nothing_new(world: World) -> None:
    world.dolibarr.add_thirdparty(
        "Birch Data",
        email="b@birch.example",
        tags=("Trial", "ICP-fit"),
        array_options={"signup_date": today(world) - timedelta(days=8)},
    )
    first = world.cycle()
    assert first.stats.done > 0
    before = (
        world.freescout.messages_to("b@birch.example"),
        world.matrix.messages(SALES),
        world.mautic.sent(),
        world.syncd_events(),
    )
    second = world.cycle()
    assert second.enqueued == 0 and second.stats.done == 0
    after = (
        world.freescout.messages_to("b@birch.example"),
        world.matrix.messages(SALES),
        world.mautic.sent(),
        world.syncd_events(),
    )
    assert after == before


def test_syncds_own_writes_trigger_nothing(world: World) -> None:
    world.dolibarr.add_thirdparty(
        "Cobalt",
        email="c@cobalt.example",
        tags=("Trial",),
        array_options={"signup_date": today(world)},
    )
    world.cycle()  # writes onboarding_step and mautic_contact_id back to Dolibarr
    world.advance(minutes=1)
    again = world.cycle()  # re-reads the third party those writes touched
    assert again.enqueued == 0


def test_partner_journey_and_one_commission_note_per_paid_invoice(world: World) -> None:
    d = world.dolibarr
    partner = d.add_thirdparty(
        "Quartz Partners",
        email="hello@quartz.example",
        country_code="FR",
        tags=("Partner-Prospect",),
        array_options={"commission_rate": "15"},
    )
    run_days(world, 6)  # undecided after 5 days → reminder
    d.untag(partner, "Partner-Prospect")
    d.tag(partner, "Partner-Qualified")
    run_days(world, 1)  # discovery call offered
    d.set_fields(partner, discovery_call_date=today(world) + timedelta(days=1))
    run_days(world, 2)  # call passed → partner welcome email
    d.set_fields(partner, briefing_date=today(world) + timedelta(days=1), directory_consent=1)
    run_days(world, 2)
    d.set_fields(partner, agreement_signed_date=today(world))
    customer = d.add_thirdparty(
        "Helix Ltd",
        email="it@helix.example",
        tags=("Trial", "ICP-fit"),
        array_options={"referred_by": partner, "signup_date": today(world)},
    )
    invoice = d.add_invoice(customer, "FA2611-0042", "1200.00", paid=True)
    run_days(world, 3)
    d.update_thirdparty(customer, town="Madrid")  # the customer is saved again …
    d.invoices[invoice].tms += 60  # … and so is the paid invoice
    run_days(world, 10)

    assert len(world.mautic.sent(to="hello@quartz.example")) == 1
    assert len(world.freescout.messages_to("hello@quartz.example")) == 1
    assert d.members[d.category_id("Partner-Active")] == {partner}
    notes = d.thirdparties[partner].fields.get("note_private", "")
    assert notes.count("FA2611-0042") == 1 and "180.00" in notes
    commission_events = [e for e in world.syncd_events() if "partner_commission_note" in e]
    assert len(commission_events) == 2  # the event itself and nothing more per invoice
    assert set(world.rt.store.counts()) <= {"done"}
