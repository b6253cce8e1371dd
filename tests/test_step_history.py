"""Step history is visible and usable: days in a step, entering a step, and after a lost state.

Through the fakes: a third party syncd met years ago and a person tags today,
a state database lost and rebuilt from the `[syncd]` events, and the moment a
case enters a step kept across a crash.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncd.cli import main
from syncd.cycle import plan, read
from syncd.model import Action, step_key, step_of_key
from tests.harness import World

SALES = "!sales:test"


def reminders(world: World) -> list[str]:
    return [m for m in world.matrix.messages(SALES) if "still undecided" in m]


def test_an_old_third_party_tagged_partner_prospect_today_is_reminded_after_five_days(
    world: World,
) -> None:
    d = world.dolibarr
    old = d.add_thirdparty(
        "Juniper Consulting",
        email="ann@juniper.example",
        created_at=world.now - timedelta(days=900),
    )
    world.cycle()  # syncd meets it in no onboarding at all
    world.advance(days=1)
    d.tag(old, "Partner-Prospect")
    report = {r.case_id: r for r in world.cycle().plan.reports}[old]
    assert report.step == "partner_qualification" and report.entered_step
    world.advance(days=4)
    world.cycle()
    assert reminders(world) == []  # day 4 in the step
    world.advance(days=1)
    world.cycle()
    assert reminders(world) == [
        "Partner prospect Juniper Consulting is still undecided after 5 days."
    ]
    labels = [e.label for e in d.events.values()]
    assert any(x.endswith("Qualify or decline partner prospect Juniper Consulting") for x in labels)


def test_a_prospect_first_met_years_old_is_not_reminded_as_new(world: World) -> None:
    d = world.dolibarr
    old = d.add_thirdparty(
        "Larch Advisory",
        email="bo@larch.example",
        tags=("Partner-Prospect",),
        created_at=world.now - timedelta(days=900),
    )
    world.cycle()
    world.advance(days=5)
    report = {r.case_id: r for r in world.cycle().plan.reports}[old]
    assert report.step_since is None  # syncd cannot know when it got there
    assert reminders(world) == []
    assert (
        "past the day-5 partner qualification reminder window"
        in dict(report.skipped)["partner_qualification_reminder"]
    )


def trial_qualified_a_day_later(world: World) -> int:
    """Aster Labs signs up (a cycle sees it), and is tagged ICP-fit a day later."""
    d = world.dolibarr
    socid = d.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": world.now.astimezone(d.tz).date()},
    )
    world.cycle()
    world.advance(days=1)
    d.tag(socid, "ICP-fit")
    return socid


def test_rebuild_state_restores_step_history_from_the_timeline(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    socid = trial_qualified_a_day_later(world)
    world.cycle()
    entered = world.now
    world.rt.store.close()
    for suffix in ("", "-wal", "-shm"):
        world.rt.store.path.with_name(world.rt.store.path.name + suffix).unlink(missing_ok=True)
    assert main(["--config", str(world.config_path), "rebuild-state"]) == 0
    capsys.readouterr()
    assert main(["--config", str(world.config_path), "explain", str(socid)]) == 0
    out = capsys.readouterr().out
    history = out.split("step history (entered, from syncd's records):\n", 1)[1].splitlines()
    assert [line.split()[3] for line in history] == ["signup", "welcome_call"]
    assert f"{entered:%Y-%m-%d %H:%M}" in history[1]
    assert f"in this step since {entered:%Y-%m-%d}" in out


def test_the_moment_of_entering_a_step_survives_a_crash_before_the_cycle_ends(
    world: World,
) -> None:
    """An action keyed on the moment of entering is planned with the same key after a crash."""
    socid = trial_qualified_a_day_later(world)
    world.advance(minutes=1)
    rt = world.rt
    read(rt, world.now, None)
    first = plan(rt.mirror, rt.config, rt.ruleset, world.now, rt.store.step_places())
    case = {r.case_id: r for r in first.reports}[socid]
    assert case.entered_step and case.step_since == world.now
    key = f"entering:{socid}:{case.step}:{case.step_since:%Y%m%dT%H%M%S}"
    action = Action("dolibarr.note", key, str(socid), {"text": "entered"}, "test", "entering")
    rt.store.enqueue([(socid, action)], world.now, None, [(socid, case.step)])
    world.restart()  # killed before the drain and before the cycle was saved
    world.advance(minutes=1)
    again = world.cycle().plan
    later = {r.case_id: r for r in again.reports}[socid]
    assert not later.entered_step
    assert later.step_since is not None
    assert f"entering:{socid}:{later.step}:{later.step_since:%Y%m%dT%H%M%S}" == key


@pytest.mark.parametrize(
    ("step", "previous", "key"),
    [
        ("welcome_call", "empty", "step_writeback:7:welcome_call:from-empty"),
        (
            "welcome_call / partner_qualification",
            "welcome_call",
            "step_writeback:7:welcome_call+partner_qualification:from-welcome_call",
        ),
        (
            "onboarding_call / partner_qualification",
            "welcome_call / partner_qualification",
            "step_writeback:7:onboarding_call+partner_qualification"
            ":from-welcome_call+partner_qualification",
        ),
    ],
)
def test_a_write_back_key_gives_its_step_back_for_the_history(
    step: str, previous: str, key: str
) -> None:
    """A key ends at the first space of an event's label: both steps are joined by "+"."""
    assert step_key(7, step, previous) == key
    assert " " not in key
    assert step_of_key(key) == (7, step)


@pytest.mark.parametrize(
    "key", ["welcome_call_offer:7", "step_writeback:x:welcome_call:from-empty", "step_writeback:7"]
)
def test_other_keys_give_no_step(key: str) -> None:
    assert step_of_key(key) is None
