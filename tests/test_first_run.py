"""Switched on for the first time on a Dolibarr with years of customers behind it.

An old customer (paid invoices, maybe tagged Customer-Active by hand, never
a Trial) is not onboarded: no tag, no hand-off, no notice. Records of
referrals still follow every referred customer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncd.cli import main
from tests.harness import World

SUCCESS = "!success:test"


def add_new_trial(world: World, **options: str) -> int:
    """Aster Labs, tagged Trial, signed up today."""
    d = world.dolibarr
    return d.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": world.now.astimezone(d.tz).date(), **options},
    )


def test_an_old_customer_with_years_of_paid_invoices_is_left_alone(world: World) -> None:
    d = world.dolibarr
    partner = d.add_thirdparty(
        "Quartz Partners", email="q@quartz.example", tags=("Partner-Active",)
    )
    old = d.add_thirdparty(
        "Oak Holdings",
        email="ap@oak.example",
        array_options={
            "signup_date": world.now.date() - timedelta(days=3 * 365),
            "referred_by": partner,
        },
    )
    hand_tagged = d.add_thirdparty("Elm Retail", email="it@elm.example", tags=("Customer-Active",))
    for year, socid in ((2023, old), (2024, old), (2025, old), (2024, hand_tagged)):
        d.add_invoice(socid, f"FA{year}-{socid}", "1200.00", paid=True)
    for _ in range(3):
        report = {r.case_id: r for r in world.cycle().plan.reports}
        world.advance(days=1)
    assert report[old].step == "none" and report[hand_tagged].step == "none"
    assert old not in d.members[d.category_id("Customer-Active")]
    assert world.matrix.messages(SUCCESS) == []
    assert not [e for e in d.events.values() if "handoff" in e.label and e.socid == old]
    assert not [k for k in world.syncd_events() if "handoff" in k or "subscription" in k]
    # The referral is a record, not outreach: it is noted on both sides.
    assert "Referred by partner Quartz Partners" in str(
        d.thirdparties[old].fields.get("note_private")
    )


def test_a_forgotten_trial_tag_is_not_news_on_the_first_run(world: World) -> None:
    """Trial tags left on records from 60 and 200 days ago: no signup notice, no check-in,
    no qualification reminder; a trial that signed up yesterday is announced."""
    d = world.dolibarr
    today = world.now.astimezone(d.tz).date()
    for name, age in (("Old Trial", 200), ("Stale Trial", 60), ("New Trial", 1)):
        d.add_thirdparty(
            name,
            email=f"{age}@x.example",
            tags=("Trial",),
            array_options={"signup_date": today - timedelta(days=age)},
        )
    report = {r.name: r for r in world.cycle().plan.reports}
    assert [a.rule for a in report["Old Trial"].actions if a.rule != "step_writeback"] == [
        "mautic_contact_link"
    ]
    assert dict(report["Stale Trial"].skipped)["check_in_email"].startswith("day 60: past")
    sales = world.matrix.messages("!sales:test")
    assert len(sales) == 1 and "New Trial" in sales[0]
    assert world.mautic.sent() == []


def test_a_misspelt_skip_rule_is_a_warning_on_that_case(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    socid = add_new_trial(world, syncd_skip_rules="signup_notfy")
    report = {r.case_id: r for r in world.cycle().plan.reports}[socid]
    assert report.warnings == (
        "syncd_skip_rules names no rule: signup_notfy (rules: "
        + ", ".join(sorted(e.name for e in world.rt.ruleset.rules))
        + ")",
    )
    assert len(world.matrix.messages("!sales:test")) == 1  # nothing was skipped
    assert main(["--config", str(world.config_path), "explain", str(socid)]) == 0
    out = capsys.readouterr().out
    assert "! warning: syncd_skip_rules names no rule: signup_notfy" in out


def test_status_lists_the_cases_whose_data_is_in_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    d = world.dolibarr
    bad = d.add_thirdparty("Birch Data", email="b@birch.example", tags=("Trial",))
    d.serve_raw(bad, array_options={"options_signup_date": "next tuesday"})
    world.cycle()
    capsys.readouterr()
    main(["--config", str(world.config_path), "status"])
    out = capsys.readouterr().out
    assert "cases with bad data in Dolibarr (1), skipped until fixed:" in out
    report = world.report(bad)
    assert f"#{bad} {report.ref}: field signup_date: 'next tuesday'" in out
    world.advance(hours=1)
    d.serve_raw(bad, array_options={"options_signup_date": world.now.date().isoformat()})
    world.cycle()
    main(["--config", str(world.config_path), "status"])
    assert "bad data" not in capsys.readouterr().out


def test_explain_shows_when_the_case_entered_each_step_and_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    socid = add_new_trial(world)
    world.cycle()
    world.advance(days=1)
    world.dolibarr.tag(socid, "ICP-fit")
    world.cycle()
    db = world.rt.store.path
    # The data files; `-shm` is SQLite's shared memory, where every reader marks its place.
    files = [db, db.with_name(db.name + "-wal")]
    before = [p.read_bytes() for p in files]
    capsys.readouterr()
    assert main(["--config", str(world.config_path), "explain", str(socid)]) == 0
    out = capsys.readouterr().out
    history = out.split("step history (entered, from syncd's records):\n", 1)[1].splitlines()
    assert [line.split()[3] for line in history[:2]] == ["signup", "welcome_call"]
    assert history[0].endswith("(where syncd first met it)")
    assert f"in this step since {world.now:%Y-%m-%d} (day " in out
    assert [p.read_bytes() for p in files] == before
