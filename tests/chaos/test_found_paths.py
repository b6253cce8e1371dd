"""Duplicate paths the chaos run found, each replayed deterministically in-process.

Each test names the chaos seed that first showed the path and the steps that lead
to the duplicate. A test whose path is still open is marked `xfail(strict=True)`:
the day it is fixed the test passes, turns red as XPASS, and its mark is removed;
the unmarked ones guard paths already closed.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.http import RetryPolicy
from syncd.model import Action
from syncd.outbox import drain, recover
from syncd.store import Status
from tests.harness import World

SALES = "!sales:test"


@pytest.mark.parametrize("fault", ["malformed", "not_json", "502 after apply"])
def test_an_unreadable_answer_to_a_matrix_send_is_not_posted_again_a_day_later(
    world: World, fault: str
) -> None:
    """Chaos seed 20261201 (`--runs 20 --hours-per-run 12`), key onboarding_call_reminder:18.

    1. PUT send → the homeserver stores the event and caches the txnId, then the
       answer is a 200 whose body is truncated (or not JSON), or every attempt the
       client makes ends in a 502 after the homeserver acted;
    2. the Matrix client raises TransientError, so the outbox puts the row back to
       `planned` with a back-off — no reconciliation, no note of the first attempt;
    3. the daemon next drains more than 24 h later (it was stopped, or killed and
       restarted a day on): Synapse has forgotten the txnId, the PUT is new, and the
       room holds the notice twice.
    """
    socid, action = _matrix_action(world)
    world.rt.store.enqueue([(socid, action)], world.now)
    if fault == "502 after apply":
        world.matrix.fail("PUT", "/_matrix", status=502, after_apply=True, times=None)
        world.rt.executor.matrix.http.policy = RetryPolicy(attempts=2, sleep=lambda _: None)  # type: ignore[union-attr]
    else:
        getattr(world.matrix, fault)("PUT", "/_matrix")
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(world.matrix.messages(SALES)) == 1  # the homeserver did post it
    world.matrix.clear_faults()
    world.advance(hours=25)
    world.restart()
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(world.matrix.messages(SALES)) == 1


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in syncd may catch it)."""


class DiesAfterSending:
    """The real executor; the process is killed right after the remote call returns
    (for every action, or for the `kinds` given)."""

    def __init__(self, real: Any, kinds: frozenset[str] | None = None) -> None:
        self.real, self.kinds = real, kinds

    def execute(self, row: Any, now: Any) -> str:
        result = str(self.real.execute(row, now))
        if self.kinds is None or row.kind in self.kinds:
            raise Killed
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _matrix_action(world: World) -> tuple[int, Action]:
    socid = world.dolibarr.add_thirdparty("Aster Labs", email="jane@aster.example")
    world.cycle()
    action = Action(
        "matrix.notify",
        f"signup_notify:{socid}",
        "sales",
        {"room": "sales", "text": "New trial"},
        "test",
        rule="signup_notify",
    )
    return socid, action


def _killed_after_sending(world: World) -> None:
    """A new process recovers, then drains, and is killed right after its send."""
    world.restart()
    recover(world.rt.store, world.rt.executor, world.now)
    with pytest.raises(Killed):
        drain(world.rt.store, DiesAfterSending(world.rt.executor), world.now)  # type: ignore[arg-type]


def test_a_matrix_notice_resent_across_restarts_is_not_posted_twice(world: World) -> None:
    """Chaos seed 9 (`--runs 150 --hours-per-run 12 --state-loss`), key signup_notify:120.

    1. t0: claimed, PUT sent (the homeserver stores the event and the txnId), killed
       before `sent_at` is stored;
    2. t0+20 h: recover finds it fresh (20 h < 23 h since the claim), proven not done;
       claimed again (`claimed_at` = t0+20 h), the PUT dedupes, killed again;
    3. t0+40 h: recover finds it fresh again (20 h since the *latest* claim) and sends;
       the homeserver forgot the txnId at t0+24 h, so this PUT posts a second notice.
    """
    socid, action = _matrix_action(world)
    world.rt.store.enqueue([(socid, action)], world.now)
    with pytest.raises(Killed):
        drain(world.rt.store, DiesAfterSending(world.rt.executor), world.now)  # type: ignore[arg-type]
    world.advance(hours=20)
    _killed_after_sending(world)
    assert len(world.matrix.messages(SALES)) == 1
    world.advance(hours=20)
    world.restart()
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(world.matrix.messages(SALES)) == 1


@pytest.mark.parametrize(
    ("system", "tags", "hours"),
    [
        pytest.param("freescout", ("Trial", "ICP-fit"), 1, id="freescout an hour later"),
        pytest.param("matrix", ("Trial",), 25, id="matrix a day later"),
    ],
)
def test_a_sent_but_unrecorded_action_is_not_sent_again_after_a_state_loss(
    world: World, system: str, tags: tuple[str, ...], hours: int
) -> None:
    """Chaos seed 9 (`--runs 150 --hours-per-run 12 --state-loss`), keys
    qualification_reminder:79:matrix and handoff_success:51:matrix.

    1. the notice (or the FreeScout offer) goes out, but leaving its key on the
       Dolibarr timeline fails: the row stays `sending` with `sent_at` (or it was
       held, outcome unknown) — either way the timeline does not show it;
    2. the state database is lost; the new one takes in the timeline, which lacks
       the key, so the rule plans the action afresh;
    3. FreeScout has no dedupe at all, and Matrix forgot the txnId after 24 h: the
       customer gets the offer twice, the room the notice twice.
    """
    email = "jane@aster.example"
    world.dolibarr.add_thirdparty(
        "Aster Labs",
        email=email,
        tags=tags,
        array_options={"signup_date": world.now.date()},
    )
    world.dolibarr.drop("POST", "/agendaevents", times=None)  # no key reaches the timeline
    world.cycle()
    sent = {
        "freescout": lambda: len(world.freescout.messages_to(email)),
        "matrix": lambda: len(world.matrix.messages(SALES)),
    }[system]
    assert sent() == 1
    world.dolibarr.clear_faults()
    path = world.rt.store.path
    world.rt.store.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    world.advance(hours=hours)
    world.restart()
    world.cycle()
    assert sent() == 1


def test_a_held_notice_is_not_sent_again_after_a_state_loss(world: World) -> None:
    """Chaos seeds 9 and 4242 (`--state-loss`), keys handoff_success:51:matrix,
    directory_listing_notify:38.

    1. the notice is posted and the process is killed before `sent_at` is stored;
    2. a day later the homeserver has forgotten the txnId; recovery held it (or, once
       notices were looked for in the room's history, found it done);
    3. the state database is lost; the new one takes in the timeline, the rule plans
       the notice again, and it is posted a second time.
    """
    world.dolibarr.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": world.now.date()},
    )
    world.rt.executor = DiesAfterSending(world.rt.executor, frozenset({"matrix.notify"}))  # type: ignore[assignment]
    with pytest.raises(Killed):
        world.cycle()
    assert len(world.matrix.messages(SALES)) == 1
    world.advance(hours=25)
    world.restart()
    world.cycle()
    settled = world.rt.store.get("signup_notify:1")  # held, or found in the room's history
    assert settled is not None and settled.status in (Status.HELD, Status.DONE)
    path = world.rt.store.path
    world.rt.store.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    world.advance(hours=1)
    world.restart()
    world.cycle()
    assert len(world.matrix.messages(SALES)) == 1
