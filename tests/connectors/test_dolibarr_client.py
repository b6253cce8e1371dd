"""The Dolibarr client against recorded answers: retries, errors, shapes.

Each test pins one behaviour of the real server with the recorded fixture it
comes from; whole-flow behaviour runs through the stateful fake elsewhere.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from connectors.dolibarr import DolibarrClient, DolibarrSettings, api_url, parse_thirdparty
from connectors.http import RetryPolicy
from syncd.errors import AuthError, PermanentError, TransientError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dolibarr"
BASE = "http://erp.test"
API = BASE + "/api/index.php"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def answer(name: str) -> tuple[int, Any]:
    response = fixture(name)["response"]
    return response["status"], response["body"]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> DolibarrClient:
    settings = DolibarrSettings(BASE, "secret-key", "Europe/Paris", page_size=5, timeout=2)
    return DolibarrClient(settings, RetryPolicy(attempts=4, sleep=sleeps))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://erp.example.com", "https://erp.example.com/api/index.php"),
        ("https://erp.example.com/", "https://erp.example.com/api/index.php"),
        ("https://x.example/erp", "https://x.example/erp/api/index.php"),
        ("https://erp.example.com/api/index.php", "https://erp.example.com/api/index.php"),
    ],
)
def test_api_url_accepts_what_people_type(url: str, expected: str) -> None:
    assert api_url(url) == expected


@responses.activate
def test_bad_key_is_one_clear_error_and_not_retried(client: DolibarrClient, sleeps: Sleeps) -> None:
    status, body = answer("auth_bad_key.json")
    responses.get(f"{API}/thirdparties", status=status, json=body)
    with pytest.raises(AuthError) as caught:
        list(client.iter_thirdparties())
    assert "Dolibarr rejected the API key for http://erp.test" in str(caught.value)
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_forbidden_is_an_auth_error(client: DolibarrClient) -> None:
    responses.get(
        f"{API}/categories", status=403, json={"error": {"code": 403, "message": "Forbidden"}}
    )
    with pytest.raises(AuthError, match="rejected the API key"):
        client.categories()


@responses.activate
def test_api_key_travels_in_the_header_only(client: DolibarrClient) -> None:
    responses.get(f"{API}/categories", json=[])
    client.categories()
    sent = responses.calls[0].request
    assert sent.headers["DOLAPIKEY"] == "secret-key"
    assert "secret-key" not in (sent.url or "")
    assert "secret-key" not in repr(client)


@responses.activate
def test_empty_thirdparty_list_is_a_404_meaning_none(client: DolibarrClient) -> None:
    status, body = answer("thirdparties_list_empty.json")
    responses.get(f"{API}/thirdparties", status=status, json=body)
    assert list(client.iter_thirdparties()) == []


@responses.activate
def test_429_waits_as_long_as_retry_after_says(client: DolibarrClient, sleeps: Sleeps) -> None:
    responses.get(f"{API}/categories", status=429, headers={"Retry-After": "7"}, json={})
    responses.get(f"{API}/categories", json=answer("categories_list_customer.json")[1][:3])
    labels = [c.label for c in client.categories()]
    assert "Trial" in labels
    assert sleeps == [7.0]


@responses.activate
def test_500_then_success_is_retried(client: DolibarrClient, sleeps: Sleeps) -> None:
    responses.get(f"{API}/contacts", status=500, json={"error": {"code": 500, "message": "boom"}})
    responses.get(f"{API}/contacts", json=answer("contacts_by_thirdparty.json")[1])
    contacts = list(client.iter_contacts())
    assert contacts and contacts[0].email
    assert len(sleeps) == 1


@responses.activate
def test_timeout_then_success_is_retried(client: DolibarrClient, sleeps: Sleeps) -> None:
    responses.get(f"{API}/invoices", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{API}/invoices", json=[])
    assert list(client.iter_invoices()) == []
    assert len(sleeps) == 1


@responses.activate
def test_malformed_json_is_retried_then_reported(client: DolibarrClient, sleeps: Sleeps) -> None:
    for _ in range(4):
        responses.get(
            f"{API}/proposals", body='[{"id": "1", "ref": ', content_type="application/json"
        )
    with pytest.raises(TransientError, match="malformed JSON"):
        list(client.iter_proposals())
    assert len(sleeps) == 3


@responses.activate
def test_503_naming_sql_is_permanent(client: DolibarrClient, sleeps: Sleeps) -> None:
    status, body = answer("sqlfilters_malformed_unknown_column.json")
    responses.get(f"{API}/thirdparties", status=status, json=body)
    with pytest.raises(PermanentError, match="Unknown column"):
        list(client.iter_thirdparties())
    assert sleeps == []


@responses.activate
def test_cutoff_literal_is_server_local_time(client: DolibarrClient) -> None:
    responses.get(f"{API}/thirdparties", status=404, json=answer("thirdparties_list_empty.json")[1])
    list(client.iter_thirdparties(datetime(2026, 11, 22, 19, 34, 30, tzinfo=UTC)))
    query = responses.calls[0].request.params
    # Europe/Paris is UTC+1 in November (sqlfilters_tms_or_ef_tms.json).
    assert query["sqlfilters"] == (
        "((t.tms:>:'2026-11-22 20:34:30') or (ef.tms:>:'2026-11-22 20:34:30'))"
    )


@responses.activate
def test_a_server_ignoring_page_is_caught_not_looped(client: DolibarrClient) -> None:
    rows = answer("thirdparties_list_page0.json")[1]
    responses.get(f"{API}/thirdparties", json=rows[:5])
    with pytest.raises(PermanentError, match="repeats"):
        list(client.iter_thirdparties())


@responses.activate
def test_pages_until_a_short_page(client: DolibarrClient) -> None:
    rows = answer("thirdparties_list_page0.json")[1]
    responses.get(f"{API}/thirdparties", json=rows[:5])
    responses.get(f"{API}/thirdparties", json=answer("thirdparties_list_page1.json")[1][:2])
    assert len(list(client.iter_thirdparties())) == 7
    assert [c.request.params["page"] for c in responses.calls] == ["0", "1"]


@pytest.mark.parametrize(
    "name",
    [
        "thirdparty_get_customer_full.json",
        "thirdparty_get_prospect_full.json",
        "thirdparty_get_no_extrafields_row.json",
        "v22/thirdparty_get_no_extrafields_row.json",
        "thirdparty_get_call_passed_with_call_date.json",
    ],
)
def test_parse_thirdparty_reads_recorded_shapes(name: str) -> None:
    body = answer(name)[1]
    party = parse_thirdparty(body)
    assert party.id == int(body["id"])
    assert all(not key.startswith("options_") for key in party.array_options)
    if body["date_modification"] == "":
        assert party.modified_at is None


def test_customer_full_carries_its_referrer_as_a_string_id() -> None:
    party = parse_thirdparty(answer("thirdparty_get_customer_full.json")[1])
    assert party.array_options["referred_by"] == "2"
    assert party.client == 1


@responses.activate
def test_an_integer_too_long_for_python_stays_text_and_spoils_only_its_field(
    client: DolibarrClient,
) -> None:
    digits = "7" * 5000
    rows = answer("thirdparties_list_page0.json")[1][:2]
    rows[0]["array_options"]["options_logins_count"] = "HUGE"
    text = json.dumps(rows).replace('"HUGE"', digits)
    responses.get(f"{API}/thirdparties", body=text, content_type="application/json")
    first, second = list(client.iter_thirdparties())
    assert first.array_options["logins_count"] == digits
    assert second.id == int(rows[1]["id"])


# -- setup, for `syncd check` --------------------------------------------------------


@responses.activate
def test_extrafield_creation_sends_the_recorded_body(client: DolibarrClient) -> None:
    recorded = fixture("extrafield_create_onboarding_step.json")
    status, body = answer("extrafield_create_onboarding_step.json")
    route = responses.post(
        f"{API}/setup/extrafields/societe/onboarding_step", status=status, json=body
    )
    client.create_extrafield("onboarding_step", "Onboarding step", "varchar", "64", 10)
    sent = json.loads(route.calls[0].request.body or b"{}")
    assert sent == {k: v for k, v in recorded["request"]["body"].items()}


@responses.activate
def test_an_existing_extrafield_is_a_permanent_409(client: DolibarrClient) -> None:
    status, body = answer("extrafield_create_duplicate_409.json")
    responses.post(f"{API}/setup/extrafields/societe/onboarding_step", status=status, json=body)
    with pytest.raises(PermanentError, match="Duplicate extrafield"):
        client.create_extrafield("onboarding_step", "x", "varchar", "64", 10)


@responses.activate
def test_extrafield_types_and_a_new_tag(client: DolibarrClient) -> None:
    status, body = answer("extrafields_list_societe.json")
    responses.get(f"{API}/setup/extrafields", status=status, json=body)
    kinds = client.thirdparty_extrafields()
    assert kinds["signup_date"] == "date" and kinds["referred_by"] == "link"
    status, body = answer("category_create.json")
    responses.post(f"{API}/categories", status=status, json=body)
    assert client.create_category("Trial") == 1


@responses.activate
def test_can_read_is_false_on_a_403_only(client: DolibarrClient) -> None:
    status, body = answer("auth_no_permission_403.json")
    responses.get(f"{API}/invoices", status=status, json=body)
    responses.get(f"{API}/thirdparties", status=404, json=answer("thirdparties_list_empty.json")[1])
    assert client.can_read("/invoices") is False
    assert client.can_read("/thirdparties") is True  # an empty list is a 404 there
