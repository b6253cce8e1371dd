"""The Matrix client against a real Synapse: the answers the fake copies (matrix.md §9).

The same behaviours are asserted on the fake in tests/connectors/test_matrix.py; a
difference found here is a fix to the fake and a line in the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.http import RetryPolicy
from connectors.matrix import MatrixClient, MatrixSettings
from syncd.errors import AuthError, NotFoundError, PermanentError
from tests.integration.conftest import Site
from tests.integration.synapse import User


def client(site: Site, user: User) -> MatrixClient:
    return MatrixClient(MatrixSettings(site.homeserver.url, user.token, timeout=10), RetryPolicy())


def an_hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def test_whoami_names_the_user_and_the_device_of_the_token(site: Site) -> None:
    assert client(site, site.bot).whoami() == (site.bot.user_id, site.bot.device_id)


def test_an_alias_resolves_to_a_version_12_room_id_and_an_unknown_one_is_not_found(
    site: Site,
) -> None:
    bot = client(site, site.bot)
    room_id = bot.resolve_alias(site.rooms["#v12"])
    assert room_id == site.rooms["v12"] and ":" not in room_id
    with pytest.raises(NotFoundError, match="Room alias #nowhere:localhost not found"):
        bot.resolve_alias("#nowhere:localhost")


def test_a_transaction_id_dedupes_on_its_device_only(site: Site) -> None:
    room = site.rooms["v11"]
    first, second = client(site, site.bot), client(site, site.homeserver.login(site.bot))
    event = first.send_notice(room, "hello", "txn-1", marker="k:1")
    assert first.send_notice(room, "another body", "txn-1", marker="k:1") == event
    assert second.send_notice(room, "hello", "txn-1", marker="k:1") != event
    assert site.keys(room) == ["k:1", "k:1"]


def test_a_notice_and_a_digest_item_are_found_in_the_history(site: Site) -> None:
    room = site.rooms["v12"]
    bot = client(site, site.bot)
    alone = bot.send_notice(room, "one", "txn-a", marker="a:1")
    digest = bot.send_notice(room, "2 notices", "txn-d", marker="digest:x", items=["b:2", "c:3"])
    assert bot.find_notice(room, "a:1", an_hour_ago()) == alone
    assert bot.find_notice(room, "c:3", an_hour_ago()) == digest
    assert bot.find_notice(room, "d:4", an_hour_ago()) is None


def test_a_bad_token_is_an_auth_error_and_a_room_not_joined_is_not(site: Site) -> None:
    bogus = User(site.bot.user_id, "syt_bogus", "")
    with pytest.raises(AuthError, match="M_UNKNOWN_TOKEN"):
        client(site, bogus).send_notice(site.rooms["v12"], "x", "txn-x")
    outsider = site.homeserver.register("outsider")
    with pytest.raises(PermanentError, match="not in the room") as refused:
        client(site, outsider).send_notice(site.rooms["v12"], "x", "txn-y")
    assert not isinstance(refused.value, AuthError)
