"""Both onboarding processes on one third party, through every fake.

A trial can also be a partner prospect, and a partner can refer another
partner (`docs/processes/`). Each test quotes the process pages and checks
what the fakes received. The first one pins the keys of single-process
cases: a changed key would resend, on upgrade, what was already done.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.model import CaseReport, step_of_key
from tests.harness import World

SINGLE_PROCESS_KEYS = Path(__file__).parent / "golden" / "single_process_keys.json"


def today(world: World) -> date:
    return world.now.astimezone(world.dolibarr.tz).date()


def seed_single_process(world: World) -> None:
    """Every step of both processes, each case in one (the demo's cases as they were when
    the keys were pinned), a partner referred by a partner, and overrides of either process.
    Dates are relative to the fake's fixed clock, so the keys are the same every run."""
    d = world.dolibarr
    on = today(world)

    def add(name: str, tags: tuple[str, ...], days_ago: int, **options: Any) -> int:
        signup = on - timedelta(days=days_ago)
        country = options.pop("country", "DE")
        return d.add_thirdparty(
            name,
            email=f"hello@{name.split()[0].lower()}.example",
            country_code=country,
            array_options={"signup_date": signup, **options},
            tags=tags,
            created_at=datetime.combine(signup, time(9), UTC),
        )

    def day(days: int) -> date:
        return on + timedelta(days=days)

    quartz = add(
        "Quartz Partners",
        ("Partner-Qualified",),
        40,
        country="FR",
        commission_rate="15",
        discovery_call_date=day(-20),
        briefing_date=day(-6),
        directory_consent=1,
        agreement_signed_date=day(-2),
    )
    add("Aster Labs", ("Trial",), 0)
    add("Birch Data", ("Trial",), 3)
    add("Cobalt GmbH", ("Trial", "Not-ICP"), 8)
    add("Delta Analytics", ("Trial", "ICP-fit"), 2)
    add("Echo Systems", ("Trial", "ICP-fit"), 4, onboarding_call_date=day(1))
    add("Fjord AS", ("Trial", "ICP-fit"), 7, onboarding_call_date=day(-1), country="NO")
    active = {"logins_count": 5, "frameworks_mapped": 2}
    helix = add(
        "Helix Ltd",
        ("Trial", "ICP-fit"),
        11,
        onboarding_call_date=day(-6),
        referred_by=quartz,
        **active,
    )
    add(
        "Juniper Project",
        ("Trial", "ICP-fit", "EU-Project"),
        11,
        onboarding_call_date=day(-6),
        logins_count=4,
        frameworks_mapped=1,
    )
    add(
        "Kestrel Self-hosted",
        ("Trial", "ICP-fit", "Self-hosted"),
        12,
        onboarding_call_date=day(-7),
        logins_count=9,
        frameworks_mapped=3,
    )
    iris = add("Iris Media", ("Trial", "ICP-fit"), 16, referred_by=quartz, country="ES")
    d.add_invoice(iris, "FA2611-0001", "1200.00", paid=True)
    add("Lumen Security", ("Trial", "ICP-fit", "Customer-Active"), 30)
    oak = add("Oak Holdings", ("Customer-Active",), 900)
    d.add_invoice(oak, "FA2309-0042", "2400.00", paid=True)
    add("Rook Consulting", ("Trial", "ICP-fit"), 5, syncd_pause=1)
    add("Sable Works", ("Trial",), 4, onboarding_step_override="finished")
    add("Northwind Consulting", ("Partner-Prospect",), 6)
    add("Orbit Partners", ("Partner-Qualified",), 3)
    add("Pine Advisory", ("Partner-Declined",), 9)
    d.add_contact(helix, "Hana", "Novak", "hana@helix.example")
    add("Wren Partners", ("Partner-Prospect",), 0, referred_by=quartz)
    add("Yew Trial", ("Trial",), 0, onboarding_step_override="welcome_call")
    add("Zinc Trial", ("Trial",), 0, onboarding_step_override="discovery_call")
    add("Alder Partners", ("Partner-Qualified",), 0, onboarding_step_override="partner_account")


def planned_keys(world: World, days: int = 18) -> list[str]:
    """Every key planned over `days` days of cycles, two a day."""
    keys: set[str] = set()
    for _ in range(days * 2):
        for report in world.cycle().plan.reports:
            keys.update(action.key for action in report.actions)
        world.advance(hours=12)
    return sorted(keys)


def test_single_process_cases_keep_the_keys_they_had(world: World) -> None:
    """The keys planned for cases in one process are those planned before a case could
    be in two (the file was written by that code; set SYNCD_UPDATE_KEYS=1 to rewrite it
    only when a key is meant to change)."""
    seed_single_process(world)
    keys = planned_keys(world)
    if os.environ.get("SYNCD_UPDATE_KEYS") == "1":
        SINGLE_PROCESS_KEYS.write_text(json.dumps(keys, indent=1) + "\n")
    assert keys == json.loads(SINGLE_PROCESS_KEYS.read_text())


SALES = "!sales:test"


def trial(world: World, name: str, email: str, *tags: str, **fields: object) -> int:
    """A trial signed up today, with more tags and fields."""
    return world.dolibarr.add_thirdparty(
        name,
        email=email,
        tags=("Trial", *tags),
        array_options={"signup_date": today(world), **fields},
    )


def run_days(world: World, days: int, per_day: int = 2) -> None:
    for _ in range(days * per_day):
        world.cycle()
        world.advance(hours=24 / per_day)


def report_of(world: World, case_id: int) -> CaseReport:
    return world.cycle_report(case_id)


def undecided(world: World, name: str) -> list[str]:
    return [m for m in world.matrix.messages(SALES) if m.startswith(f"Partner prospect {name}")]


def test_a_trial_tagged_partner_prospect_gets_the_welcome_call_the_check_in_and_the_reminder(
    world: World,
) -> None:
    """Customer page: "Send a personal welcome message via email (FreeScout) offering a
    30-minute onboarding call" and "Automated Mautic email at day 7: 'How is it going?'";
    partner page: "Qualification — Predrag reviews the prospective partner"."""
    birch = trial(world, "Birch Data", "ops@birch.example", "ICP-fit", "Partner-Prospect")
    first = report_of(world, birch)
    assert first.process == "customer + partner"
    assert first.step == "welcome_call / partner_qualification"
    run_days(world, 8)

    offers = world.freescout.messages_to("ops@birch.example")
    assert [m.subject for m in offers] == ["Your 30-minute onboarding call with Acme"]
    assert len(world.mautic.sent(email_id=1, to="ops@birch.example")) == 1  # "How is it going?"
    assert undecided(world, "Birch Data") == [
        "Partner prospect Birch Data is still undecided after 5 days."
    ]
    tasks = [e for e in world.syncd_events() if f"partner_qualification_reminder:{birch}:task" in e]
    assert tasks == [
        f"[syncd] partner_qualification_reminder:{birch}:task "
        "Qualify or decline partner prospect Birch Data",
    ]


def test_the_partner_reminder_counts_from_entering_qualification_while_the_trial_moves_on(
    world: World,
) -> None:
    """Each process keeps its own step history: a call booked moves the customer step, not
    the day the prospect entered partner qualification."""
    d = world.dolibarr
    cedar = trial(world, "Cedar Labs", "it@cedar.example", "ICP-fit")
    run_days(world, 2)
    d.tag(cedar, "Partner-Prospect")  # day 2
    entering = report_of(world, cedar)
    partner = entering.tracks[1]
    assert (partner.step, partner.entered_step) == ("partner_qualification", True)
    assert not entering.tracks[0].entered_step  # still welcome_call, since day 0
    world.advance(days=1)
    d.set_fields(cedar, onboarding_call_date=today(world) + timedelta(days=2))  # day 3
    moved = report_of(world, cedar)
    assert moved.step == "onboarding_call / partner_qualification"
    assert moved.tracks[0].entered_step and not moved.tracks[1].entered_step
    assert moved.tracks[1].step_since == partner.step_since
    run_days(world, 3, per_day=1)  # days 3–5: day 3 in partner qualification at most
    assert undecided(world, "Cedar Labs") == []
    run_days(world, 2, per_day=1)  # day 7 since signup, day 5 since tagged
    assert undecided(world, "Cedar Labs") == [
        "Partner prospect Cedar Labs is still undecided after 5 days."
    ]


def test_a_partner_referred_by_a_partner_gets_the_referral_note(world: World) -> None:
    """Partner page: the process starts on "a prospective partner [...] via [...] referral";
    customer page: "Note the referring partner in Dolibarr for commission tracking"."""
    d = world.dolibarr
    quartz = d.add_thirdparty(
        "Quartz Partners",
        email="hello@quartz.example",
        tags=("Partner-Active",),
        array_options={"commission_rate": "15"},
    )
    wren = d.add_thirdparty(
        "Wren Partners",
        email="hi@wren.example",
        tags=("Partner-Prospect",),
        array_options={"referred_by": quartz},
    )
    run_days(world, 1)
    notes = {
        socid: str(d.thirdparties[socid].fields.get("note_private") or "")
        for socid in (quartz, wren)
    }
    assert "Referred by partner Quartz Partners" in notes[wren]
    assert "Referred partner Wren Partners" in notes[quartz]
    assert "First deal" not in notes[quartz]  # a partner it referred is no customer deal
    assert report_of(world, wren).step == "partner_qualification"


def test_the_write_back_writes_both_steps_once(world: World) -> None:
    """`onboarding_step` shows both steps when both processes apply, written once."""
    d = world.dolibarr
    birch = trial(world, "Birch Data", "ops@birch.example", "ICP-fit", "Partner-Prospect")
    run_days(world, 2)
    shown = "welcome_call / partner_qualification"
    assert d.thirdparties[birch].extras["onboarding_step"] == shown
    key = f"step_writeback:{birch}:welcome_call+partner_qualification:from-empty"
    assert [e for e in world.syncd_events() if "step_writeback" in e] == [f"[syncd] {key}"]
    assert step_of_key(key) == (birch, shown)


def test_rebuild_state_keeps_when_each_process_entered_its_step(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a lost state database the history comes back from the write-back's events,
    both steps in each, and each process's entry time with it."""
    d = world.dolibarr
    cedar = trial(world, "Cedar Labs", "it@cedar.example", "ICP-fit")
    run_days(world, 1)
    d.tag(cedar, "Partner-Prospect")
    tagged = report_of(world, cedar).tracks[1].step_since
    world.advance(days=1)
    d.set_fields(cedar, onboarding_call_date=today(world) + timedelta(days=2))
    before = report_of(world, cedar)
    world.rt.store.close()
    for suffix in ("", "-wal", "-shm"):
        world.rt.store.path.with_name(world.rt.store.path.name + suffix).unlink(missing_ok=True)
    assert main(["--config", str(world.config_path), "rebuild-state"]) == 0
    world.restart()
    world.advance(minutes=5)
    after = report_of(world, cedar)
    assert after.step == before.step == "onboarding_call / partner_qualification"
    assert tagged is not None and after.tracks[1].step_since is not None
    assert abs(after.tracks[1].step_since - tagged) < timedelta(minutes=1)
    capsys.readouterr()
    assert main(["--config", str(world.config_path), "explain", str(cedar)]) == 0
    out = capsys.readouterr().out
    assert "  partner partner_qualification: tag Partner-Prospect;" in out
    history = out.split("step history (entered, from syncd's records):\n", 1)[1].splitlines()
    assert [line.split("UTC  ")[1] for line in history] == [
        "welcome_call  (where syncd first met it)",
        "welcome_call / partner_qualification",
        "onboarding_call / partner_qualification",
    ]


def test_an_override_names_the_process_it_forces(world: World) -> None:
    """`partner:discovery_call` moves the partner process on; the trial's own steps go on."""
    elm = trial(
        world,
        "Elm Works",
        "it@elm.example",
        "ICP-fit",
        "Partner-Prospect",
        onboarding_step_override="partner:discovery_call",
    )
    fir = trial(
        world,
        "Fir Systems",
        "it@fir.example",
        "ICP-fit",
        "Partner-Prospect",
        onboarding_step_override="partner:welcome_call",
    )
    result = {r.case_id: r for r in world.cycle().plan.reports}
    assert result[elm].step == "welcome_call / discovery_call"
    assert result[fir].errors == (
        "field onboarding_step_override: 'partner:welcome_call' "
        "names welcome_call, a customer step, not a partner one",
    )
    subjects = sorted(m.subject for m in world.freescout.messages_to("it@elm.example"))
    assert len(subjects) == 2 and "Your 30-minute onboarding call with Acme" in subjects
    assert world.freescout.messages_to("it@fir.example") == []


def test_the_audit_shows_both_steps_with_their_evidence(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    birch = trial(world, "Birch Data", "ops@birch.example", "ICP-fit", "Partner-Prospect")
    world.cycle()
    capsys.readouterr()
    assert main(["--config", str(world.config_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    block = out.split(f"#{birch} Birch Data")[1].split("\n\n")[0].splitlines()
    assert block[0] == " · customer + partner · welcome_call / partner_qualification"
    assert block[1] == "  customer welcome_call: tag ICP-fit; no onboarding_call_date yet"
    assert block[2] == (
        "  partner partner_qualification: tag Partner-Prospect; "
        "no Partner-Qualified / Partner-Declined tag yet"
    )
