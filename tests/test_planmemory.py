"""`run --once` plans from the planner memory the last process stored, or plans every case.

Each test runs cycles as separate processes would (a new runtime on the same
state database) and reads which cases a cycle planned from its plan: `scope`
is None when it planned every case. Whatever the memory, what a cycle plans
is what a plan of every case gives (`tests/test_planner.py`); here, when the
memory is believed and when it is not.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from syncd.cycle import CycleResult, plan, resume_plan
from syncd.recipients import earlier_messages
from tests.harness import World


def seed(world: World) -> dict[str, int]:
    """A partner, two trials it referred, and a customer of no one."""
    d = world.dolibarr
    day = world.now.astimezone(d.tz).date()
    partner = d.add_thirdparty(
        "Quartz Partners", email="q@quartz.example", tags=("Partner-Active",)
    )
    ids = {"partner": partner}
    for n in range(2):
        ids[f"trial{n}"] = d.add_thirdparty(
            f"Trial {n}",
            email=f"t{n}@x.example",
            tags=("Trial", "ICP-fit"),
            array_options={"signup_date": day - timedelta(days=8), "referred_by": partner},
        )
    ids["alone"] = d.add_thirdparty(
        "Oak Holdings", email="ap@oak.example", array_options={"signup_date": day}
    )
    return ids


def run_once(world: World) -> CycleResult:
    """A `syncd run --once` process: a new runtime, one cycle."""
    world.restart()
    world.rt.resume_plan = True
    return world.cycle()


def planned_as_everything(world: World) -> dict[int, tuple[str, ...]]:
    """Each case's action keys as a plan of every case gives them now."""
    rt = world.rt
    places = rt.store.step_places()
    earlier = earlier_messages(rt.store.messages())
    every = plan(rt.mirror, rt.config, rt.ruleset, world.now, places, earlier)
    return {r.case_id: tuple(a.key for a in r.actions) for r in every.reports}


def settled(world: World) -> None:
    """Two processes, ten minutes apart: the second reads the first one's writes back."""
    assert run_once(world).plan.scope is None  # a new database: every case
    world.advance(minutes=10)
    run_once(world)
    world.advance(minutes=10)


def test_run_once_plans_only_what_changed_since_the_last_process(world: World) -> None:
    ids = seed(world)
    settled(world)
    world.dolibarr.add_invoice(ids["trial0"], "FA-1", "100.00", paid=True)
    result = run_once(world)
    # The customer that paid and the partner it names; not the others.
    assert result.plan.scope == {ids["trial0"], ids["partner"]}
    assert result.enqueued > 0 and result.cases == 4
    assert world.rt.planner.keys == planned_as_everything(world)
    world.advance(minutes=10)
    # It moved into a step: planned again, with the cases whose rows syncd's writes changed.
    scope = run_once(world).plan.scope
    assert scope is not None and ids["trial0"] in scope and ids["alone"] not in scope
    assert world.rt.planner.keys == planned_as_everything(world)


def test_an_idle_run_once_plans_nothing_and_keeps_the_memory(world: World) -> None:
    seed(world)
    settled(world)
    for _ in range(2):
        assert run_once(world).plan.scope == frozenset()
        world.advance(minutes=10)
    assert world.rt.planner.keys == planned_as_everything(world)


def test_the_daemon_plans_every_case_in_its_first_cycle_whatever_is_stored(world: World) -> None:
    seed(world)
    settled(world)
    world.restart()
    assert world.cycle().plan.scope is None
    world.advance(minutes=10)
    assert world.cycle().plan.scope == frozenset()
    world.advance(minutes=10)
    assert run_once(world).plan.scope == frozenset()  # the daemon stored its memory too


def test_a_crash_before_the_cycle_is_recorded_makes_the_next_process_plan_everything(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(world)
    settled(world)
    world.dolibarr.add_invoice(ids["trial0"], "FA-1", "100.00", paid=True)
    world.restart()
    world.rt.resume_plan = True

    def power_cut(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(world.rt.store, "save_cycle", power_cut)
    with pytest.raises(RuntimeError):
        world.cycle()  # its plan was queued with its memory; its cycle never recorded
    assert run_once(world).plan.scope is None
    assert world.rt.planner.keys == planned_as_everything(world)


def test_a_process_that_took_the_memory_and_died_leaves_none_behind(world: World) -> None:
    seed(world)
    settled(world)
    world.restart()
    world.rt.resume_plan = True
    resume_plan(world.rt)  # what a process does first; then it is killed
    assert world.rt.planner.day is not None
    assert run_once(world).plan.scope is None


def test_a_changed_rule_parameter_makes_run_once_plan_everything(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(world)
    settled(world)
    monkeypatch.setenv("SYNCD_RULE_QUALIFICATION_REMINDER_AFTER_DAYS", "5")
    assert run_once(world).plan.scope is None
    world.advance(minutes=10)
    assert run_once(world).plan.scope == frozenset()


def test_a_new_day_makes_run_once_plan_everything(world: World) -> None:
    seed(world)
    settled(world)
    world.advance(days=1)
    assert run_once(world).plan.scope is None


@pytest.mark.parametrize(
    "sql",
    [
        "delete from mirror_rows where kind = 'invoices'",  # as a migration may
        "delete from mirror_rows where kind = 'thirdparties' and id = 1",
        "delete from planner_cases where case_id = 1",
        "update meta set value = 'not json' where key = 'planner'",
    ],
)
def test_a_mirror_or_memory_that_lost_rows_or_cannot_be_read_makes_run_once_plan_everything(
    world: World, sql: str
) -> None:
    ids = seed(world)
    world.dolibarr.add_invoice(ids["alone"], "FA-0", "100.00", paid=True)
    settled(world)
    world.rt.store.close()
    with sqlite3.connect(world.rt.config.daemon.state_db) as conn:
        conn.execute(sql)
    assert run_once(world).plan.scope is None


def test_a_state_database_restored_from_an_older_copy_plans_everything(world: World) -> None:
    ids = seed(world)
    settled(world)
    db = world.rt.config.daemon.state_db
    copy = db.with_name("copy.db")
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    world.dolibarr.add_invoice(ids["trial0"], "FA-1", "100.00", paid=True)
    assert run_once(world).stats.done > 0  # actions done that the copy does not know
    world.advance(minutes=10)
    world.rt.store.close()
    for leftover in db.parent.glob(db.name + "-*"):
        leftover.unlink()
    copy.replace(db)
    assert run_once(world).plan.scope is None  # the timeline told it what it did not know


def test_an_emptied_state_database_plans_everything(world: World) -> None:
    seed(world)
    settled(world)
    db = world.rt.config.daemon.state_db
    world.rt.store.close()
    for leftover in db.parent.glob(db.name + "*"):
        if not leftover.name.endswith(".lock"):
            leftover.unlink()
    db.write_bytes(b"")
    assert run_once(world).plan.scope is None


def test_a_case_in_error_stays_in_error_when_run_once_does_not_plan_it(world: World) -> None:
    ids = seed(world)
    world.dolibarr.tag(ids["alone"], "Partner-Qualified")
    world.dolibarr.tag(ids["alone"], "Partner-Declined")  # they contradict each other
    settled(world)
    errors = world.rt.store.case_errors()
    assert [case_id for case_id, _ref, _error in errors] == [ids["alone"]]
    world.dolibarr.add_invoice(ids["trial0"], "FA-1", "100.00", paid=True)
    assert ids["alone"] not in (run_once(world).plan.scope or {ids["alone"]})
    assert world.rt.store.case_errors() == errors
    assert set(world.rt.case_errors) == {case_id for case_id, _ref, _error in errors}
