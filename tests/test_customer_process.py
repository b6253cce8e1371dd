"""The customer onboarding page, point by point, through every fake.

Each test quotes `docs/processes/customer-onboarding.txt` and checks what the
fakes received: the emails, messages, notices and agenda events a customer or
the owner would see. Realistic cases, real cycles, no mocks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from loguru import logger

from syncd.cli import main
from syncd.daemon import audit_plan, load
from syncd.model import CaseReport
from syncd.store import Status
from tests.harness import World

SALES, SUCCESS = "!sales:test", "!success:test"
SUPPORT = "https://matrix.to/#/#customers:example.com"
COMMUNITY = "https://discord.example.com/invite/unicis"


def today(world: World) -> date:
    return world.now.astimezone(world.dolibarr.tz).date()


def run_days(world: World, days: int, per_day: int = 2) -> None:
    for _ in range(days * per_day):
        world.advance(hours=24 / per_day)
        world.cycle()


def report_of(world: World, case_id: int) -> CaseReport:
    return world.cycle_report(case_id)


def trial(world: World, name: str, email: str, days_ago: int, *tags: str, **fields: object) -> int:
    return world.dolibarr.add_thirdparty(
        name,
        email=email,
        tags=("Trial", *tags),
        array_options={"signup_date": today(world) - timedelta(days=days_ago), **fields},
    )


def events_of(world: World, case_id: int) -> list[str]:
    """syncd's agenda events whose key (`[syncd] rule:case:…`) names this case."""
    keys = [(label, label.split(" ")[1].split(":")) for label in world.syncd_events()]
    return [label for label, parts in keys if parts[1:2] == [str(case_id)]]


# --- Not-ICP is nurture only --------------------------------------------------------------


def test_active_not_icp_trial_on_day_11_is_nurtured_only(world: World) -> None:
    """Page: "If not [ICP], note in Dolibarr and continue nurture via Mautic only"."""
    d = world.dolibarr
    dune = trial(
        world,
        "Dune Analytics",
        "ops@dune.example",
        11,
        "Not-ICP",
        logins_count=12,
        frameworks_mapped=2,
        onboarding_call_date=today(world) - timedelta(days=1),
    )
    run_days(world, 4)  # days 11–15: conversion window, follow-up day, deadline

    assert report_of(world, dune).step == "nurture"
    assert world.freescout.messages_to("ops@dune.example") == []
    assert not any("Dune Analytics" in m for m in world.matrix.messages(SALES))
    assert not [e for e in events_of(world, dune) if "conversion_proposal" in e]
    members = world.mautic.members[1]  # the nurture segment
    assert world.mautic.contact("ops@dune.example").id in members  # type: ignore[union-attr]
    assert d.members[d.category_id("Not-ICP")] == {dune}


# --- contradictory evidence is bad data ---------------------------------------------------


def test_contradictory_tags_are_an_error_and_nothing_is_sent_for_that_case(world: World) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="ERROR", format="{message}")
    try:
        both = trial(world, "Elm Works", "it@elm.example", 3, "ICP-fit", "Not-ICP")
        trial(world, "Fir Systems", "it@fir.example", 3, "ICP-fit")
        partner = world.dolibarr.add_thirdparty(
            "Gorse Partners",
            email="hi@gorse.example",
            tags=("Partner-Qualified", "Partner-Declined"),
        )
        result = world.cycle()
    finally:
        logger.remove(sink)

    reports = {r.case_id: r for r in result.plan.reports}
    message = "tags ICP-fit and Not-ICP contradict each other: remove one"
    assert reports[both].errors == (message,) and reports[both].actions == ()
    assert reports[partner].errors == (
        "tags Partner-Qualified and Partner-Declined contradict each other: remove one",
    )
    assert any(f"case {both} skipped: {message}" in line for line in lines)
    assert any(i == both and e == message for i, _, e in world.rt.store.case_errors())
    assert world.freescout.messages_to("it@elm.example") == []
    assert world.freescout.messages_to("hi@gorse.example") == []
    assert world.mautic.contact("it@elm.example") is None
    assert events_of(world, both) == [] and events_of(world, partner) == []
    assert len(world.freescout.messages_to("it@fir.example")) == 1  # the others go on


# --- every threshold is a setting ---------------------------------------------------------


def test_a_first_day_of_8_from_the_config_file_takes_effect(world: World) -> None:
    """Page: "Conversion conversation (day 10–14)", the days being the company's to set."""
    world.config_path.write_text(
        world.config_path.read_text() + "\n[rule:conversion_proposal]\nfirst_day = 8\n"
    )
    world.restart()
    holly = trial(world, "Holly AG", "it@holly.example", 8, "ICP-fit", logins_count=3)
    world.dolibarr.set_fields(holly, frameworks_mapped=1)
    report = report_of(world, holly)
    assert report.step == "conversion"
    assert {a.key for a in report.actions} >= {f"conversion_proposal:{holly}:task"}
    assert any("Holly AG is active and ready" in m for m in world.matrix.messages(SALES))


def test_thresholds_from_dolibarr_constants_move_the_step(world: World) -> None:
    """Page: "logged in ≥ 3 times, has at least one framework mapped", as SYNCD_* constants."""
    world.dolibarr.set_conf("SYNCD_CONVERSION_PROPOSAL_MIN_LOGINS", "10")
    ivy = trial(world, "Ivy Ltd", "it@ivy.example", 11, "ICP-fit", logins_count=5)
    world.dolibarr.set_fields(ivy, frameworks_mapped=1)
    report = report_of(world, ivy)
    assert report.step == "welcome_call"
    world.dolibarr.set_fields(ivy, logins_count=10)
    world.advance(minutes=10)
    report = report_of(world, ivy)
    assert report.step == "conversion"
    assert "active: logins_count 10 ≥ 10, frameworks_mapped 1 ≥ 1" in report.evidence


# --- day 14 is a deadline -----------------------------------------------------------------


def test_day_14_deadline_gives_the_owner_one_task_and_one_notice(world: World) -> None:
    """Page: "from first contact to an active ... customer — consistently, within 14 days"."""
    juniper = trial(world, "Juniper SA", "it@juniper.example", 12, "ICP-fit", logins_count=1)
    paid = trial(world, "Kale BV", "it@kale.example", 12, "ICP-fit")
    world.dolibarr.add_invoice(paid, "FA2611-0100", "900.00", paid=True)
    proposed = trial(world, "Larch Oy", "it@larch.example", 12, "ICP-fit")
    world.dolibarr.add_proposal(proposed, "PR2611-0100")
    run_days(world, 6)  # days 12–18

    deadline = [e for e in events_of(world, juniper) if ":deadline:task" in e]
    assert len(deadline) == 1 and "day-14 deadline passed without a proposal" in deadline[0]
    notices = [m for m in world.matrix.messages(SALES) if "passed day 14" in m]
    assert notices == ["Trial Juniper SA passed day 14 with no proposal and no subscription."]
    for other in (paid, proposed):
        assert not [e for e in events_of(world, other) if "deadline" in e]


# --- hand-off: a support channel; follow-up: the community --------------------------------


def test_handoff_invites_the_customer_to_the_support_channel_once(world: World) -> None:
    """Page, step 10 and Output: "The customer has a support channel (Matrix or Discord)"."""
    maple = trial(world, "Maple GmbH", "it@maple.example", 12, "ICP-fit")
    world.dolibarr.add_invoice(maple, "FA2611-0200", "1200.00", paid=True)
    run_days(world, 3)

    invites = [m for m in world.freescout.messages_to("it@maple.example") if SUPPORT in m.text]
    assert len(invites) == 1
    assert invites[0].subject == "Your Acme support channel"  # [company] name = Acme
    assert any("Maple GmbH" in m for m in world.matrix.messages(SUCCESS))


def test_freescout_without_a_support_link_stops_syncd_at_start(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    text = world.config_path.read_text().replace(f"support_link = {SUPPORT}\n", "")
    world.config_path.write_text(text)
    assert main(["--config", str(world.config_path), "run", "--once"]) == 2
    err = capsys.readouterr().err
    assert "[rule:handoff_success] support_link: required when [freescout] is configured" in err


def test_follow_up_carries_the_community_invite(world: World) -> None:
    """Page: follow-up "with: summary of call, ... documentation, ... community Discord invite"."""
    trial(
        world,
        "Nettle Inc",
        "it@nettle.example",
        5,
        "ICP-fit",
        onboarding_call_date=today(world) - timedelta(days=1),
    )
    world.cycle()
    (follow_up,) = [
        m
        for m in world.freescout.messages_to("it@nettle.example")
        if m.subject == "Thank you for the onboarding call"
    ]
    assert f"Join our community: {COMMUNITY}" in follow_up.text


# --- marketing consent -------------------------------------------------------------------


def test_opted_out_contact_gets_no_mautic_email_and_the_audit_says_why(world: World) -> None:
    """Page: "7-day check-in — Automated Mautic email at day 7", unless the contact opted out."""
    oak = trial(world, "Oak Labs", "it@oak.example", 7, "ICP-fit", marketing_opt_out=1)
    trial(world, "Pine Labs", "it@pine.example", 7, "ICP-fit")
    report = report_of(world, oak)

    assert world.mautic.sent(to="it@oak.example") == []
    assert len(world.mautic.sent(to="it@pine.example")) == 1
    assert dict(report.skipped)["check_in_email"] == (
        "the contact opted out of marketing email (marketing_opt_out is set)"
    )


def test_opted_out_not_icp_is_not_added_to_the_nurture_segment(world: World) -> None:
    quince = trial(world, "Quince", "it@quince.example", 3, "Not-ICP", marketing_opt_out=1)
    report = report_of(world, quince)
    contact = world.mautic.contact("it@quince.example")
    assert contact is None or contact.id not in world.mautic.members[1]
    assert "opted out of marketing email" in dict(report.skipped)["nurture_segment"]


# --- one person, one email ----------------------------------------------------------------


def test_two_cases_sharing_an_address_send_the_check_in_once(world: World) -> None:
    """Page: "Automated Mautic email at day 7" — to a person, not to each of their records."""
    first = trial(world, "Rowan One", "sam@rowan.example", 7, "ICP-fit")
    second = trial(world, "Rowan Two", "sam@rowan.example", 7, "ICP-fit")
    result = world.cycle()
    world.cycle()

    assert len(world.mautic.sent(to="sam@rowan.example")) == 1
    reports = {r.case_id: r for r in result.plan.reports}
    assert dict(reports[second].skipped)["check_in_email"] == (
        f"already sent to sam@rowan.example for case {first}"
    )
    assert len(world.freescout.messages_to("sam@rowan.example")) == 1  # the welcome call offer


def test_a_later_case_with_the_same_address_is_skipped_after_a_restart(world: World) -> None:
    first = trial(world, "Spruce One", "kim@spruce.example", 7, "ICP-fit")
    world.cycle()
    world.restart()
    second = trial(world, "Spruce Two", "KIM@spruce.example", 7, "ICP-fit")
    world.advance(hours=6)
    report = report_of(world, second)

    assert len(world.mautic.sent(to="kim@spruce.example")) == 1
    assert dict(report.skipped)["check_in_email"] == (
        f"already sent to KIM@spruce.example for case {first}"
    )
    rules = Counter(row.rule for row in world.rt.store.with_status(Status.DONE))
    assert rules["check_in_email"] == 1


def test_the_dry_run_audit_shows_the_shared_address_skip(world: World) -> None:
    first = trial(world, "Teak One", "lee@teak.example", 7, "ICP-fit")
    world.cycle()
    second = trial(world, "Teak Two", "lee@teak.example", 7, "ICP-fit")
    config, ruleset = load(str(world.config_path))
    pinned = replace(config, daemon=replace(config.daemon, now=world.now))
    plan = audit_plan(pinned, ruleset)
    reports = {r.case_id: r for r in plan.reports}
    assert dict(reports[second].skipped)["check_in_email"] == (
        f"already sent to lee@teak.example for case {first}"
    )
    assert Path(config.daemon.state_db).exists()
