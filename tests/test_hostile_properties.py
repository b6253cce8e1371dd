"""Property tests: whatever a Dolibarr third party holds, one case carries it.

Hypothesis draws third-party bodies with missing, extra, null and wrong-typed
fields, every date shape Dolibarr has used, huge strings, NUL and
right-to-left text, and sqlfilters syntax; the stateful fake serves them
(`serve_raw`) to the real client, poll, casebuild and engine. Each case either
plans cleanly or carries one short `field …` error, and a sane case beside it
is always planned. Examples are few and fast, as `make test` runs them every
time; SYNCD_HYPOTHESIS_EXAMPLES=2000 searches harder.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.fakes.dolibarr import DROP, SYNCD_EXTRAFIELDS, FakeDolibarr
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import use_responses
from connectors.http import RetryPolicy
from syncd.cycle import read_and_plan
from syncd.mirror import Mirror
from syncd.model import CaseReport
from syncd.store import Status
from tests.harness import World

FAST = settings(
    max_examples=int(os.environ.get("SYNCD_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_hosts = itertools.count()

SQL_BITS = ["'", ")", "(", "%", "_", ":", "\\", " or ", "(t.rowid:>:0)", "__NOW__", "--", ";"]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "nul\x00byte",
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd",
    "é" * 300,
]
text = st.one_of(
    st.text(max_size=20),
    st.lists(st.sampled_from(SQL_BITS) | st.text(max_size=3), max_size=6).map("".join),
    st.sampled_from(ODD_TEXT),
    st.integers(1, 6).map(lambda n: "x" * 10**n),
)
epochs = st.integers(-(10**12), 10**12)
dates = st.one_of(
    epochs,
    epochs.map(str),
    st.dates().map(str),  # YYYY-MM-DD
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", None, False, "0", "1795375862", "2026-11-22", "2026-11-22 20:31:02"]),
)
numbers = st.one_of(
    st.integers(),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["1e2000000", "1e309", "-1e309", "NaN", "Infinity", "3.00000000", "0.15"]),
)
values = st.one_of(
    dates,
    numbers,
    text,
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
extrafield_keys = st.sampled_from([*SYNCD_EXTRAFIELDS, "unknown_field"]).map("options_{}".format)
array_options = st.one_of(
    st.dictionaries(extrafield_keys, values | st.just(DROP), max_size=6),
    st.sampled_from([[], None, "garbage", 7]),
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "date_creation": values | st.just(DROP),
        "date_modification": values | st.just(DROP),
        "name": text | values | st.just(DROP),
        "ref": text | values | st.just(DROP),
        "email": text | values | st.just(DROP),
        "country_code": text | values | st.just(DROP),
        "client": values | st.just(DROP),
        "array_options": array_options,
        "an_extra_key": values,
    },
)
ERROR = re.compile(r"field \w+: .{1,120} (is|contains|names) ")


@contextmanager
def fresh_dolibarr(http_mock: responses.RequestsMock) -> Iterator[tuple[FakeDolibarr, Any]]:
    """A new fake per example, at its own address in the test's one HTTP mock."""
    fake = FakeDolibarr()
    for label in SYNCD_CATEGORIES:
        fake.add_category(label)
    url = f"http://dolibarr-{next(_hosts)}.test"
    use_responses(fake, http_mock, url)
    policy = RetryPolicy(attempts=1, sleep=lambda _: None)
    yield fake, DolibarrClient(DolibarrSettings(url, "test-key", "Europe/Paris"), policy)


def plan_one(world: World, http_mock: responses.RequestsMock, body: dict[str, Any]) -> Any:
    with fresh_dolibarr(http_mock) as (fake, client):
        hostile = fake.add_thirdparty("Hostile", email="h@x.example", tags=("Trial",))
        fake.serve_raw(hostile, **body)
        sane = fake.add_thirdparty("Sane", email="s@x.example", tags=("Trial",))
        now = datetime.fromtimestamp(fake.now, UTC)
        plan = read_and_plan(client, Mirror(), world.rt.config, world.rt.ruleset, now)
    by_id = {r.case_id: r for r in plan.reports}
    return by_id[hostile], by_id[sane]


def assert_sane(report: CaseReport) -> None:
    assert report.errors == ()
    assert report.actions
    for action in report.actions:
        assert action.key.isprintable()
        assert len(action.key) < 200


@FAST
@given(body=bodies)
def test_any_thirdparty_body_plans_or_carries_one_clear_error(
    world: World, http_mock: responses.RequestsMock, body: dict[str, Any]
) -> None:
    hostile, sane = plan_one(world, http_mock, body)
    assert_sane(sane)
    if hostile.errors:
        (error,) = hostile.errors
        assert ERROR.match(error), error
        assert len(error) < 500
        assert hostile.actions == ()
    elif ("signup_notify", PAUSED) in hostile.skipped:
        assert hostile.actions == ()  # a body that sets syncd_pause: nothing, by design
    else:
        assert_sane(hostile)


PAUSED = "syncd_pause is set on this case"


@FAST
@given(created=dates, options=array_options)
def test_every_date_shape_and_extrafield_value(
    world: World, http_mock: responses.RequestsMock, created: Any, options: Any
) -> None:
    hostile, sane = plan_one(world, http_mock, {"date_creation": created, "array_options": options})
    assert_sane(sane)
    assert hostile.errors == () or ERROR.match(hostile.errors[0])


@settings(FAST, max_examples=10)
@given(step=text)
def test_a_key_carrying_any_text_is_found_again_on_the_timeline(world: World, step: str) -> None:
    """step_writeback's key holds the old onboarding_step; the key goes into a LIKE filter."""
    d = world.dolibarr
    case = d.add_thirdparty("Keyed", email="k@x.example", tags=("Trial",), array_options={})
    d.serve_raw(case, array_options={"options_onboarding_step": step})
    world.advance(minutes=10)
    world.cycle()
    done = world.rt.store.with_status(Status.DONE)
    assert any(row.key.startswith("step_writeback:") for row in done)
    assert all(world.rt.executor.is_recorded(row) for row in done)


@settings(FAST, max_examples=15)
@given(body=bodies)
def test_whole_cycles_with_hostile_cases_act_on_the_sane_ones_and_restart(
    world: World, body: dict[str, Any]
) -> None:
    """Acting, saving the mirror and reloading it after a restart survive the same data."""
    d = world.dolibarr
    d.serve_raw(d.add_thirdparty("Hostile", email="h@x.example", tags=("Trial",)), **body)
    sane = d.add_thirdparty("Sane", email="s@x.example", tags=("Trial",))
    world.advance(minutes=10)
    world.cycle()
    world.restart()
    world.advance(minutes=10)
    assert world.cycle().stats.failed == 0
    assert any(row.case_id == sane for row in world.rt.store.with_status(Status.DONE))


@FAST
@given(key=text.filter(lambda k: len(k) < 1000), other=text.filter(lambda k: len(k) < 1000))
def test_find_events_with_any_prefix_finds_exactly_the_events_it_starts(
    http_mock: responses.RequestsMock, key: str, other: str
) -> None:
    with fresh_dolibarr(http_mock) as (fake, client):
        socid = fake.add_thirdparty("Acme")
        labels = {f"[syncd] {key}", f"[syncd] {other}", f"[syncd] {key}{other}"}
        for label in labels:
            fake.add_event(socid, label)
        for socid_filter in (None, socid):
            found = sorted(e.label for e in client.find_events(f"[syncd] {key}", socid_filter))
            assert found == sorted(x for x in labels if x.startswith(f"[syncd] {key}"))


@pytest.mark.parametrize("value", ["1e2000000", "9" * 100_000])
def test_one_hostile_count_costs_no_cpu(
    world: World, http_mock: responses.RequestsMock, value: str
) -> None:
    hostile, sane = plan_one(world, http_mock, {"array_options": {"options_logins_count": value}})
    assert_sane(sane)
    assert hostile.errors and "logins_count" in hostile.errors[0]
