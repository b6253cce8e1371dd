"""The FreeScout client through the stateful fake: create, reconcile, errors, secrets.

Assertions are on the fake's state and request log ("exactly one email to alice"),
not on mock calls. A plain `responses` stub appears only where it pins one quirk of
a named recording that the fake cannot be asked to produce.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.freescout import (
    FreescoutClient,
    FreescoutSettings,
    base_url,
    customer_fields,
    marker_comment,
    to_html,
)
from connectors.http import RetryPolicy
from syncd.errors import AuthError, OutcomeUnknown, PermanentError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "freescout"
KEY = "test-key"
ALICE = "alice@example.test"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(url: str, sleeps: Sleeps, key: str = KEY, page_size: int = 50) -> FreescoutClient:
    settings = FreescoutSettings(url, key, timeout=2, page_size=page_size)
    return FreescoutClient(settings, RetryPolicy(attempts=3, sleep=sleeps))


@pytest.fixture
def client(freescout_url: str, sleeps: Sleeps) -> FreescoutClient:
    return make_client(freescout_url, sleeps)


def create(client: FreescoutClient, marker: str = "welcome:42", **overrides: Any) -> int:
    args: dict[str, Any] = {
        "mailbox_id": 1,
        "user_id": 1,
        "customer_email": ALICE,
        "customer_name": "Alice Liddell",
        "subject": "Your onboarding call",
        "text": "Hi Alice,\nbook here: https://cal.example/x",
        "marker": marker,
    }
    return client.create_conversation(**(args | overrides))


def at(fake: FreescoutFake, seconds: float = 0) -> datetime:
    """A moment on the fake's clock (tests never read the real one)."""
    return datetime.fromtimestamp(fake.now + seconds, UTC)


def find(client: FreescoutClient, fake: FreescoutFake, **overrides: Any) -> int | None:
    args: dict[str, Any] = {
        "customer_email": ALICE,
        "mailbox_id": 1,
        "marker": "welcome:42",
        "since": at(fake),
    }
    return client.find_conversation(**(args | overrides))


def posts(fake: FreescoutFake) -> int:
    return fake.count("POST", "/api/conversations")


# ---------------------------------------------------------------------- create
def test_create_returns_id_and_sends_exactly_one_message_with_marker(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    conversation_id = create(client)

    sent = freescout.messages_to(ALICE)
    assert [m.conversation_id for m in sent] == [conversation_id]
    assert sent[0].subject == "Your onboarding call"
    assert sent[0].text.endswith("<!-- syncd:welcome:42 -->")
    assert freescout.conversations[conversation_id].status == "pending"


def test_create_sends_one_agent_message_thread_as_the_contract_says(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    create(client, text="a < b & c > d\nnext line")

    body = freescout.requests[-1].json()
    assert body["type"] == "email" and body["status"] == "pending"
    assert body["imported"] is False and body["mailboxId"] == 1
    assert body["customer"] == {"email": ALICE, "firstName": "Alice", "lastName": "Liddell"}
    [thread] = body["threads"]
    assert thread["type"] == "message" and thread["user"] == 1
    assert thread["text"] == "a &lt; b &amp; c &gt; d<br>next line<!-- syncd:welcome:42 -->"


def test_upper_case_customer_email_is_lower_cased(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    create(client, customer_email="  Alice@Example.TEST ")

    assert freescout.requests[-1].json()["customer"]["email"] == ALICE
    assert len(freescout.messages_to(ALICE)) == 1
    assert find(client, freescout, customer_email="ALICE@example.test") is not None


def test_timeout_after_the_server_applied_the_post_is_outcome_unknown_then_found(
    client: FreescoutClient, freescout: FreescoutFake, sleeps: Sleeps
) -> None:
    intent_at = at(freescout)
    freescout.timeout("POST", "/api/conversations", after_apply=True)

    with pytest.raises(OutcomeUnknown) as caught:
        create(client)

    assert "freescout POST /api/conversations" in str(caught.value)
    assert posts(freescout) == 1 and sleeps == []  # never resent
    [sent] = freescout.messages_to(ALICE)
    freescout.advance(120)
    assert find(client, freescout, since=intent_at) == sent.conversation_id
    assert find(client, freescout, since=intent_at, marker="welcome:43") is None
    assert find(client, freescout, since=intent_at, customer_email="bob@example.test") is None
    assert find(client, freescout, since=intent_at, mailbox_id=2) is None


def test_lost_connection_before_the_server_is_outcome_unknown_and_not_found(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    freescout.drop("POST", "/api/conversations")

    with pytest.raises(OutcomeUnknown):
        create(client)

    assert posts(freescout) == 1 and freescout.messages_to(ALICE) == []
    assert find(client, freescout) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_create_is_outcome_unknown_and_never_retried(
    client: FreescoutClient, freescout: FreescoutFake, sleeps: Sleeps, status: int
) -> None:
    freescout.fail("POST", "/api/conversations", status=status)

    with pytest.raises(OutcomeUnknown) as caught:
        create(client)

    assert caught.value.status == status
    assert posts(freescout) == 1 and sleeps == []


def test_400_is_permanent_with_freescouts_message(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    # 34_create_bad_mailbox_id.json
    with pytest.raises(PermanentError) as caught:
        create(client, mailbox_id=9999)

    assert not isinstance(caught.value, OutcomeUnknown)
    assert str(caught.value) == (
        "freescout POST /api/conversations → 400: mailboxId: Mailbox not found"
    )
    assert posts(freescout) == 1


def test_unknown_user_is_permanent(client: FreescoutClient, freescout: FreescoutFake) -> None:
    # 36_create_message_thread_unknown_user.json: same words as a missing user
    with pytest.raises(PermanentError, match="user: `user` parameter is required"):
        create(client, user_id=9999)
    assert freescout.messages_to(ALICE) == []


def test_resource_id_missing_falls_back_to_body_id(sleeps: Sleeps) -> None:
    recorded = json.loads((FIXTURES / "10_create_conversation_outgoing.json").read_text())
    body = recorded["response"]["body"] | {"id": 77}
    with responses.RequestsMock() as rsps:
        rsps.post("http://fs.test/api/conversations", status=201, json=body)
        assert create(make_client("http://fs.test", sleeps)) == 77


def test_created_without_any_id_is_outcome_unknown(sleeps: Sleeps) -> None:
    with responses.RequestsMock() as rsps:
        rsps.post("http://fs.test/api/conversations", status=201, body="")
        with pytest.raises(OutcomeUnknown, match="without Resource-ID"):
            create(make_client("http://fs.test", sleeps))


def test_a_redirect_that_turned_the_post_into_a_get_is_permanent(sleeps: Sleeps) -> None:
    listing = json.loads(
        (FIXTURES / "71_list_conversations_by_customer_email_none.json").read_text()
    )
    with responses.RequestsMock() as rsps:
        moved = {"Location": "https://fs.test/api/conversations"}
        rsps.post("http://fs.test/api/conversations", status=301, headers=moved)
        rsps.get("https://fs.test/api/conversations", json=listing["response"]["body"])
        with pytest.raises(PermanentError, match=r"redirected to https://fs\.test"):
            create(make_client("http://fs.test", sleeps))


# ---------------------------------------------------------------------- find
def test_find_walks_every_page(
    freescout_url: str, freescout: FreescoutFake, sleeps: Sleeps
) -> None:
    client = make_client(freescout_url, sleeps, page_size=2)
    since = at(freescout)
    for n in range(6):
        create(client, marker=f"other:{n}")
    wanted = create(client, marker="welcome:42")  # 7 conversations: the 4th page
    freescout.clear_log()

    assert find(client, freescout, since=since) == wanted
    pages = [r.query["page"] for r in freescout.requests]
    assert pages == ["1", "2", "3", "4"]
    assert {r.query["pageSize"] for r in freescout.requests} == {"2"}


def test_find_stops_after_the_last_page_when_nothing_matches(
    freescout_url: str, freescout: FreescoutFake, sleeps: Sleeps
) -> None:
    client = make_client(freescout_url, sleeps, page_size=2)
    for n in range(3):
        create(client, marker=f"other:{n}")
    freescout.clear_log()

    assert find(client, freescout, since=at(freescout, -60)) is None
    assert freescout.count("GET") == 2


def test_find_asks_for_threads_and_a_window_five_minutes_before_the_intent(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    intent_at = datetime(2026, 11, 22, 21, 7, 42, tzinfo=UTC)
    find(client, freescout, customer_email="Alice@Example.test", since=intent_at)

    query = freescout.requests[-1].query
    assert query["createdSince"] == "2026-11-22T21:02:42Z"
    assert query["customerEmail"] == ALICE and query["mailboxId"] == "1"
    assert query["embed"] == "threads"


def test_find_looks_back_five_minutes_but_no_further(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    created = create(client)

    assert find(client, freescout, since=at(freescout, 240)) == created  # clock skew
    assert find(client, freescout, since=at(freescout, 3600)) is None


@pytest.mark.parametrize(("status", "state"), [("closed", None), (None, "deleted")])
def test_closed_or_deleted_conversations_still_count_as_found(
    client: FreescoutClient, freescout: FreescoutFake, status: str | None, state: str | None
) -> None:
    created = create(client)
    freescout.set_status(created, status=status, state=state)

    assert find(client, freescout) == created


def test_find_matches_the_marker_comment_not_a_substring(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    create(client, marker="welcome:42")

    assert find(client, freescout, marker="welcome:4") is None


def test_find_retries_reads(
    client: FreescoutClient, freescout: FreescoutFake, sleeps: Sleeps
) -> None:
    created = create(client)
    freescout.fail("GET", "/api/conversations", status=503)
    freescout.drop("GET", "/api/conversations")

    assert find(client, freescout) == created
    assert len(sleeps) == 2


# ---------------------------------------------------------------------- users, check
def test_first_user_id(client: FreescoutClient) -> None:
    assert client.first_user_id() == 1


def test_first_user_id_none_without_users(
    client: FreescoutClient, freescout: FreescoutFake
) -> None:
    freescout.users.clear()
    assert client.first_user_id() is None


def test_check_passes_with_the_right_key(client: FreescoutClient, freescout: FreescoutFake) -> None:
    client.check()
    assert freescout.count("GET", "/api/mailboxes") == 1


@pytest.mark.parametrize("call", ["check", "create", "find", "first_user_id"])
def test_bad_key_is_one_clear_auth_error_never_retried(
    freescout_url: str, freescout: FreescoutFake, sleeps: Sleeps, call: str
) -> None:
    # 04_auth_bad_key.json: 401 {"message": "Not Authorized"}
    client = make_client(freescout_url, sleeps, key="wrong-key")
    calls = {
        "check": client.check,
        "create": lambda: create(client),
        "find": lambda: find(client, freescout),
        "first_user_id": client.first_user_id,
    }

    with pytest.raises(AuthError) as caught:
        calls[call]()

    assert "FreeScout rejected the API key for http://freescout.test" in str(caught.value)
    assert "Not Authorized" in str(caught.value)
    assert len(freescout.requests) == 1 and sleeps == []
    assert freescout.messages_to(ALICE) == []


# ---------------------------------------------------------------------- secrets
def test_secret_stays_out_of_repr_urls_and_logs(
    freescout_url: str, freescout: FreescoutFake, sleeps: Sleeps
) -> None:
    secret = "s3cr3t-freescout-key"
    freescout.api_key = secret
    settings = FreescoutSettings(freescout_url, secret)
    client = FreescoutClient(settings, RetryPolicy(attempts=3, sleep=sleeps))
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        freescout.fail("GET", "/api/mailboxes", status=502)
        client.check()
    finally:
        logger.remove(sink)

    assert lines, "the retry should have been logged"
    assert secret not in repr(settings) + repr(client) + "".join(lines)
    assert all(secret not in json.dumps(r.query) for r in freescout.requests)


# ---------------------------------------------------------------------- helpers
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://support.example.com", "https://support.example.com"),
        ("https://support.example.com/", "https://support.example.com"),
        ("https://support.example.com/api", "https://support.example.com"),
        ("https://x.example/helpdesk/api/", "https://x.example/helpdesk"),
    ],
)
def test_base_url_accepts_what_people_type(url: str, expected: str) -> None:
    assert base_url(url) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jane Doe", {"firstName": "Jane", "lastName": "Doe"}),
        ("  Jean  Pierre Dupont ", {"firstName": "Jean", "lastName": "Pierre Dupont"}),
        ("Cher", {"firstName": "Cher"}),
        ("", {}),
    ],
)
def test_customer_fields_split_the_name(name: str, expected: dict[str, str]) -> None:
    assert customer_fields("Jane@Example.COM", name) == {"email": "jane@example.com"} | expected


def test_to_html_escapes_and_breaks_lines() -> None:
    assert to_html("x & y\r\n<b>", "k") == "x &amp; y<br>&lt;b&gt;<!-- syncd:k -->"


@pytest.mark.parametrize("marker", ["a--b", "a>b"])
def test_marker_that_would_end_the_comment_is_refused(marker: str) -> None:
    with pytest.raises(ValueError, match="HTML comment"):
        marker_comment(marker)


# ---------------------------------------------------------------------- fixtures
def test_freescout_and_dolibarr_mocks_coexist(
    freescout_url: str, dolibarr_url: str, dolibarr: FakeDolibarr, sleeps: Sleeps
) -> None:
    fs = make_client(freescout_url, sleeps)
    doli = DolibarrClient(DolibarrSettings(dolibarr_url, "test-key"), RetryPolicy(sleep=sleeps))

    fs.check()
    assert [c.label for c in doli.categories()][:2] == ["Trial", "ICP-fit"]
    assert fs.first_user_id() == 1
    assert dolibarr.count("GET", "/categories") >= 1


def test_mocks_coexist_in_the_other_fixture_order(
    dolibarr_url: str, freescout_url: str, sleeps: Sleeps
) -> None:
    doli = DolibarrClient(DolibarrSettings(dolibarr_url, "test-key"), RetryPolicy(sleep=sleeps))

    assert doli.categories()
    make_client(freescout_url, sleeps).check()
