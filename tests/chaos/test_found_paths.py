"""Duplicate paths the chaos run found, each replayed deterministically in-process.

Each test names the chaos seed that first showed the path. A test here is marked
`xfail(strict=True)` while its path is open: the day it is fixed the test passes,
turns red as XPASS, and its mark is removed.
"""

from __future__ import annotations

import pytest

from connectors.http import RetryPolicy
from syncd.model import Action
from syncd.outbox import drain, recover
from tests.harness import World

SALES = "!sales:test"


@pytest.mark.xfail(
    strict=True,
    reason="open: an unreadable 200 to a Matrix send is retried as transient without "
    "reconciling; after the homeserver's 24 h txnId memory the retry posts again",
)
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
