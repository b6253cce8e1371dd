"""Planning what changed and what is due gives what planning every case gives.

A property test on random worlds and random clocks: third parties with random
tags, activity, call dates, referrals, pauses, rates, invoices and contacts,
changed and deleted between cycles, the clock moved by minutes to days. At each
cycle the daemon's plan (only what changed, what it touches and what is due)
is compared with a plan of every case made from the same state: every case's
planned action keys, the planned actions themselves, and the cases in error.
Nothing is sent; what is planned is queued, so earlier messages and step
history evolve as in the daemon. Between cycles, syncd may also stop and a
`run --once` process go on from the planner memory the last one stored, or
crash after queueing a plan and before recording its cycle: that memory is
then not believed, and the next process plans every case.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import use_responses
from syncd import cycle, poll
from syncd.cycle import (
    Runtime,
    bad_cases,
    cycle_stats,
    decide,
    log_case_errors,
    plan,
    queue,
    read,
    resume_plan,
    settle_state,
    steps_of,
)
from syncd.outbox import DrainStats
from syncd.recipients import earlier_messages
from tests.fixtures_freescout import FREESCOUT_KEY, FREESCOUT_URL
from tests.fixtures_matrix import BOT, BOT_DEVICE, MATRIX_TOKEN, MATRIX_URL, ROOMS
from tests.fixtures_mautic import MAUTIC_PASSWORD, MAUTIC_URL, MAUTIC_USER
from tests.harness import World

PARTIES = 6


@contextmanager
def fresh_world(folder: Path) -> Iterator[World]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        dolibarr = FakeDolibarr()
        for label in SYNCD_CATEGORIES:
            dolibarr.add_category(label)
        mautic = FakeMautic()
        mautic.add_user(MAUTIC_USER, MAUTIC_PASSWORD)
        for email_id in (1, 2, 3):
            mautic.add_email(email_id, f"Template {email_id}")
        mautic.add_segment(1, "Nurture")
        freescout = FreescoutFake(api_key=FREESCOUT_KEY)
        freescout.add_mailbox("Sales", "sales@example.test")
        freescout.add_user("Ada", "Agent", "ada@example.test")
        matrix = FakeMatrix(server_name="test")
        matrix.add_user(BOT, MATRIX_TOKEN, BOT_DEVICE)
        for room_id in ROOMS:
            matrix.add_room(room_id, members=(BOT,))
        fakes: dict[str, Any] = {
            "dolibarr": dolibarr,
            "mautic": mautic,
            "freescout": freescout,
            "matrix": matrix,
        }
        urls = {
            "dolibarr": "http://dolibarr.test",
            "mautic": MAUTIC_URL,
            "freescout": FREESCOUT_URL,
            "matrix": MATRIX_URL,
        }
        for name, fake in fakes.items():
            use_responses(fake, mock, urls[name])
        yield World.build(folder, fakes, urls)


tags = st.sampled_from(SYNCD_CATEGORIES)
party = st.integers(0, PARTIES - 1)
linked = st.integers(0, 2)  # the partner and its two customers
change = st.one_of(
    st.tuples(st.just("tag"), party, tags),
    st.tuples(st.just("untag"), party, tags),
    st.tuples(st.just("logins"), party, st.integers(0, 5)),
    st.tuples(st.just("frameworks"), party, st.integers(0, 2)),
    st.tuples(st.just("call"), party, st.integers(-3, 3)),
    st.tuples(st.just("refer"), party, st.one_of(st.none(), st.sampled_from([0, 3]), party)),
    st.tuples(st.just("tag"), linked, st.just("Partner-Declined")),
    st.tuples(st.just("pause"), linked, st.booleans()),
    st.tuples(st.just("rate"), linked, st.sampled_from(["15", "150", "0.5", ""])),
    st.tuples(st.just("invoice"), party, st.booleans()),
    st.tuples(st.just("contact"), party, st.sampled_from(["a@shared.example", "b@x.example"])),
    st.tuples(st.just("delete"), party, st.none()),
)
rounds = st.lists(
    st.tuples(
        st.lists(change, max_size=3),
        st.sampled_from([10, 90, 600, 1440, 2900]),  # minutes, across midnights too
        st.sampled_from(["daemon", "once", "crash"]),  # how the cycle runs (see the docstring)
    ),
    min_size=2,
    max_size=6,
)
signups = st.lists(st.integers(0, 20), min_size=PARTIES, max_size=PARTIES)
starting_tags = st.lists(st.lists(tags, max_size=2), min_size=PARTIES, max_size=PARTIES)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(signups, starting_tags, rounds)
def test_planning_what_changed_plans_what_planning_everything_plans(
    days_ago: list[int], labels: list[list[str]], changes: list[Any]
) -> None:
    slices = patch.object(cycle, "PLAN_SLICE", 2)  # every case is planned a slice at a time
    # Random changes may empty a watched tag; the guard that stops such a cycle has tests
    # of its own (tests/test_poll.py), and here would only stop both plans alike.
    unguarded = patch.object(poll, "GUARD_MIN_MEMBERS", PARTIES + 1)
    with tempfile.TemporaryDirectory() as tmp, fresh_world(Path(tmp)) as w, slices, unguarded:
        d = w.dolibarr
        today = w.now.astimezone(d.tz).date()
        ids = [
            d.add_thirdparty(
                f"Party {n}",
                email=f"p{n}@x.example" if n % 3 else "a@shared.example",
                tags=tuple(labels[n]),
                array_options={"signup_date": today - timedelta(days=days_ago[n])},
            )
            for n in range(PARTIES)
        ]
        # A partner with two referred, paying customers: changes to one touch the others;
        # and a partner prospect no customer names yet.
        d.tag(ids[3], "Partner-Prospect")
        d.tag(ids[0], "Partner-Active")
        d.set_fields(ids[0], commission_rate="15")
        for n in (1, 2):
            d.set_fields(ids[n], referred_by=ids[0])
            d.add_invoice(ids[n], f"FA2611-000{n}", "1000.00", paid=True)
        compare_one_cycle(w)
        believed = True  # the state database holds a planner memory a new process believes
        invoices = 0
        for batch, minutes, how in changes:
            sweep = False
            for what, n, value in batch:
                socid = ids[n]
                if socid not in d.thirdparties:
                    continue
                sweep |= what == "delete"
                invoices += 1
                apply(w, what, socid, value, ids, invoices)
            w.advance(minutes=minutes)
            if how == "once":
                assert (run_once_process(w) is not None) == believed
            if sweep:
                w.rt.mirror.polls = w.rt.config.dolibarr.sweep_every  # the id sweep is due
            wrote = compare_one_cycle(w, crash=how == "crash")
            # A cycle that crashed after writing a memory leaves none believed.
            believed = believed and not wrote if how == "crash" else True
            if how == "crash":
                assert (run_once_process(w) is not None) == believed
                believed = False  # that process took it, and the next one starts afresh


def run_once_process(w: World) -> Runtime | None:
    """A new `run --once` process starting from the state database: its runtime, when it
    plans from the planner memory the last one stored."""
    w.restart()
    w.rt.resume_plan = True
    resume_plan(w.rt)
    return w.rt if w.rt.planner.day is not None else None


def apply(w: World, what: str, socid: int, value: Any, ids: list[int], serial: int) -> None:
    d = w.dolibarr
    if what == "tag":
        d.tag(socid, value)
    elif what == "untag":
        d.untag(socid, value)
    elif what == "logins":
        d.set_fields(socid, logins_count=value)
    elif what == "frameworks":
        d.set_fields(socid, frameworks_mapped=value)
    elif what == "call":
        d.set_fields(socid, onboarding_call_date=w.now.date() + timedelta(days=value))
    elif what == "refer":
        d.set_fields(socid, referred_by=None if value is None else ids[value])
    elif what == "pause":
        d.set_fields(socid, syncd_pause=int(value))
    elif what == "rate":
        d.set_fields(socid, commission_rate=value or None)
    elif what == "invoice":
        d.add_invoice(socid, f"FA2612-{serial:04d}", "1000.00", paid=value)
    elif what == "contact":
        d.add_contact(socid, "Jo", "Doe", value)
    elif what == "delete":
        d.delete_thirdparty(socid)


def compare_one_cycle(w: World, crash: bool = False) -> bool:
    """One daemon cycle without sending, its plan checked against a plan of everything;
    `crash`: it ends after queueing, before its cycle is recorded. Whether it wrote the
    planner memory (a plan of nothing leaves the stored one as it is)."""
    rt, now = w.rt, w.now
    settle_state(rt, now)
    polled = read(rt, now, None)
    every = plan(
        rt.mirror,
        rt.config,
        rt.ruleset,
        now,
        rt.store.step_places(),
        earlier_messages(rt.store.messages()),
    )
    result = decide(rt, now, polled)
    log_case_errors(rt, result)
    wanted = {r.case_id: tuple(a.key for a in r.actions) for r in every.reports}
    assert rt.planner.keys == wanted
    assert set(rt.case_errors) == {r.case_id for r in every.reports if r.errors}
    fresh = {r.case_id: r for r in every.reports}
    for report in result.reports:
        assert report.actions == fresh[report.case_id].actions
        assert report.step == fresh[report.case_id].step
    wrote = not rt.planner.stored
    queue(rt, result, now)
    if crash:
        return wrote
    stats = cycle_stats(rt, DrainStats())
    rt.store.save_cycle(rt.mirror, steps_of(result), now, now, stats, bad_cases(rt))
    return wrote
