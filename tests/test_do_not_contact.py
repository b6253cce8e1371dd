"""Mautic as the real 5.1 answers: opt-outs are honoured, rate limits waited out, addresses
kept out of the log.

A real Mautic leaves `doNotContact` out of lookups made with `minimal=1` and sends to an
opted-out contact through the API all the same (tests/fixtures/mautic/QUIRKS.md), so
syncd asks before every send and segment add, and an opt-out makes the action
`skipped`, not done: asked about again while its rule plans it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from loguru import logger

from syncd.cli import main
from syncd.logs import Masker, text_line
from syncd.store import Status
from tests.harness import World

EMAIL = "jane@aster.example"


def today(world: World) -> date:
    return world.now.astimezone(world.dolibarr.tz).date()


def trial_on_check_in_day(world: World, *tags: str) -> int:
    """A trial at day 7 of its signup, not yet linked to its Mautic contact."""
    return world.dolibarr.add_thirdparty(
        "Aster Labs",
        email=EMAIL,
        tags=("Trial", *tags),
        array_options={"signup_date": today(world) - timedelta(days=7)},
    )


def test_an_opted_out_trial_gets_no_check_in_and_the_skip_is_shown(
    world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    socid = trial_on_check_in_day(world)
    world.cycle()
    key = f"check_in_email:{socid}"
    row = world.rt.store.get(key)
    assert world.mautic.sent(to=EMAIL) == []
    assert row is not None and row.status is Status.SKIPPED
    assert row.last_error == f"do-not-contact: Mautic contact {contact} opted out of email"
    assert not any(key in label for label in world.syncd_events())

    capsys.readouterr()
    assert main(["--config", str(world.config_path), "actions", "--status", "skipped"]) == 0
    out = capsys.readouterr().out
    assert f"skipped  {key}" in out and "opted out of email" in out
    monkeypatch.setenv("SYNCD_DAEMON_NOW", world.now.isoformat())
    assert main(["--config", str(world.config_path), "--dry-run"]) == 0
    audit = capsys.readouterr().out
    assert f"({key})  [skipped " in audit and "do-not-contact: Mautic contact" in audit
    assert "would be sent now: 0" in audit


def test_resubscribing_within_the_window_sends_the_check_in_once(world: World) -> None:
    world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    socid = trial_on_check_in_day(world)
    world.cycle()
    world.advance(minutes=30)
    world.cycle()  # not yet time to ask again
    assert world.mautic.sent(to=EMAIL) == []
    world.mautic.clear_dnc(EMAIL)  # the person subscribes again
    world.advance(minutes=31)
    world.cycle()
    for _ in range(4):
        world.advance(hours=6)
        world.cycle()
    assert len(world.mautic.sent(to=EMAIL)) == 1
    row = world.rt.store.get(f"check_in_email:{socid}")
    assert row is not None and row.status is Status.DONE and row.attempts == 1


def test_an_opt_out_that_lasts_past_the_window_is_never_mailed(world: World) -> None:
    world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    socid = trial_on_check_in_day(world)
    for _ in range(14):  # days 7 to 10
        world.cycle()
        world.advance(hours=6)
    world.mautic.clear_dnc(EMAIL)
    for _ in range(8):
        world.cycle()
        world.advance(hours=6)
    assert world.mautic.sent(to=EMAIL) == []
    row = world.rt.store.get(f"check_in_email:{socid}")
    assert row is not None and row.status is Status.SKIPPED


def test_an_opted_out_not_icp_trial_joins_no_segment(world: World) -> None:
    contact = world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    socid = world.dolibarr.add_thirdparty(
        "Aster Labs",
        email=EMAIL,
        tags=("Trial", "Not-ICP"),
        array_options={"signup_date": today(world)},
    )
    world.cycle()
    assert world.mautic.members[1] == set()
    row = world.rt.store.get(f"nurture_segment:{socid}:segment:1")
    assert row is not None and row.status is Status.SKIPPED
    world.mautic.clear_dnc(EMAIL)
    world.advance(hours=2)
    world.cycle()
    assert world.mautic.members[1] == {contact}


def test_an_unknown_opt_out_state_is_do_not_send(world: World) -> None:
    """An answer without `doNotContact` (as `minimal=1` gives, 12) says nothing: no email."""
    contact = world.mautic.add_contact(EMAIL, "Jane")
    bare = {"id": contact, "fields": {"all": {"id": contact, "email": EMAIL}}}
    world.mautic.fail(
        "GET",
        f"/api/contacts/{contact}",
        status=200,
        body=json.dumps({"contact": bare}),
        times=None,
    )
    world.mautic.fail(
        "GET",
        "/api/contacts",
        status=200,
        body=json.dumps({"total": "1", "contacts": {str(contact): bare}}),
        times=None,
    )
    socid = trial_on_check_in_day(world)
    world.cycle()
    assert world.mautic.sent(to=EMAIL) == []
    row = world.rt.store.get(f"check_in_email:{socid}")
    assert row is not None and row.status is Status.SKIPPED
    assert "do-not-contact unknown" in (row.last_error or "")


def test_a_rate_limited_email_waits_for_the_reset_then_goes_once(world: World) -> None:
    """§4: the 429 names its reset an hour away; no retry burns the quota before it."""
    contact = world.mautic.add_contact(EMAIL, "Jane")
    world.mautic.rate_limit = 2
    socid = trial_on_check_in_day(world)
    world.cycle()  # 2 calls reconcile the check-in (a new database asks first), then 429s
    keys = [f"check_in_email:{socid}", f"mautic_contact_link:{socid}"]
    for key in keys:
        row = world.rt.store.get(key)
        assert row is not None and row.status is Status.PLANNED and row.attempts == 1
        assert row.next_attempt_at is not None
        assert row.next_attempt_at - world.now == timedelta(seconds=3601)
    assert world.mautic.count() == 4  # one refused call per action, none repeated
    world.advance(minutes=30)
    world.cycle()
    assert world.mautic.count() == 4  # nothing asked before the reset
    world.mautic.rate_limit = 10  # room for the next hour's calls
    world.advance(minutes=31)
    world.cycle()
    assert len(world.mautic.sent(to=EMAIL)) == 1
    assert world.dolibarr.thirdparties[socid].extras["mautic_contact_id"] == str(contact)
    assert [world.rt.store.get(k).status for k in keys] == [Status.DONE] * 2  # type: ignore[union-attr]


@pytest.fixture
def log_lines() -> Any:
    lines: list[str] = []
    masker = Masker(())
    sink = logger.add(lambda m: lines.append(text_line(m.record, masker)), level="INFO")
    yield lines
    logger.remove(sink)


def test_log_lines_name_the_case_and_contact_not_the_address(
    world: World, log_lines: list[str]
) -> None:
    first = world.mautic.add_contact(EMAIL, "Jane", dnc=True)
    world.mautic.add_contact(EMAIL.upper(), "Jane again")  # Mautic allows duplicates (§6)
    socid = trial_on_check_in_day(world)
    world.cycle()
    warned = [line for line in log_lines if " WARNING " in line]
    assert any(f"using {first}" in line and f"case={socid}" in line for line in warned)
    assert any("skipped" in line and f"contact {first}" in line for line in log_lines)
    assert not [line for line in log_lines if "@" in line]
