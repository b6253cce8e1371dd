"""The Mautic client against the stateful fake, and the fake against the contract.

Each behaviour test drives `MauticClient` through `FakeMautic` (in-process, via
`mautic_url`) and asserts on the fake's state and request log. The shape tests replay the
bodies quoted in docs/contracts/mautic.md (section in each case id) against the
fake's own answers. Nothing here leaves the process.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.web import serve
from connectors.http import RetryPolicy
from connectors.mautic import MauticClient, MauticSettings, parse_contact
from syncd.errors import AuthError, OutcomeUnknown, PermanentError, TransientError
from tests.fixtures_mautic import MAUTIC_PASSWORD, MAUTIC_USER

SEND = "/api/emails"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"syncd:secret").decode()}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(mautic_url: str, sleeps: Sleeps, clock: Clock) -> Callable[..., MauticClient]:
    def make(**auth: str) -> MauticClient:
        auth = auth or {"username": MAUTIC_USER, "password": MAUTIC_PASSWORD}
        settings = MauticSettings(mautic_url, timeout=2, **auth)
        return MauticClient(settings, RetryPolicy(attempts=4, sleep=sleeps), clock=clock)

    return make


@pytest.fixture
def client(make_client: Callable[..., MauticClient]) -> MauticClient:
    return make_client()


@pytest.fixture
def oauth(mautic: FakeMautic, make_client: Callable[..., MauticClient]) -> MauticClient:
    mautic.add_oauth_client("cid", "oauth-secret")
    return make_client(client_id="cid", client_secret="oauth-secret")


# -- finding contacts (§6) ------------------------------------------------------------


def test_find_is_exact_not_prefix(mautic: FakeMautic, client: MauticClient) -> None:
    au = mautic.add_contact("jane@example.com.au", "Jane AU")
    assert client.find_contact("jane@example.com") is None
    jane = mautic.add_contact("jane@example.com", "Jane")
    found = client.find_contact("JANE@Example.com")
    assert found is not None and (found.id, found.email) == (jane, "jane@example.com")
    assert found.id != au and found.is_email_dnc is False


def test_search_prefix_really_matches_longer_addresses(mautic: FakeMautic) -> None:
    """Why the client never uses `search=email:` bare: it is a LIKE 'v%' (§6)."""
    mautic.add_contact("jane@example.com.au")
    get = _Raw(mautic)
    assert get("/api/contacts", search="email:jane@example.com")["total"] == "1"
    assert get("/api/contacts", search="email:+jane@example.com")["total"] == "0"


def test_prefix_search_bug_never_yields_a_wrong_person(
    mautic: FakeMautic, client: MauticClient
) -> None:
    for n in range(5):
        mautic.add_contact(f"someone{n}@example.com")
    jane = mautic.add_contact("jane@example.com")
    mautic.prefix_search_bug = True
    with pytest.raises(PermanentError, match="lookup looks broken"):
        client.find_contact("nobody@example.com")
    found = client.find_contact("jane@example.com")
    assert found is not None and found.id == jane
    assert mautic.count("POST") == 0 and len(mautic.contacts) == 6


@pytest.mark.parametrize(("version", "empty"), [("4.2.0", []), ("5.1.0", {})])
@pytest.mark.parametrize("total_as_string", [True, False])
def test_nobody_found_whatever_the_empty_shape(
    mautic: FakeMautic, client: MauticClient, version: str, empty: Any, total_as_string: bool
) -> None:
    mautic.version, mautic.total_as_string = version, total_as_string
    body = _Raw(mautic)("/api/contacts", search="email:+x@example.com")
    assert body == {"total": "0" if total_as_string else 0, "contacts": empty}
    assert client.find_contact("x@example.com") is None


def test_address_with_apostrophe_is_found_through_the_search(
    mautic: FakeMautic, client: MauticClient
) -> None:
    """§6: where-eq never matches `'` before 6.x (HTML-encoded), so the search is used."""
    oconnor = mautic.add_contact("o'connor@example.com")
    found = client.find_contact("o'connor@example.com")
    assert found is not None and found.id == oconnor
    assert mautic.requests[-1].query["search"] == "email:+o'connor@example.com"


def test_get_contact_reports_email_dnc(mautic: FakeMautic, client: MauticClient) -> None:
    cid = mautic.add_contact("out@example.com", dnc=True)
    contact = client.get_contact(cid)
    assert contact is not None and contact.is_email_dnc is True
    assert client.get_contact(999) is None


def test_lookup_reads_the_opt_out_that_minimal_would_hide(
    mautic: FakeMautic, client: MauticClient
) -> None:
    """12, 13: `minimal=1` drops doNotContact from listed contacts; the lookup never asks it."""
    mautic.add_contact("out@example.com", dnc=True)
    hidden = _Raw(mautic)("/api/contacts", search="email:+out@example.com", minimal="1")
    assert "doNotContact" not in next(iter(hidden["contacts"].values()))
    contact = client.find_contact("out@example.com")
    assert contact is not None and contact.is_email_dnc is True
    assert "minimal" not in mautic.requests[-1].query


@pytest.mark.parametrize(
    ("row", "dnc"),
    [
        ({"id": 3, "fields": {"all": {"email": "a@example.com"}}}, None),  # 12: minimal=1
        ({"id": 3, "fields": {}, "email": "a@example.com", "doNotContact": []}, False),  # 46
        ({"id": 3, "doNotContact": [{"channel": "sms"}]}, False),
        ({"id": 3, "doNotContact": [{"channel": "email", "reason": 1}]}, True),  # 09
        ({"id": 3, "doNotContact": None}, None),
    ],
)
def test_an_answer_without_do_not_contact_says_nothing(row: dict[str, Any], dnc: Any) -> None:
    assert parse_contact(row).is_email_dnc is dnc


# -- upsert (§7) --------------------------------------------------------------------


def test_upsert_twice_returns_the_same_contact(mautic: FakeMautic, client: MauticClient) -> None:
    first = client.upsert_contact("new@example.com", "New", "Person", "ACME")
    again = client.upsert_contact("NEW@example.com", lastname="Renamed")
    assert first.id == again.id and len(mautic.contacts) == 1
    row = mautic.contacts[first.id]
    assert (row.firstname, row.lastname, row.company) == ("New", "Renamed", "ACME")


def test_upsert_is_retried_after_a_lost_answer(mautic: FakeMautic, client: MauticClient) -> None:
    mautic.drop("POST", "/api/contacts/new", after_apply=True)
    contact = client.upsert_contact("new@example.com")
    assert len(mautic.contacts) == 1 and contact.id in mautic.contacts
    assert mautic.count("POST", "/api/contacts/new") == 2


def test_upsert_rejects_an_invalid_address(client: MauticClient) -> None:
    with pytest.raises(PermanentError, match="not-an-address is invalid") as caught:
        client.upsert_contact("not-an-address")
    assert "mautic POST /api/contacts/new → 400" in str(caught.value)


# -- sending (§8, §9) ---------------------------------------------------------------


def test_send_email_reaches_the_contact_with_tokens(
    mautic: FakeMautic, client: MauticClient
) -> None:
    cid = mautic.add_contact("jane@example.com")
    client.send_email(2, cid, {"order_ref": "SO-1"})
    [sent] = mautic.sent(email_id=2, to="jane@example.com")
    assert sent.tokens == {"order_ref": "SO-1"} and mautic.sent(email_id=1) == []


def test_send_failure_under_http_200_is_permanent(mautic: FakeMautic, client: MauticClient) -> None:
    cid = mautic.add_contact("jane@example.com")
    mautic.send_failure = "Mailer error: bad sender"
    with pytest.raises(PermanentError, match="Mailer error: bad sender") as caught:
        client.send_email(1, cid)
    assert str(caught.value).startswith(f"mautic POST /api/emails/1/contact/{cid}/send → 200: ")
    assert mautic.sent() == [] and mautic.count("POST", SEND) == 1


def test_dnc_skip_on_mautic_4_says_so(mautic: FakeMautic, client: MauticClient) -> None:
    mautic.version = "4.4.10"
    cid = mautic.add_contact("out@example.com", dnc=True)
    with pytest.raises(PermanentError, match="Do-Not-Contact"):
        client.send_email(1, cid)
    assert mautic.sent() == []


def test_mautic_5_sends_to_dnc_contacts_so_the_flag_is_reported(
    mautic: FakeMautic, client: MauticClient
) -> None:
    cid = mautic.add_contact("out@example.com", dnc=True)
    contact = client.find_contact("out@example.com")
    assert contact is not None and contact.is_email_dnc is True
    client.send_email(1, cid)  # §8: 5.x ignores DNC on API sends; the caller must check
    assert len(mautic.sent(to="out@example.com")) == 1


@pytest.mark.parametrize("applied", [True, False])
def test_timeout_on_send_is_outcome_unknown_and_not_resent(
    mautic: FakeMautic, client: MauticClient, applied: bool
) -> None:
    cid = mautic.add_contact("jane@example.com")
    mautic.timeout("POST", SEND, after_apply=applied)
    with pytest.raises(OutcomeUnknown):
        client.send_email(1, cid)
    assert mautic.count("POST", SEND) == 1
    assert len(mautic.sent(1, "jane@example.com")) == (1 if applied else 0)


def test_server_error_on_send_is_outcome_unknown_and_not_resent(
    mautic: FakeMautic, client: MauticClient
) -> None:
    cid = mautic.add_contact("jane@example.com")
    mautic.fail("POST", SEND, status=502, times=None)
    with pytest.raises(OutcomeUnknown):
        client.send_email(1, cid)
    assert mautic.count("POST", SEND) == 1


def test_email_sent_since_reconciles_from_stats(mautic: FakeMautic, client: MauticClient) -> None:
    cid = mautic.add_contact("jane@example.com")
    other = mautic.add_contact("other@example.com")
    before = mautic.now_utc
    assert client.email_sent_since(1, cid, before) is False
    mautic.advance(30)
    client.send_email(1, other)
    mautic.add_stat(1, cid, failed=True)
    assert client.email_sent_since(1, cid, before) is False
    client.send_email(1, cid)
    assert client.email_sent_since(1, cid, before) is True
    assert client.email_sent_since(2, cid, before) is False
    assert client.email_sent_since(1, cid, before + timedelta(minutes=1)) is False


def test_stats_error_under_http_200_is_an_error(mautic: FakeMautic, client: MauticClient) -> None:
    mautic.fail("GET", "/api/stats", status=200, body='{"errors":[{"message":"boom","code":500}]}')
    with pytest.raises(PermanentError, match="boom"):
        client.email_sent_since(1, 1, mautic.now_utc)


# -- segments (§10) -------------------------------------------------------------------


def test_segment_add_twice_is_harmless(mautic: FakeMautic, client: MauticClient) -> None:
    cid = mautic.add_contact("jane@example.com")
    client.add_to_segment(1, cid)
    mautic.fail("POST", "/api/segments", status=503)
    client.add_to_segment(1, cid)
    assert mautic.members[1] == {cid} and mautic.count("POST", "/api/segments") == 3


def test_unpublished_segment_is_a_clear_permanent_error(
    mautic: FakeMautic, client: MauticClient
) -> None:
    mautic.add_segment(2, "Hidden", published=False)
    cid = mautic.add_contact("jane@example.com")
    with pytest.raises(PermanentError, match="segment 2 is unpublished") as caught:
        client.add_to_segment(2, cid)
    assert not isinstance(caught.value, AuthError)


# -- retries, auth, secrets (§2, §4) -------------------------------------------------------


def test_rate_limit_retry_after_is_honoured_on_reads(
    mautic: FakeMautic, client: MauticClient, sleeps: Sleeps
) -> None:
    mautic.add_contact("jane@example.com")
    mautic.fail("GET", "/api/contacts", status=429, headers={"Retry-After": "7"})
    assert client.find_contact("jane@example.com") is not None
    assert sleeps == [7.0] and mautic.count("GET", "/api/contacts") == 2


def test_rate_limit_waits_until_the_reset_mautic_names(
    mautic: FakeMautic, mautic_url: str, sleeps: Sleeps
) -> None:
    """§4, 52: no Retry-After, only X-RateLimit-Reset; a near reset is waited for, once."""

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        mautic.advance(seconds)

    settings = MauticSettings(mautic_url, MAUTIC_USER, MAUTIC_PASSWORD)
    client = MauticClient(settings, RetryPolicy(attempts=4, sleep=sleep))
    jane = mautic.add_contact("jane@example.com")
    mautic.rate_limit = 2
    client.find_contact("jane@example.com")
    mautic.advance(3570)  # the hour's window ends in 30 s
    client.find_contact("jane@example.com")
    found = client.find_contact("jane@example.com")
    assert found is not None and found.id == jane
    assert sleeps == [31.0] and mautic.count("GET", "/api/contacts") == 4


def test_a_far_reset_ends_the_call_as_rate_limited(
    mautic: FakeMautic, client: MauticClient, sleeps: Sleeps
) -> None:
    """Retrying at once would burn the hour's quota; sleeping an hour would stall the cycle."""
    cid = mautic.add_contact("jane@example.com")
    mautic.rate_limit = 1
    client.find_contact("jane@example.com")
    mautic.advance(600)
    with pytest.raises(TransientError) as caught:
        client.send_email(1, cid)
    assert caught.value.status == 429 and caught.value.retry_after == 3001.0
    assert sleeps == [] and mautic.count("POST", SEND) == 1 and mautic.sent() == []


def test_rate_limit_on_send_is_retried_once_the_window_passes(
    mautic: FakeMautic, client: MauticClient, sleeps: Sleeps
) -> None:
    """§4: the limiter answers before the controller runs, so nothing was sent."""
    cid = mautic.add_contact("jane@example.com")
    mautic.fail("POST", SEND, status=429, headers={"Retry-After": "3"})
    client.send_email(1, cid)
    assert mautic.count("POST", SEND) == 2 and len(mautic.sent()) == 1 and sleeps == [3.0]


def test_garbled_answer_to_a_send_is_outcome_unknown(
    mautic: FakeMautic, client: MauticClient
) -> None:
    cid = mautic.add_contact("jane@example.com")
    mautic.malformed("POST", SEND)
    with pytest.raises(OutcomeUnknown, match="may have been sent"):
        client.send_email(1, cid)
    assert mautic.count("POST", SEND) == 1 and len(mautic.sent()) == 1


def test_oauth_token_is_fetched_once(mautic: FakeMautic, oauth: MauticClient) -> None:
    mautic.add_contact("jane@example.com")
    for _ in range(3):
        assert oauth.find_contact("jane@example.com") is not None
    assert mautic.count("POST", "/oauth/v2/token") == 1
    [token_request] = [r for r in mautic.requests if r.path == "/oauth/v2/token"]
    assert token_request.query == {} and b"grant_type=client_credentials" in (
        token_request.body or b""
    )


def test_oauth_token_is_refreshed_before_it_expires(
    mautic: FakeMautic, oauth: MauticClient, clock: Clock
) -> None:
    oauth.find_contact("x@example.com")
    mautic.advance(3600)
    clock.now += 3600
    oauth.find_contact("x@example.com")
    assert mautic.count("POST", "/oauth/v2/token") == 2
    assert mautic.count("GET", "/api/contacts") == 2  # no 401 on the way


def test_oauth_token_is_refreshed_once_after_a_401(mautic: FakeMautic, oauth: MauticClient) -> None:
    cid = mautic.add_contact("jane@example.com")
    oauth.find_contact("x@example.com")
    mautic.revoke_tokens()
    oauth.send_email(1, cid)
    assert mautic.count("POST", "/oauth/v2/token") == 2 and mautic.count("POST", SEND) == 2
    assert len(mautic.sent()) == 1


def test_bad_oauth_client_is_an_auth_error(
    mautic: FakeMautic, make_client: Callable[..., MauticClient]
) -> None:
    bad = make_client(client_id="cid", client_secret="wrong")
    with pytest.raises(AuthError, match="refused the OAuth2 client credentials for http"):
        bad.find_contact("x@example.com")
    assert mautic.count("GET", "/api") == 0


def test_basic_auth_refused_is_one_clear_error(
    mautic: FakeMautic, make_client: Callable[..., MauticClient], sleeps: Sleeps
) -> None:
    """49: a wrong password is a 401 from the firewall, not the 403 of basic auth off."""
    client = make_client(username="syncd", password="wrong")
    with pytest.raises(AuthError) as caught:
        client.find_contact("x@example.com")
    assert caught.value.status == 401 and str(caught.value) == (
        "mautic GET /api/contacts → 401: Mautic refused the credentials for "
        "http://mautic.test: check [mautic] username and password "
        "(Authorization denied, invalid credentials.)"
    )
    assert mautic.count() == 1 and sleeps == []


def test_basic_auth_disabled_says_so(mautic: FakeMautic, client: MauticClient) -> None:
    mautic.basic_auth_enabled = False
    with pytest.raises(AuthError, match="HTTP basic auth is disabled"):
        client.find_contact("x@example.com")


def test_api_disabled_says_so(mautic: FakeMautic, client: MauticClient) -> None:
    mautic.api_enabled = False
    with pytest.raises(AuthError, match=r"the Mautic API is disabled on http://mautic\.test"):
        client.add_to_segment(1, 1)


def test_secrets_stay_out_of_repr_errors_and_logs(
    mautic: FakeMautic, make_client: Callable[..., MauticClient]
) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        mautic.add_oauth_client("cid", "oauth-secret")
        oauth = make_client(client_id="cid", client_secret="oauth-secret")
        basic = make_client(username="syncd", password="pa55word")
        oauth.find_contact("x@example.com")
        mautic.fail("GET", "/api/contacts", status=500, times=None)
        with pytest.raises(TransientError) as caught:
            basic.find_contact("x@example.com")
    finally:
        logger.remove(sink)
    token = next(iter(mautic.tokens))
    seen = " ".join([repr(oauth), repr(basic), repr(oauth.settings), repr(basic.settings)])
    seen += str(caught.value) + "".join(lines)
    basic_header = base64.b64encode(b"syncd:pa55word").decode()
    for secret in ("oauth-secret", "pa55word", token, basic_header):
        assert secret not in seen


def test_warnings_name_contact_ids_not_addresses(
    mautic: FakeMautic, client: MauticClient
) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        first = mautic.add_contact("jane@example.com")
        second = mautic.add_contact("JANE@example.com")
        for n in range(3):
            mautic.add_contact(f"someone{n}@example.com")
        assert client.find_contact("jane@example.com").id == first  # type: ignore[union-attr]
        mautic.prefix_search_bug = True
        client.find_contact("jane@example.com")
        with pytest.raises(PermanentError) as caught:
            client.find_contact("nobody@example.com")
    finally:
        logger.remove(sink)
    text = "".join(lines) + str(caught.value)
    assert str(second) in text and "lookup looks broken" in text
    assert "@" not in text


def test_version_header_is_noted(mautic: FakeMautic, client: MauticClient) -> None:
    client.find_contact("x@example.com")
    assert client.mautic_version == "5.1.0"


def test_dolibarr_and_mautic_mocks_coexist(
    mautic_url: str, dolibarr_url: str, dolibarr: FakeDolibarr, client: MauticClient
) -> None:
    dolibarr_client = DolibarrClient(DolibarrSettings(dolibarr_url, "test-key"))
    assert len(dolibarr_client.categories()) == 10
    assert client.find_contact("x@example.com") is None


def test_mocks_coexist_in_the_other_order(dolibarr_url: str, mautic_url: str) -> None:
    status = requests.get(f"{dolibarr_url}/api/index.php/status", timeout=1).status_code
    assert status in (200, 401)
    assert requests.get(f"{mautic_url}/api/contacts", timeout=1).status_code == 401


def test_same_fake_over_a_real_socket(mautic: FakeMautic) -> None:
    mautic.add_oauth_client("cid", "oauth-secret")
    cid = mautic.add_contact("jane@example.com")
    with serve(mautic) as url:
        settings = MauticSettings(url, client_id="cid", client_secret="oauth-secret", timeout=5)
        client = MauticClient(settings, RetryPolicy(attempts=2, sleep=Sleeps()))
        found = client.find_contact("jane@example.com")
        assert found is not None and found.id == cid
        client.send_email(3, cid, {"name": "Jane"})
    assert [s.to for s in mautic.sent(3)] == ["jane@example.com"]


# -- the fake's bodies against the shapes quoted in the contract ------------------------

# Bodies as quoted in docs/contracts/mautic.md; "..." stands for "anything".
CONTRACT_CONTACTS = {
    "total": "1",
    "contacts": {
        "42": {
            "id": 42,
            "isPublished": True,
            "points": 0,
            "fields": {
                "all": {"id": 42, "email": "jane@example.com", "firstname": "Jane"},
                "core": {"email": {"alias": "email", "value": "jane@example.com"}},
            },
            "tags": [],
            "doNotContact": [],
            "owner": None,
            "stage": None,
        }
    },
}
CONTRACT_CONTACT = CONTRACT_CONTACTS["contacts"]["42"]  # type: ignore[index]
CONTRACT_STATS = {
    "total": "1",
    "stats": [
        {
            "id": "901",
            "email_id": "12",
            "lead_id": "42",
            "source": "api",
            "date_sent": "2024-06-01 10:00:03",
            "is_failed": "0",
        }
    ],
}


def _error(code: int, kind: str | None) -> dict[str, Any]:
    """§3: controller errors have `details` and no `type`; the firewall's have a `type`."""
    if kind is None:
        return {"errors": [{"code": code, "message": "...", "details": []}]}
    return {"errors": [{"message": "...", "code": code, "type": kind}]}


def _seed_nothing(fake: FakeMautic) -> None:
    return


def _seed_jane(fake: FakeMautic) -> None:
    fake.add_contact("jane@example.com", "Jane")


def _seed_dnc_on_4x(fake: FakeMautic) -> None:
    fake.version = "4.4.10"
    fake.add_contact("out@example.com", dnc=True)


def _seed_stat(fake: FakeMautic) -> None:
    fake.add_stat(1, fake.add_contact("jane@example.com"))


def _seed_api_off(fake: FakeMautic) -> None:
    fake.api_enabled = False


def _seed_basic_off(fake: FakeMautic) -> None:
    fake.basic_auth_enabled = False


REPLAYS: list[tuple[str, Callable[[FakeMautic], None], str, str, dict[str, Any], int, Any]] = [
    # id, seed, method, path + query, request json, status, expected body
    (
        "§6 lookup",
        _seed_jane,
        "GET",
        "/api/contacts?where[0][col]=email&where[0][expr]=eq&where[0][val]=jane%40example.com",
        {},
        200,
        CONTRACT_CONTACTS,
    ),
    ("§6 empty", _seed_nothing, "GET", "/api/contacts", {}, 200, {"total": "0", "contacts": {}}),
    (
        "§7 created",
        _seed_nothing,
        "POST",
        "/api/contacts/new",
        {"email": "jane@example.com", "firstname": "Jane"},
        201,
        {"contact": CONTRACT_CONTACT},
    ),
    (
        "§7 matched",
        _seed_jane,
        "POST",
        "/api/contacts/new",
        {"email": "jane@example.com"},
        200,
        {"contact": CONTRACT_CONTACT},
    ),
    (
        "§3 validation",
        _seed_nothing,
        "POST",
        "/api/contacts/new",
        {"email": "nope"},
        400,
        {"errors": [{"code": 400, "message": "...", "details": {"email": ["..."]}}]},
    ),
    (
        "§8 sent",
        _seed_jane,
        "POST",
        "/api/emails/1/contact/1/send",
        {"tokens": {"{order_ref}": "SO-1234", "customer_name": "Jane"}},
        200,
        {"success": True},
    ),
    (
        "§8 unknown email",
        _seed_jane,
        "POST",
        "/api/emails/9/contact/1/send",
        {},
        404,
        _error(404, None),
    ),
    (
        "§8 4.x DNC skip",
        _seed_dnc_on_4x,
        "POST",
        "/api/emails/1/contact/1/send",
        {},
        200,
        {"success": False, "failed": []},
    ),
    (
        "§10 segment add",
        _seed_jane,
        "POST",
        "/api/segments/1/contact/1/add",
        {},
        200,
        {"success": 1},
    ),
    (
        "§9 stats",
        _seed_stat,
        "GET",
        "/api/stats/email_stats?where[0][col]=email_id&where[0][expr]=eq&where[0][val]=1"
        "&where[1][col]=lead_id&where[1][expr]=eq&where[1][val]=1"
        "&where[2][col]=date_sent&where[2][expr]=gte&where[2][val]=2024-06-01 10:00:00"
        "&order[0][col]=date_sent&order[0][dir]=DESC&limit=10",
        {},
        200,
        CONTRACT_STATS,
    ),
    (
        "§9 unknown table",
        _seed_nothing,
        "GET",
        "/api/stats/nope",
        {},
        200,
        {"availableTables": ["..."], "tableColumns": {}},
    ),
    (
        "§1 api disabled",
        _seed_api_off,
        "GET",
        "/api/contacts",
        {},
        403,
        _error(403, "api_disabled"),
    ),
    (
        "§2a basic disabled",
        _seed_basic_off,
        "GET",
        "/api/contacts",
        {},
        403,
        _error(403, "access_denied"),
    ),
]


@pytest.mark.parametrize(
    ("seed", "method", "path", "payload", "status", "expected"),
    [r[1:] for r in REPLAYS],
    ids=[r[0] for r in REPLAYS],
)
def test_fake_answers_in_the_shapes_the_contract_quotes(
    mautic: FakeMautic,
    seed: Callable[[FakeMautic], None],
    method: str,
    path: str,
    payload: dict[str, Any],
    status: int,
    expected: Any,
) -> None:
    seed(mautic)
    got_status, _, body = mautic.handle(
        method, path.split("?")[0], _query(path), BASIC | _JSON_CT, json.dumps(payload).encode()
    )
    assert got_status == status
    assert_shape(expected, json.loads(body))


def test_token_answers_in_the_contract_shape(mautic: FakeMautic) -> None:
    mautic.add_oauth_client("cid", "s")
    form = b"grant_type=client_credentials&client_id=cid&client_secret=s"
    status, _, body = mautic.handle("POST", "/oauth/v2/token", {}, {}, form)
    assert status == 200
    token = json.loads(body)
    assert_shape({"access_token": "...", "expires_in": 3600, "token_type": "..."}, token)
    status, _, body = mautic.handle("POST", "/oauth/v2/token", {}, {}, form + b"x")
    assert status == 400 and json.loads(body) == {
        "errors": [
            {"message": "The client credentials are invalid", "code": 400, "type": "invalid_client"}
        ]
    }
    bearer = {"Authorization": "Bearer nope"}
    status, _, body = mautic.handle("GET", "/api/contacts", {}, bearer, None)
    assert status == 401 and json.loads(body) == {
        "errors": [
            {
                "message": "The access token provided is invalid.",
                "code": 401,
                "type": "invalid_grant",
            }
        ]
    }


def test_rate_limit_fault_has_the_contract_body(mautic: FakeMautic) -> None:
    mautic.fail("GET", "/api/contacts", status=429)
    status, _, body = mautic.handle("GET", "/api/contacts", {}, BASIC, None)
    assert status == 429
    assert_shape({"errors": [{"code": 429, "message": "...", "details": []}]}, json.loads(body))


# -- helpers --------------------------------------------------------------------------

_JSON_CT = {"Content-Type": "application/json"}


def assert_shape(expected: Any, actual: Any, where: str = "$") -> None:
    """`actual` has every key of `expected`, recursively, with values of the same JSON type.

    "..." matches anything; a list's first expected item describes every actual item, and
    so does the first value of an object keyed by ids (§6: `contacts` is keyed by id).
    """
    if expected == "...":
        return
    if isinstance(expected, dict) and expected and all(k.isdigit() for k in expected):
        assert isinstance(actual, dict) and actual, f"{where}: {actual!r} is not keyed by id"
        for key, item in actual.items():
            assert key == str(item["id"]), f"{where}: key {key} holds id {item['id']}"
            assert_shape(next(iter(expected.values())), item, f"{where}.{key}")
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {sorted(actual)}"
            assert_shape(value, actual[key], f"{where}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not an array"
        assert bool(expected) == bool(actual), f"{where}: {actual!r} vs {expected!r}"
        for n, item in enumerate(actual):
            assert_shape(expected[0], item, f"{where}[{n}]")
        return
    assert _json_type(expected) == _json_type(actual), f"{where}: {actual!r} vs {expected!r}"


def _json_type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value) if value is None else "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _query(path: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))


class _Raw:
    def __init__(self, fake: FakeMautic) -> None:
        self.fake = fake

    def __call__(self, path: str, **query: str) -> Any:
        status, _, body = self.fake.handle("GET", path, query, BASIC, None)
        assert status == 200
        return json.loads(body)
