"""syncd's real process against a real Synapse: what its users notice in the rooms.

Each test has its own bot user and rooms (tests/integration/conftest.py), and a fake
Dolibarr served over HTTP; the homeserver runs with its default rate limits.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.integration.conftest import Site
from tests.integration.proxy import Proxy, proxied


def once_each(site: Site, room: str, keys: list[str]) -> None:
    seen = Counter(site.keys(room))
    assert {key: seen[key] for key in keys} == dict.fromkeys(keys, 1), seen


@pytest.mark.parametrize("where", ["v11", "v12", "#v12"])
def test_notices_arrive_once_in_rooms_of_version_11_and_12_and_through_an_alias(
    site: Site, where: str
) -> None:
    keys = site.add_trials(3)
    site.write_config(site.rooms[where])
    first = site.syncd("run", "--once")
    assert first.returncode == 0 and first.stdout.startswith("cycle ok"), first.stderr
    again = site.syncd("run", "--once")
    assert again.returncode == 0, again.stderr
    room = site.rooms[where.removeprefix("#")]
    once_each(site, room, keys)
    if where.startswith("#"):
        assert f"Matrix room alias {site.rooms[where]} is room {room}" in first.stderr


def _kill_right_after_the_send(site: Site, proxy: Proxy) -> None:
    """The daemon sends; Synapse posts; the answer never returns; SIGKILL."""
    log = site.folder / "killed.log"
    proc = site.start(log)
    try:
        assert proxy.sent.wait(60), log.read_text()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)


def test_a_sigkill_right_after_the_send_is_deduplicated_by_the_transaction_id(
    site: Site,
) -> None:
    room = site.rooms["v12"]
    with proxied(site.homeserver.url) as proxy:
        site.settle_in(room, homeserver=proxy.url)
        proxy.log.clear()
        [key] = site.add_trials(1)
        proxy.hold_sends = True
        _kill_right_after_the_send(site, proxy)
        assert key in site.keys(room)  # Synapse posted it
        proxy.hold_sends = False
        restarted = site.syncd("run", "--once")
        assert restarted.returncode == 0, restarted.stderr
        sends = proxy.sends()
    assert len(sends) == 2 and sends[0] == sends[1]  # resent with the same transaction id
    once_each(site, room, [key])


def test_a_new_token_after_a_sigkill_finds_the_notice_instead_of_posting_it_again(
    site: Site,
) -> None:
    room = site.rooms["v12"]
    with proxied(site.homeserver.url) as proxy:
        site.settle_in(room, homeserver=proxy.url)
        proxy.log.clear()
        [key] = site.add_trials(1)
        proxy.hold_sends = True
        _kill_right_after_the_send(site, proxy)
        fresh = site.homeserver.login(site.bot)  # a new login: a new device
        assert fresh.device_id != site.bot.device_id
        proxy.hold_sends = False
        site.write_config(room, token=fresh.token, homeserver=proxy.url)
        restarted = site.syncd("run", "--once")
        assert restarted.returncode == 0, restarted.stderr
        assert len(proxy.sends()) == 1  # not sent again: found in the room
    assert f"sending as device {fresh.device_id}" in restarted.stderr
    once_each(site, room, [key])
    status = site.syncd("actions", "--status", "done")
    assert "found done remotely" in status.stdout


def test_rate_limits_are_honoured_and_every_notice_arrives_once(site: Site) -> None:
    keys = site.add_trials(14)  # Synapse's burst is 10 messages, then one per 5 s
    room = site.rooms["v11"]
    site.write_config(room, extra="digest_after = 0\n")
    # A retry is routine: its line is DEBUG.
    done = site.syncd("run", "--once", timeout=240, SYNCD_DAEMON_LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert "M_LIMIT_EXCEEDED" in done.stderr  # it was refused, and waited
    once_each(site, room, keys)


def test_a_bad_token_is_reported_by_run_and_status(site: Site) -> None:
    site.add_trials(1)
    site.write_config(site.rooms["v12"], token="syt_bogus_token")
    done = site.syncd("run", "--once")
    assert done.returncode == 1
    assert "(matrix: 401 credentials refused)" in done.stdout
    assert "Matrix refused syncd's credentials: check [matrix] access_token" in done.stdout
    status = site.syncd("status")
    assert status.returncode == 1 and "Matrix refused syncd's credentials" in status.stdout
    assert site.keys(site.rooms["v12"]) == []


def test_a_burst_of_notices_arrives_as_one_digest_and_a_restart_adds_nothing(
    site: Site,
) -> None:
    keys = site.add_trials(6)
    room = site.rooms["v12"]
    site.write_config(room)  # digest_after = 3, the default
    for _ in range(2):
        done = site.syncd("run", "--once")
        assert done.returncode == 0, done.stderr
    [digest] = site.homeserver.notices(site.owner, room)
    assert sorted(digest["org.syncd.keys"]) == sorted(keys)
    assert digest["body"].startswith("6 notices:")
    assert all(f"{key})" in digest["body"] for key in keys)
