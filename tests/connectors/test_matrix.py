"""The Matrix client through the stateful fake homeserver: once-only notices, retries, errors.

Assertions read the fake's rooms and request log (what the homeserver holds),
never mock call arguments. § refers to docs/contracts/matrix.md.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests
import responses

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.matrix import TXN_RETENTION_SECONDS, FakeMatrix
from connectors.fakes.web import serve, use_responses
from connectors.http import RetryPolicy
from connectors.matrix import MatrixClient, MatrixSettings, send_path, txn_id_for
from syncd.errors import AuthError, NotFoundError, PermanentError, TransientError

SALES = "!sales:test"
SEND_PREFIX = "/_matrix/client/v3/rooms"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(url: str, sleeps: Sleeps, token: str = "matrix-token") -> MatrixClient:
    return MatrixClient(
        MatrixSettings(url, token, timeout=2), RetryPolicy(attempts=4, sleep=sleeps)
    )


@pytest.fixture
def client(matrix_url: str, sleeps: Sleeps) -> MatrixClient:
    return make_client(matrix_url, sleeps)


def puts(matrix: FakeMatrix) -> int:
    return matrix.count("PUT", SEND_PREFIX)


# -- sending ---------------------------------------------------------------------------


def test_notice_lands_once_as_a_non_pinging_notice(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    event_id = client.send_notice(SALES, "FreeScout #1234 created", "txn-1")

    [event] = matrix.events(SALES)
    assert event.event_id == event_id
    assert event.sender == "@syncd:test"
    assert event.content == {
        "msgtype": "m.notice",
        "body": "FreeScout #1234 created",
        "m.mentions": {},
    }
    assert event.origin_server_ts == int(matrix.now * 1000)
    assert matrix.messages("!success:test") == []
    assert puts(matrix) == 1


def test_room_and_txn_ids_are_url_encoded_in_the_path() -> None:
    # §1: `!` → %21, `:` → %3A.
    path = send_path("!sales:test", "a b/c")
    assert path == "/_matrix/client/v3/rooms/%21sales%3Atest/send/m.room.message/a%20b%2Fc"


def test_html_notice_carries_format_and_formatted_body(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    client.send_notice(SALES, "case #1", "txn-html", html="case <b>#1</b>")
    [event] = matrix.events(SALES)
    assert event.content["format"] == "org.matrix.custom.html"
    assert event.content["formatted_body"] == "case <b>#1</b>"


def test_same_txn_id_twice_posts_one_message(client: MatrixClient, matrix: FakeMatrix) -> None:
    first = client.send_notice(SALES, "hello", "txn-dup")
    second = client.send_notice(SALES, "hello", "txn-dup")
    assert first == second
    assert matrix.messages(SALES) == ["hello"]


def test_lost_answer_after_apply_is_retried_with_same_txn_and_posts_once(
    client: MatrixClient, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    matrix.drop("PUT", SEND_PREFIX, after_apply=True)

    event_id = client.send_notice(SALES, "hello", txn_id_for("handoff_success:12:matrix"))

    assert matrix.messages(SALES) == ["hello"]
    assert matrix.events(SALES)[0].event_id == event_id
    assert puts(matrix) == 2
    paths = [r.path for r in matrix.requests if r.method == "PUT"]
    assert paths[0] == paths[1]  # the retry reused the txnId (§3)
    assert len(sleeps) == 1


def test_timeout_after_apply_then_5xx_still_posts_once(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    matrix.timeout("PUT", SEND_PREFIX, after_apply=True)
    matrix.fail("PUT", SEND_PREFIX, status=502)
    client.send_notice(SALES, "hello", "txn-t")
    assert matrix.messages(SALES) == ["hello"]
    assert puts(matrix) == 3


def test_garbled_200_is_transient_and_a_resend_dedupes(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    matrix.malformed("PUT", SEND_PREFIX)
    with pytest.raises(TransientError):
        client.send_notice(SALES, "hello", "txn-m")
    event_id = client.send_notice(SALES, "hello", "txn-m")
    assert matrix.events(SALES)[0].event_id == event_id
    assert matrix.messages(SALES) == ["hello"]


# -- rate limiting (§5) ----------------------------------------------------------------


def test_429_waits_as_retry_after_header_says(
    client: MatrixClient, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    matrix.rate_limit(2, retry_after_ms=2500, header=True)  # header: ceil → "3"
    client.send_notice(SALES, "hello", "txn-429")
    assert sleeps == [3.0, 3.0]
    assert matrix.messages(SALES) == ["hello"]
    assert puts(matrix) == 3


def test_429_without_header_waits_retry_after_ms(
    client: MatrixClient, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    matrix.rate_limit(1, retry_after_ms=1500, header=False)
    client.send_notice(SALES, "hello", "txn-ms")
    assert sleeps == [1.5]
    assert matrix.messages(SALES) == ["hello"]


def test_endless_429_gives_up_as_transient(
    client: MatrixClient, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    matrix.rate_limit(None, retry_after_ms=1000)
    with pytest.raises(TransientError) as caught:
        client.send_notice(SALES, "hello", "txn-flood")
    assert caught.value.retry_after == 1.0
    assert "M_LIMIT_EXCEEDED" in caught.value.message
    assert matrix.messages(SALES) == []
    assert puts(matrix) == 4


# -- errors (§4, §6) -------------------------------------------------------------------


def test_unknown_token_is_auth_error_and_not_retried(
    matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    client = make_client(matrix_url, sleeps, token="stale-token")
    with pytest.raises(AuthError) as caught:
        client.send_notice(SALES, "hello", "txn-401")
    assert "Matrix rejected the access token for http://matrix.test" in caught.value.message
    assert "M_UNKNOWN_TOKEN" in caught.value.message
    assert caught.value.status == 401
    assert puts(matrix) == 1
    assert sleeps == []


def test_missing_token_is_auth_error(matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps) -> None:
    client = make_client(matrix_url, sleeps, token="")
    client.http.session.headers.pop("Authorization")
    with pytest.raises(AuthError, match="M_MISSING_TOKEN"):
        client.whoami()


def test_room_the_bot_is_not_in_is_permanent_not_auth(
    client: MatrixClient, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    matrix.add_room("!private:test", members=("@alice:test",))
    with pytest.raises(PermanentError) as caught:
        client.send_notice("!private:test", "hello", "txn-403")
    assert not isinstance(caught.value, AuthError)
    assert "not in the room or lacks power" in caught.value.message
    assert "!private:test" in caught.value.message
    assert puts(matrix) == 1
    assert matrix.messages("!private:test") == []


def test_bad_json_400_is_permanent(client: MatrixClient, matrix: FakeMatrix) -> None:
    matrix.fail("PUT", SEND_PREFIX, status=400)
    with pytest.raises(PermanentError, match="M_BAD_JSON"):
        client.send_notice(SALES, "hello", "txn-400")
    assert puts(matrix) == 1


def test_errcode_wins_over_status(client: MatrixClient, matrix: FakeMatrix) -> None:
    # §4: a 403 carrying M_UNKNOWN_TOKEN is a token problem, not a room problem.
    body = '{"errcode": "M_UNKNOWN_TOKEN", "error": "Token expired"}'
    matrix.fail("PUT", SEND_PREFIX, status=403, body=body)
    with pytest.raises(AuthError, match="Token expired"):
        client.send_notice(SALES, "hello", "txn-code")


def test_alias_instead_of_room_id_is_refused_before_sending(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    with pytest.raises(PermanentError, match="not a room id"):
        client.send_notice("#sales:test", "hello", "txn-alias")
    assert matrix.requests == []


# -- whoami, txn ids, secrets ----------------------------------------------------------


def test_whoami_names_user_and_device(client: MatrixClient) -> None:
    assert client.whoami() == ("@syncd:test", "SYNCDDEVICE")


@pytest.mark.parametrize(
    "key",
    ["handoff_success:12:matrix", "qualification_reminder:7", "a b/c?d#e%f", "é:ü", ""],
)
def test_txn_id_is_deterministic_and_url_safe(key: str) -> None:
    txn = txn_id_for(key)
    assert txn == txn_id_for(key)
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", txn)


def test_txn_id_is_readable_and_distinct_per_key() -> None:
    assert txn_id_for("handoff_success:12:matrix").startswith("handoff_success-12-matrix.")
    assert txn_id_for("handoff_success:12:matrix") != txn_id_for("handoff_success:13:matrix")
    assert txn_id_for("a:b") != txn_id_for("a/b")  # same slug, different hash


def test_after_24h_the_server_forgets_the_txn_so_a_resend_duplicates(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    """Why the outbox must not resend a notice after a day (§3): it would post twice."""
    txn = txn_id_for("handoff_success:12:matrix")
    first = client.send_notice(SALES, "hello", txn)
    matrix.advance(TXN_RETENTION_SECONDS - 1)
    assert client.send_notice(SALES, "hello", txn) == first
    matrix.advance(1)
    second = client.send_notice(SALES, "hello", txn)
    assert second != first
    assert matrix.messages(SALES) == ["hello", "hello"]


def test_token_never_in_repr(client: MatrixClient) -> None:
    settings = MatrixSettings("https://matrix.example.org", "s3cr3t-token")
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in repr(MatrixClient(settings))
    assert "matrix-token" not in repr(client)
    assert "matrix-token" not in repr(client.http)


def test_token_never_in_error_text(matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps) -> None:
    client = make_client(matrix_url, sleeps, token="s3cr3t-token")
    with pytest.raises(AuthError) as caught:
        client.send_notice(SALES, "hello", "txn-secret")
    assert "s3cr3t" not in str(caught.value)


# -- wiring -------------------------------------------------------------------------------


def test_same_behaviour_over_real_http(matrix: FakeMatrix, sleeps: Sleeps) -> None:
    with serve(matrix) as url:
        matrix.drop("PUT", SEND_PREFIX, after_apply=True)
        client = make_client(url, sleeps)
        first = client.send_notice(SALES, "hello", "txn-wire")
        assert client.send_notice(SALES, "hello", "txn-wire") == first
    assert matrix.messages(SALES) == ["hello"]


def _use_both(dolibarr_url: str, matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps) -> None:
    dolibarr = DolibarrClient(DolibarrSettings(dolibarr_url, "test-key"), RetryPolicy(sleep=sleeps))
    assert [c.label for c in dolibarr.categories()][:1] == ["Trial"]
    make_client(matrix_url, sleeps).send_notice(SALES, "hello", "txn-both")
    assert matrix.messages(SALES) == ["hello"]


def test_matrix_and_dolibarr_mocks_coexist(
    dolibarr_url: str, matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    _use_both(dolibarr_url, matrix_url, matrix, sleeps)


def test_matrix_and_dolibarr_mocks_coexist_in_either_order(
    matrix_url: str, dolibarr_url: str, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    _use_both(dolibarr_url, matrix_url, matrix, sleeps)


def test_unknown_host_is_never_passed_to_the_network(
    dolibarr_url: str, matrix_url: str, sleeps: Sleeps
) -> None:
    with pytest.raises(requests.ConnectionError, match="Connection refused by Responses"):
        requests.get("http://elsewhere.invalid/", timeout=1)


def test_use_responses_can_share_one_mock(
    dolibarr: FakeDolibarr, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        use_responses(matrix, rsps, "http://matrix.test")
        use_responses(dolibarr, rsps, "http://dolibarr.test")
        _use_both("http://dolibarr.test", "http://matrix.test", matrix, sleeps)


def test_find_notice_reads_our_own_history_back_page_by_page(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    """§8: the marker is found under 250 later notices; another sender's copy is not ours."""
    from datetime import UTC, datetime, timedelta

    start = datetime.fromtimestamp(matrix.now, UTC)
    client.send_notice(SALES, "old", "t-old", marker="signup_notify:7")
    matrix.add_user("@human:test", "human-token")
    matrix.rooms[SALES].members.add("@human:test")
    matrix.advance(3600)
    for n in range(250):
        client.send_notice(SALES, f"later {n}", f"t-{n}", marker=f"other:{n}")
    found = client.find_notice(SALES, "signup_notify:7", since=start - timedelta(minutes=5))
    assert found == matrix.events(SALES)[0].event_id
    assert matrix.count("GET", "/_matrix/client/v3/rooms") >= 3  # paged, 100 at a time
    assert client.find_notice(SALES, "never:sent", since=start) is None
    # `since` bounds the reading: nothing posted since then, one page read.
    matrix.clear_log()
    assert client.find_notice(SALES, "never:sent", since=start + timedelta(hours=2)) is None
    assert matrix.count("GET", "/_matrix/client/v3/rooms") == 1


def test_find_notice_in_a_room_the_bot_left_is_an_error_not_a_no(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    from datetime import UTC, datetime

    matrix.rooms[SALES].members.clear()
    with pytest.raises(PermanentError, match="not in the room"):
        client.find_notice(SALES, "x:1", since=datetime.fromtimestamp(matrix.now, UTC))


def test_an_alias_resolves_through_the_directory_and_an_unknown_one_is_not_found(
    client: MatrixClient, matrix: FakeMatrix
) -> None:
    matrix.add_alias("#sales:test", "!uA-eA0pemxSuAlDzV6g3DhfTrIjozhQiWlrZ-klSNdw")
    assert client.resolve_alias("#sales:test") == "!uA-eA0pemxSuAlDzV6g3DhfTrIjozhQiWlrZ-klSNdw"
    with pytest.raises(NotFoundError, match="Room alias #nope:test not found"):
        client.resolve_alias("#nope:test")


def test_a_new_login_is_a_new_transaction_scope_and_only_the_sender_sees_its_txn_id(
    matrix_url: str, matrix: FakeMatrix, sleeps: Sleeps
) -> None:
    # §3, §9 (as Synapse 1.163 does): same txnId, other device → a second event.
    matrix.add_user("@syncd:test", "second-token", "OTHERDEVICE")
    first, second = make_client(matrix_url, sleeps), make_client(matrix_url, sleeps, "second-token")
    assert second.whoami() == ("@syncd:test", "OTHERDEVICE")
    first.send_notice(SALES, "hello", "txn-1")
    second.send_notice(SALES, "hello", "txn-1")
    assert matrix.messages(SALES) == ["hello", "hello"]
    path = "/_matrix/client/v3/rooms/%21sales%3Atest/messages"
    seen = [e["unsigned"].get("transaction_id") for e in first.http.get_json(path)["chunk"]]
    assert seen == ["txn-1", None]


def test_a_digest_is_found_by_any_of_its_items(client: MatrixClient, matrix: FakeMatrix) -> None:
    client.send_notice(SALES, "2 notices", "digest-1", marker="digest:1", items=["a:1", "b:2"])
    since = datetime.fromtimestamp(matrix.now - 60, UTC)
    assert client.find_notice(SALES, "b:2", since) == client.find_notice(SALES, "digest:1", since)
    assert client.find_notice(SALES, "c:3", since) is None
