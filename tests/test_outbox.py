"""Effectively once: crashes at every step boundary, unknown outcomes, retries, rebuilds.

Actions are put straight into the outbox (as a cycle would), then carried out
through the real executor against the stateful fakes. A `Crash` is thrown at a
chosen step; a new process (a new Store on the same file) must then finish the
job with no effect lost and none doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.executor import Executor, needs_record
from syncd.model import Action
from syncd.outbox import OutboxPolicy, drain, recover
from syncd.store import OutboxRow, Status
from tests.harness import World

EMAIL = "jane@aster.example"
SALES = "!sales:test"


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in syncd may catch it)."""


class CrashingExecutor:
    """The real executor, dying at one step boundary of the delivery sequence."""

    def __init__(self, real: Executor, point: str) -> None:
        self.real, self.point = real, point

    def execute(self, row: OutboxRow, now: Any) -> str:
        if self.point == "claimed":
            raise Crash
        result = self.real.execute(row, now)
        if self.point == "sent":
            raise Crash
        return result

    def record(self, row: OutboxRow, now: Any) -> None:
        if self.point == "sent_at_stored":
            raise Crash
        self.real.record(row, now)
        if self.point == "recorded":
            raise Crash

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def world(world: World) -> World:
    """The shared world plus one untagged third party to act on."""
    w = world
    w.socid = w.dolibarr.add_thirdparty("Aster Labs", email=EMAIL)  # type: ignore[attr-defined]
    w.cycle()  # learns the tag categories; the untagged case plans nothing
    assert w.rt.store.counts() == {}
    return w


def plan(world: World, kind: str) -> Action:
    socid = world.socid  # type: ignore[attr-defined]
    payloads: dict[str, tuple[str, str, dict[str, Any]]] = {
        "matrix.notify": ("signup_notify", "sales", {"room": "sales", "text": "New trial"}),
        "freescout.message": (
            "welcome_call_offer",
            EMAIL,
            {
                "mailbox_id": 1,
                "subject": "Your call",
                "text": "Book here",
                "email": EMAIL,
                "name": "Aster Labs",
            },
        ),
        "mautic.send_email": (
            "check_in_email",
            EMAIL,
            {"template_id": 1, "email": EMAIL, "name": "Aster Labs", "mautic_contact_id": None},
        ),
        "dolibarr.note": (
            "partner_referral_note",
            f"thirdparty:{socid}",
            {"socid": socid, "text": "Referred by Quartz"},
        ),
        "dolibarr.agenda_event": (
            "conversion_proposal",
            f"thirdparty:{socid}",
            {"socid": socid, "label": "Send proposal", "owner_id": 1, "is_task": True},
        ),
        "dolibarr.tag": (
            "subscription_activate",
            f"thirdparty:{socid}",
            {"socid": socid, "tag": "customer_active"},
        ),
    }
    rule, target, payload = payloads[kind]
    return Action(kind, f"{rule}:{socid}", target, payload, "test", rule=rule)


def effects(world: World, action: Action) -> int:
    """How many times the action's effect exists on the remote side."""
    d, socid = world.dolibarr, world.socid  # type: ignore[attr-defined]
    counters: dict[str, Callable[[], int]] = {
        "matrix.notify": lambda: len(world.matrix.messages(SALES)),
        "freescout.message": lambda: len(world.freescout.messages_to(EMAIL)),
        "mautic.send_email": lambda: len(world.mautic.sent(to=EMAIL)),
        "dolibarr.note": lambda: str(d.thirdparties[socid].fields.get("note_private") or "").count(
            f"[{action.key}]"
        ),
        "dolibarr.agenda_event": lambda: sum(
            1 for e in d.events.values() if e.label.startswith(f"[syncd] {action.key} ")
        ),
        "dolibarr.tag": lambda: int(socid in d.members[d.category_id("Customer-Active")]),
    }
    return counters[action.kind]()


def records(world: World, key: str) -> int:
    return sum(1 for label in world.syncd_events() if label.split(" ")[1] == key)


KINDS = [
    "matrix.notify",
    "freescout.message",
    "mautic.send_email",
    "dolibarr.note",
    "dolibarr.agenda_event",
    "dolibarr.tag",
]
POINTS = ["claimed", "sent", "sent_at_stored", "recorded"]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_crash_at_any_step_neither_loses_nor_doubles(world: World, kind: str, point: str) -> None:
    action = plan(world, kind)
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    crashing = CrashingExecutor(world.rt.executor, point)
    with pytest.raises(Crash):
        drain(world.rt.store, crashing, world.now)  # type: ignore[arg-type]
    world.advance(minutes=2)
    world.restart()
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    assert_done_once(world, action)


def assert_done_once(world: World, action: Action) -> None:
    """Done in the outbox, its effect once on the remote side, its key once on the timeline."""
    row = world.rt.store.get(action.key)
    assert row is not None and row.status is Status.DONE, row
    assert effects(world, action) == 1
    on_timeline = action.kind == "dolibarr.agenda_event" or needs_record(action.kind, action.key)
    assert records(world, action.key) == (1 if on_timeline else 0)  # a tag needs no record


def action_case(world: World) -> int:
    return int(world.socid)  # type: ignore[attr-defined]


def test_freescout_timeout_after_the_server_created_it_is_reconciled_not_resent(
    world: World,
) -> None:
    action = plan(world, "freescout.message")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.freescout.timeout("POST", "/api/conversations", after_apply=True)
    stats = drain(world.rt.store, world.rt.executor, world.now)
    assert stats.done == 1 and effects(world, action) == 1
    assert "found done" in (world.rt.store.get(action.key).result or "")  # type: ignore[union-attr]


def test_mautic_send_5xx_after_sending_is_reconciled_from_email_stats(world: World) -> None:
    action = plan(world, "mautic.send_email")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.mautic.drop("POST", "/api/emails", after_apply=True)
    drain(world.rt.store, world.rt.executor, world.now)
    assert effects(world, action) == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]


def test_opted_out_contact_is_not_mailed_and_the_action_is_skipped_not_done(
    world: World,
) -> None:
    contact = world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    action = plan(world, "mautic.send_email")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    stats = drain(world.rt.store, world.rt.executor, world.now)
    row = world.rt.store.get(action.key)
    assert effects(world, action) == 0 and stats.skipped == 1 and stats.done == 0
    assert row is not None and row.status is Status.SKIPPED and row.attempts == 0
    assert row.last_error == f"do-not-contact: Mautic contact {contact} opted out of email"
    assert world.syncd_events() == []  # nothing on the timeline: a lost database asks again


def test_transient_failures_back_off_across_cycles_then_succeed(world: World) -> None:
    action = plan(world, "matrix.notify")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.matrix.fail("PUT", "/_matrix", status=502, times=None)
    world.rt.executor.matrix.http.policy = type(world.rt.executor.matrix.http.policy)(  # type: ignore[union-attr]
        attempts=1, sleep=lambda _: None
    )
    stats = drain(world.rt.store, world.rt.executor, world.now)
    row = world.rt.store.get(action.key)
    assert stats.retrying == 1 and row is not None and row.status is Status.PLANNED
    assert row.next_attempt_at is not None and row.next_attempt_at > world.now
    assert drain(world.rt.store, world.rt.executor, world.now).done == 0  # not due yet
    world.matrix.clear_faults()
    world.advance(minutes=5)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1


def test_validation_error_fails_at_once_with_the_remote_message(world: World) -> None:
    action = plan(world, "freescout.message")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.freescout.fail(
        "POST",
        "/api/conversations",
        status=400,
        body='{"message": "Error occurred", "_embedded": {"errors": '
        '[{"path": "mailboxId", "message": "Mailbox not found"}]}}',
    )
    stats = drain(world.rt.store, world.rt.executor, world.now)
    row = world.rt.store.get(action.key)
    assert stats.failed == 1 and row is not None and row.status is Status.FAILED
    assert "Mailbox not found" in (row.last_error or "")


def test_unknown_outcome_is_held_then_a_person_decides(world: World, capsys: Any) -> None:
    action = plan(world, "matrix.notify")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    with pytest.raises(Crash):
        drain(world.rt.store, CrashingExecutor(world.rt.executor, "sent"), world.now)  # type: ignore[arg-type]
    world.advance(days=2)  # the homeserver has forgotten the txnId by now
    world.restart()
    world.matrix.fail("GET", "/_matrix/client/v3/rooms", status=403, times=None)  # no history
    recover(world.rt.store, world.rt.executor, world.now)
    row = world.rt.store.get(action.key)
    assert row is not None and row.status is Status.HELD
    ini = str(world.config_path)
    assert main(["--config", ini, "actions", "--status", "held"]) == 0
    assert action.key in capsys.readouterr().out
    assert main(["--config", ini, "release", action.key]) == 0
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]
    assert effects(world, action) == 1  # not resent


def test_retry_sends_a_failed_action_again(world: World, capsys: Any) -> None:
    action = plan(world, "freescout.message")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.freescout.fail("POST", "/api/conversations", status=400)
    drain(world.rt.store, world.rt.executor, world.now)
    assert main(["--config", str(world.config_path), "retry", action.key]) == 0
    assert main(["--config", str(world.config_path), "retry", "nope:1"]) == 1
    world.advance(minutes=1)
    drain(world.rt.store, world.rt.executor, world.now)
    assert effects(world, action) == 1


def add_icp_trial(world: World) -> None:
    """A case that makes a FreeScout message, a Matrix notice and a Mautic email at once."""
    world.dolibarr.add_thirdparty(
        "Birch Data",
        email="b@birch.example",
        tags=("Trial", "ICP-fit"),
        array_options={"signup_date": world.now.date() - timedelta(days=8)},
    )


def sent_to_birch(world: World) -> tuple[object, ...]:
    return (
        world.freescout.messages_to("b@birch.example"),
        world.matrix.messages(SALES),
        world.mautic.sent(),
        sorted(world.syncd_events()),
    )


def test_lost_state_database_is_rebuilt_from_dolibarr_and_nothing_is_resent(
    world: World, capsys: Any
) -> None:
    add_icp_trial(world)
    first = world.cycle()
    assert first.stats.done >= 3
    sent = sent_to_birch(world)
    world.rt.store.close()
    Path(world.rt.store.path).unlink()
    assert main(["--config", str(world.config_path), "rebuild-state"]) == 0
    assert "marked done" in capsys.readouterr().out
    world.restart()
    world.advance(hours=1)
    again = world.cycle()
    assert again.stats.done == 0
    assert sent_to_birch(world) == sent


def test_without_a_configured_user_freescout_sends_as_its_first_agent(world: World) -> None:
    world.rt.executor.targets.freescout_user_id = None
    action = plan(world, "freescout.message")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_cut_answer_to_a_dolibarr_write_is_reconciled_not_repeated(
    world: World, kind: str
) -> None:
    """Dolibarr created the event, then its 200 answer was cut short: unknown, not retryable."""
    action = plan(world, kind)
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.dolibarr.malformed("POST", "/agendaevents")
    drain(world.rt.store, world.rt.executor, world.now)
    for _ in range(3):  # later cycles find nothing left to do
        world.advance(hours=1)
        recover(world.rt.store, world.rt.executor, world.now)
        drain(world.rt.store, world.rt.executor, world.now)
    assert_done_once(world, action)


def test_a_sent_action_whose_recording_fails_in_recovery_is_retried_not_held(
    world: World,
) -> None:
    action = plan(world, "freescout.message")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    with pytest.raises(Crash):
        drain(world.rt.store, CrashingExecutor(world.rt.executor, "sent_at_stored"), world.now)  # type: ignore[arg-type]
    world.restart()
    world.dolibarr.fail("POST", "/agendaevents", status=500, times=None)
    recover(world.rt.store, world.rt.executor, world.now)
    row = world.rt.store.get(action.key)
    assert row is not None and row.status is Status.SENDING and row.sent_at is not None
    world.dolibarr.clear_faults()
    world.advance(minutes=5)
    assert recover(world.rt.store, world.rt.executor, world.now).done == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]
    assert effects(world, action) == 1
    assert records(world, action.key) == 1


def test_an_agenda_event_already_on_the_timeline_is_not_created_again(world: World) -> None:
    """Its outbox row was lost with the database: the case's timeline is asked first."""
    action = plan(world, "dolibarr.agenda_event")
    world.rt.executor.execute(world.rt.store.get(action.key) or _row(world, action), world.now)
    assert effects(world, action) == 1
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1


def _row(world: World, action: Action) -> OutboxRow:
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    row = world.rt.store.get(action.key)
    assert row is not None
    world.rt.store.db.execute("delete from outbox where key = ?", [action.key])
    return row


@pytest.mark.parametrize("loss", ["deleted", "empty file", "old copy"])
def test_a_lost_state_database_resends_nothing_without_a_rebuild(
    world: World, loss: str
) -> None:
    add_icp_trial(world)
    path = Path(world.rt.store.path)
    old = path.read_bytes() if loss == "old copy" else b""
    assert world.cycle().stats.done >= 3
    sent = sent_to_birch(world)
    world.rt.store.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    if loss != "deleted":
        path.write_bytes(old)
    world.restart()
    world.advance(hours=1)
    assert world.cycle().stats.done == 0
    assert sent_to_birch(world) == sent


def _one_try(world: World) -> None:
    policy = type(world.rt.executor.matrix.http.policy)(attempts=1, sleep=lambda _: None)  # type: ignore[union-attr]
    world.rt.executor.matrix.http.policy = policy  # type: ignore[union-attr]


def test_a_notice_whose_answer_was_lost_is_found_in_the_room_not_posted_again_a_day_later(
    world: World,
) -> None:
    action = plan(world, "matrix.notify")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    _one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True)
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 1
    assert effects(world, action) == 1  # the homeserver posted it
    world.advance(hours=25)  # and has forgotten the transaction id by now
    world.restart()
    stats = drain(world.rt.store, world.rt.executor, world.now)
    assert stats.done == 1 and effects(world, action) == 1
    row = world.rt.store.get(action.key)
    assert row is not None and row.status is Status.DONE
    assert row.result == "found done remotely"


def test_a_notice_refused_by_the_rate_limiter_is_sent_however_late(world: World) -> None:
    action = plan(world, "matrix.notify")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    _one_try(world)
    world.matrix.fail("PUT", "/_matrix", status=429, headers={"Retry-After": "1"})
    assert drain(world.rt.store, world.rt.executor, world.now).retrying == 1
    world.advance(hours=25)
    world.restart()
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1


def test_a_message_sent_but_never_recorded_is_not_sent_again_after_the_database_is_lost(
    world: World,
) -> None:
    """Dolibarr refused every record, then the disk went: FreeScout is asked before resending."""
    add_icp_trial(world)
    world.dolibarr.drop("POST", "/agendaevents", times=None)
    world.cycle()
    assert len(world.freescout.messages_to("b@birch.example")) == 1
    world.dolibarr.clear_faults()
    path = Path(world.rt.store.path)
    world.rt.store.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    world.advance(hours=1)
    world.restart()
    world.cycle()
    assert len(world.freescout.messages_to("b@birch.example")) == 1
    assert len(world.mautic.sent(to="b@birch.example")) == 1


@pytest.mark.parametrize("kind", ["freescout.message", "mautic.send_email", "matrix.notify"])
def test_an_answer_cut_off_midway_is_an_unknown_outcome_not_a_failed_cycle(
    world: World, kind: str
) -> None:
    action = plan(world, kind)
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    fake = {"freescout.message": world.freescout, "mautic.send_email": world.mautic}.get(
        kind, world.matrix
    )
    method, prefix = {
        "freescout.message": ("POST", "/api/conversations"),
        "mautic.send_email": ("POST", "/api/emails"),
        "matrix.notify": ("PUT", "/_matrix"),
    }[kind]
    fake.cut(method, prefix)  # type: ignore[attr-defined]
    drain(world.rt.store, world.rt.executor, world.now)
    world.advance(hours=1)
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    assert effects(world, action) == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]


def _trials(world: World, count: int) -> list[str]:
    emails = [f"t{n}@trial{n}.example" for n in range(count)]
    for n, email in enumerate(emails):
        world.dolibarr.add_thirdparty(
            f"Trial {n}",
            email=email,
            tags=("Trial", "ICP-fit"),
            array_options={"signup_date": world.now.date() - timedelta(days=8)},
        )
    return emails


def test_a_new_databases_first_day_reads_the_timeline_once_not_once_per_action(
    world: World,
) -> None:
    """Every action of the first day is asked about (a lost run may have done it): the
    Dolibarr timeline answers for all of them in one read; the other systems are
    still asked one by one."""
    emails = _trials(world, 6)
    world.dolibarr.clear_log()
    result = world.cycle()
    assert result.stats.done >= 6 * 3
    assert world.dolibarr.count("GET", "/agendaevents") == 1
    assert all(len(world.freescout.messages_to(email)) == 1 for email in emails)
    assert all(len(world.mautic.sent(to=email)) == 1 for email in emails)
    keys = [label.split(" ")[1] for label in world.syncd_events()]
    assert len(keys) == len(set(keys)) >= 6 * 3


def test_an_event_a_lost_run_left_after_the_mark_is_found_by_the_read_ahead(
    world: World,
) -> None:
    """The read beyond the mark marks done what it finds: not created again."""
    action = plan(world, "dolibarr.agenda_event")
    world.rt.executor.execute(_row(world, action), world.now)
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.dolibarr.clear_log()
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1
    assert world.dolibarr.count("GET", "/agendaevents") == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]


def test_an_event_whose_answer_was_lost_is_looked_for_again_not_taken_from_the_read_ahead(
    world: World,
) -> None:
    """Attempted after the read (its POST landed, the answer was lost): asked for itself."""
    action = plan(world, "dolibarr.agenda_event")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.dolibarr.drop("POST", "/agendaevents", after_apply=True)
    drain(world.rt.store, world.rt.executor, world.now)
    assert effects(world, action) == 1
    world.advance(hours=1)
    recover(world.rt.store, world.rt.executor, world.now)
    drain(world.rt.store, world.rt.executor, world.now)
    assert effects(world, action) == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]


def test_when_the_read_ahead_fails_each_action_asks_for_itself(world: World) -> None:
    action = plan(world, "dolibarr.agenda_event")
    world.rt.executor.execute(_row(world, action), world.now)
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    world.dolibarr.fail("GET", "/agendaevents", status=400, times=1)
    world.dolibarr.clear_log()
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert world.dolibarr.count("GET", "/agendaevents") == 2  # the read ahead, then its own
    assert effects(world, action) == 1
    assert world.rt.store.get(action.key).status is Status.DONE  # type: ignore[union-attr]


def test_a_fresh_install_that_had_nothing_to_do_is_past_its_careful_first_day_after_a_restart(
    world: World,
) -> None:
    """Nothing recorded yet (the mark stays 0): a restart days later is no new database."""
    world.advance(days=2)
    world.restart()
    world.cycle()
    add_icp_trial(world)
    world.mautic.clear_log()
    world.freescout.clear_log()
    world.cycle()
    assert len(world.mautic.sent(to="b@birch.example")) == 1
    assert world.mautic.count("GET", "/api/stats") == 0  # not asked whether a lost run sent it
    assert world.freescout.count("GET", "/api/conversations") == 0


def test_retrying_a_failed_notice_whose_attempt_landed_finds_it_in_the_room(world: World) -> None:
    """`retry KEY` on a failed action keeps what its attempts may have done: asked first."""
    action = plan(world, "matrix.notify")
    world.rt.store.enqueue([(action_case(world), action)], world.now)
    _one_try(world)
    world.matrix.drop("PUT", "/_matrix", after_apply=True)
    assert drain(world.rt.store, world.rt.executor, world.now, policy=OutboxPolicy(1)).failed == 1
    assert effects(world, action) == 1  # the homeserver posted it; the answer was lost
    world.advance(days=2)  # and has forgotten the transaction id by now
    assert main(["--config", str(world.config_path), "retry", action.key]) == 0
    world.restart()
    assert drain(world.rt.store, world.rt.executor, world.now).done == 1
    assert effects(world, action) == 1
