"""Matrix notices as a current Synapse takes them: room ids of every version, aliases,
transaction ids that dedupe per device only, and refused tokens.

Through the stateful fake homeserver; a "restart" is a new runtime on the same
state database, a "new token" a new login (a new device) written into the config.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from syncd.cycle import start
from syncd.model import Action
from syncd.outbox import DrainStats, drain, recover
from syncd.store import Status
from tests.harness import World

BOT = "@syncd:test"
SALES = "!sales:test"
V12_ROOM = "!uA-eA0pemxSuAlDzV6g3DhfTrIjozhQiWlrZ-klSNdw"


class Crash(BaseException):
    """The process dies here (nothing in syncd may catch it)."""


def notice(world: World, socid: int = 7, room: str = "sales") -> Action:
    payload = {"room": room, "text": f"New trial: case {socid}"}
    return Action("matrix.notify", f"signup_notify:{socid}", room, payload, "test", "signup_notify")


def enqueue(world: World, *actions: Action) -> None:
    world.rt.store.enqueue([(int(a.key.split(":")[1]), a) for a in actions], world.now)


def trial(world: World) -> str:
    """A trial that signed up today; the key of its signup notice."""
    d = world.dolibarr
    socid = d.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial",),
        array_options={"signup_date": world.now.astimezone(d.tz).date()},
    )
    return f"signup_notify:{socid}"


def set_config(world: World, old: str, new: str) -> None:
    text = world.config_path.read_text()
    assert old in text
    world.config_path.write_text(text.replace(old, new))


def new_token(world: World) -> None:
    """A person logs syncd's Matrix user in again: a new token on a new device."""
    world.matrix.add_user(BOT, "fresh-token", "NEWDEVICE")
    set_config(world, "access_token = matrix-token", "access_token = fresh-token")


def one_try(world: World) -> None:
    matrix: Any = world.rt.executor.matrix
    matrix.http.policy = type(matrix.http.policy)(attempts=1, sleep=lambda _: None)


def posted(world: World, key: str, room: str = SALES) -> int:
    return sum(1 for e in world.matrix.events(room) if e.content.get("org.syncd.key") == key)


# -- room ids and aliases ------------------------------------------------------------------


def test_a_room_of_version_12_and_an_alias_both_receive_notices(world: World) -> None:
    world.matrix.add_room(V12_ROOM, members=(BOT,))
    world.matrix.add_alias("#success:test", "!success:test")
    set_config(world, "room_sales = !sales:test", f"room_sales = {V12_ROOM}")
    set_config(world, "room_success = !success:test", "room_success = #success:test")
    world.restart()
    start(world.rt, world.now, DrainStats())
    sales, success = notice(world, 7), notice(world, 8, room="success")
    enqueue(world, sales, success)
    drain(world.rt.store, world.rt.executor, world.now)
    assert posted(world, sales.key, V12_ROOM) == 1
    assert posted(world, success.key, "!success:test") == 1
    # Resolved once, at start, not per notice.
    assert world.matrix.count("GET", "/_matrix/client/v3/directory/room") == 1


def test_an_alias_nobody_created_fails_its_notices_naming_it(world: World) -> None:
    set_config(world, "room_sales = !sales:test", "room_sales = #nowhere:test")
    world.restart()
    action = notice(world)
    enqueue(world, action)
    stats = drain(world.rt.store, world.rt.executor, world.now)
    assert stats.failed == 1 and not stats.refused
    row = world.rt.store.get(action.key)
    assert row is not None and row.status is Status.FAILED
    assert "Room alias #nowhere:test not found" in (row.last_error or "")


# -- one device, one transaction memory ------------------------------------------------------


def test_the_claim_stores_the_device_of_the_token(world: World) -> None:
    key = trial(world)
    world.cycle()
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.DONE and row.device == "SYNCDDEVICE"


def test_a_lost_answer_then_a_new_token_finds_the_notice_instead_of_posting_it_again(
    world: World,
) -> None:
    action = notice(world)
    enqueue(world, action)
    one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True)
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 1
    assert posted(world, action.key) == 1
    new_token(world)
    world.restart()
    world.advance(minutes=5)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert posted(world, action.key) == 1  # a resend on the new device would post it again
    row = world.rt.store.get(action.key)
    assert row is not None and row.result == "found done remotely"


def test_a_crash_right_after_the_send_then_a_new_token_posts_once(world: World) -> None:
    action = notice(world)
    enqueue(world, action)
    real = world.rt.executor.execute

    def send_then_die(row: Any, now: Any) -> Any:
        real(row, now)
        raise Crash

    world.rt.executor.execute = send_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        drain(world.rt.store, world.rt.executor, world.now)
    new_token(world)
    world.restart()
    assert recover(world.rt.store, world.rt.executor, world.now).done == 1
    assert posted(world, action.key) == 1


def test_a_new_token_still_sends_a_notice_that_never_arrived(world: World) -> None:
    action = notice(world)
    enqueue(world, action)
    one_try(world)
    world.matrix.drop("PUT", "/_matrix")  # lost before the homeserver saw it
    drain(world.rt.store, world.rt.executor, world.now)
    assert posted(world, action.key) == 0
    new_token(world)
    world.restart()
    world.advance(minutes=5)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert posted(world, action.key) == 1


def test_on_the_same_device_a_resend_relies_on_the_transaction_id(world: World) -> None:
    action = notice(world)
    enqueue(world, action)
    one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True)
    drain(world.rt.store, world.rt.executor, world.now)
    world.restart()
    world.advance(minutes=5)
    world.matrix.clear_log()
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert posted(world, action.key) == 1
    assert world.matrix.count("GET", "/_matrix/client/v3/rooms") == 0  # no history read


# -- a token that stops working ----------------------------------------------------------------


def test_a_refused_token_fails_the_notice_once_and_a_restart_sends_it(world: World) -> None:
    key = trial(world)
    world.matrix.logout("matrix-token")
    world.restart()
    result = world.cycle()
    assert result.stats.refused == {"matrix": "401 credentials refused"}
    row = world.rt.store.get(key)
    assert row is not None and row.status is Status.FAILED and row.refused == "matrix"
    puts = world.matrix.count("PUT")
    for _ in range(3):  # the daemon's next cycles do not knock again
        world.advance(hours=1)
        world.cycle()
    assert world.matrix.count("PUT") == puts
    world.matrix.add_user(BOT, "matrix-token", "SYNCDDEVICE")
    world.restart()
    world.advance(hours=1)
    world.cycle()
    assert posted(world, key) == 1


# -- digests ------------------------------------------------------------------------------------


def notices(world: World, n: int) -> list[Action]:
    """`n` notices for #sales, each on a third party of its own."""
    found = []
    for k in range(n):
        socid = world.dolibarr.add_thirdparty(f"Trial {k}", email=f"t{k}@example.org")
        found.append(notice(world, socid))
    return found


def in_room(world: World, room: str = SALES) -> list[dict[str, Any]]:
    return [dict(e.content) for e in world.matrix.events(room)]


def all_done(world: World, actions: list[Action]) -> bool:
    rows = [world.rt.store.get(a.key) for a in actions]
    return all(row is not None and row.status is Status.DONE for row in rows)


def test_more_than_a_few_notices_for_a_room_go_out_as_one_digest_naming_case_and_key(
    world: World,
) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)
    stats = drain(world.rt.store, world.rt.executor, world.now)
    assert stats.done == 5
    [digest] = in_room(world)
    assert digest["msgtype"] == "m.notice" and digest["m.mentions"] == {}
    assert digest["org.syncd.keys"] == [a.key for a in actions]
    assert digest["body"].splitlines()[0] == "5 notices:"
    for action in actions:
        case = action.key.split(":")[1]
        assert f"• New trial: case {case} (case {case}, {action.key})" in digest["body"]
    assert all_done(world, actions)
    assert sorted(label.split(" ")[1] for label in world.syncd_events()) == sorted(
        a.key for a in actions
    )  # each item is recorded on its own case's timeline


def test_a_few_notices_or_digests_switched_off_go_out_one_by_one(world: World) -> None:
    enqueue(world, *notices(world, 3))
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(in_room(world)) == 3
    set_config(
        world, "room_success = !success:test", "room_success = !success:test\ndigest_after = 0"
    )
    world.restart()
    enqueue(world, *notices(world, 5))
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(in_room(world)) == 3 + 5


def test_a_crash_right_after_the_digest_was_posted_marks_every_item_done_from_the_room(
    world: World,
) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)
    real = world.rt.executor.send_digest

    def post_then_die(rows: Any, digest: str) -> str:
        real(rows, digest)
        raise Crash

    world.rt.executor.send_digest = post_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        drain(world.rt.store, world.rt.executor, world.now)
    world.restart()
    assert recover(world.rt.store, world.rt.executor, world.now).done == 5
    assert len(in_room(world)) == 1 and all_done(world, actions)


def test_a_crash_before_the_digest_was_posted_sends_it_once_after_a_restart(
    world: World,
) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)

    def die(rows: Any, digest: str) -> str:
        raise Crash

    world.rt.executor.send_digest = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        drain(world.rt.store, world.rt.executor, world.now)
    world.restart()
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    [digest] = in_room(world)
    assert sorted(digest["org.syncd.keys"]) == sorted(a.key for a in actions)
    assert all_done(world, actions)


def test_a_digest_whose_answer_was_lost_is_found_in_the_room_not_posted_again(
    world: World,
) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)
    one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True)
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 5
    world.advance(minutes=5)
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(in_room(world)) == 1 and all_done(world, actions)


def test_a_digest_refused_by_the_rate_limit_goes_out_once_when_the_wait_is_over(
    world: World,
) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)
    one_try(world)
    world.matrix.rate_limit(1, retry_after_ms=30_000)
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 5
    assert in_room(world) == []
    world.advance(minutes=1)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 5
    assert len(in_room(world)) == 1


def test_on_a_new_databases_first_day_notices_are_looked_for_then_sent_as_a_digest(
    world: World,
) -> None:
    actions = notices(world, 5)
    posted_before = actions[0]  # a lost run posted this one
    world.matrix._post(SALES, "m.room.message", BOT, {"org.syncd.key": posted_before.key}, "x")
    cases = [(int(a.key.split(":")[1]), a) for a in actions]
    world.rt.store.enqueue(cases, world.now, world.now - timedelta(days=30))
    drain(world.rt.store, world.rt.executor, world.now)
    _found, digest = in_room(world)
    assert sorted(digest["org.syncd.keys"]) == sorted(a.key for a in actions[1:])
    assert all_done(world, actions)


def test_a_homeserver_that_cannot_say_who_we_are_holds_up_nothing_else(world: World) -> None:
    actions = notices(world, 5)
    enqueue(world, *actions)
    world.rt.executor.targets.digest_after = 0  # sent one by one, each answer lost
    one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True, times=None)
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 5
    world.matrix.clear_faults()
    world.restart()  # digests on again; the device must be asked again
    world.matrix.fail("GET", "/_matrix/client/v3/account/whoami", status=502, times=None)
    one_try(world)
    world.advance(minutes=5)
    stats = drain(world.rt.store, world.rt.executor, world.now)  # does not raise
    assert stats.done == 0
    world.matrix.clear_faults()
    drain(world.rt.store, world.rt.executor, world.now)
    assert len(in_room(world)) == 5 and all_done(world, actions)  # each resent alone, deduped
