"""A waiting action is sent only while its case still wants it.

An action waiting for its retry is checked against the current cycle's plan:
a case deleted in Dolibarr or paused by a person cancels it (status
`cancelled`, with the reason); a case that wants it again revives it.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.http import RetryPolicy
from syncd.cli import main
from syncd.store import Status
from tests.harness import World

SALES = "!sales:test"


@pytest.fixture
def waiting(world: World) -> tuple[World, int, str]:
    """A new trial whose signup notice failed once and waits for its retry."""
    socid = world.dolibarr.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": world.now.astimezone(world.dolibarr.tz).date()},
    )
    world.rt.executor.matrix.http.policy = RetryPolicy(attempts=1, sleep=lambda _: None)  # type: ignore[union-attr]
    world.matrix.fail("PUT", "/_matrix", status=429, headers={"Retry-After": "600"}, times=1)
    world.cycle()
    key = f"signup_notify:{socid}"
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.PLANNED and row.attempts == 1
    return world, socid, key


def test_a_notice_for_a_deleted_third_party_is_cancelled_not_sent(
    waiting: tuple[World, int, str], capsys: Any
) -> None:
    world, socid, key = waiting
    world.dolibarr.delete_thirdparty(socid)
    world.rt.mirror.polls = world.rt.config.dolibarr.sweep_every  # the id sweep is due
    world.advance(hours=1)
    world.cycle()
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.CANCELLED
    assert f"case {socid} is no longer in Dolibarr" in (row.last_error or "")
    assert world.matrix.messages(SALES) == []
    assert main(["--config", str(world.config_path), "actions", "--status", "cancelled"]) == 0
    assert key in capsys.readouterr().out


def test_a_paused_case_cancels_its_waiting_email_and_unpausing_sends_it_once(
    waiting: tuple[World, int, str],
) -> None:
    world, socid, key = waiting
    world.dolibarr.set_fields(socid, syncd_pause=1)
    world.advance(hours=1)
    world.cycle()
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.CANCELLED
    assert "syncd_pause is set" in (row.last_error or "")
    assert world.matrix.messages(SALES) == []
    world.dolibarr.set_fields(socid, syncd_pause=0)
    world.advance(hours=1)
    world.cycle()
    assert world.rt.store.get(key).status is Status.DONE  # type: ignore[union-attr]
    assert len(world.matrix.messages(SALES)) == 1


def test_a_case_whose_data_turned_bad_holds_its_waiting_notice_until_it_is_mended(
    waiting: tuple[World, int, str],
) -> None:
    world, socid, key = waiting
    world.dolibarr.tag(socid, "ICP-fit")
    world.dolibarr.tag(socid, "Not-ICP")  # contradictory: the case is in error
    world.advance(hours=1)
    report = {r.case_id: r for r in world.cycle().plan.reports}[socid]
    assert report.errors
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.PLANNED  # neither sent nor dropped
    assert world.matrix.messages(SALES) == []
    world.dolibarr.untag(socid, "Not-ICP")
    world.dolibarr.untag(socid, "ICP-fit")  # mended as it was: a trial that signed up today
    world.advance(hours=1)
    world.cycle()
    assert world.rt.store.get(key).status is Status.DONE  # type: ignore[union-attr]
    assert len(world.matrix.messages(SALES)) == 1
