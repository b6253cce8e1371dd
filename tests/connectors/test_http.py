"""The HTTP layer reads the environment's proxy settings once, and still honours them."""

from __future__ import annotations

import socket

import pytest
import requests

from connectors.http import Breakers, HttpClient, RetryPolicy, error_message
from syncd.errors import OutcomeUnknown, SystemDown, UnreachableError


def test_a_proxy_from_the_environment_is_used_and_no_proxy_is_respected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    remote = HttpClient("mautic", "https://mautic.example.com/api", {}, 5.0)
    local = HttpClient("dolibarr", "http://127.0.0.1:8080/api/index.php", {}, 5.0)
    assert remote.session.proxies.get("https") == "http://proxy.internal:3128"
    assert not local.session.proxies
    assert remote.session.trust_env is False  # not looked up again on every request


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(url: str, breakers: Breakers, attempts: int = 5) -> HttpClient:
    policy = RetryPolicy(attempts=attempts, sleep=lambda _s: None, breakers=breakers)
    return HttpClient("mautic", url, {}, 2.0, policy)


def test_a_system_refusing_connections_is_down_after_three_attempts_then_not_asked() -> None:
    breakers = Breakers()
    url = f"http://127.0.0.1:{_closed_port()}"
    client = _client(url, breakers)
    with pytest.raises(UnreachableError) as first:
        client.request("GET", "/api/contacts")
    assert str(first.value) == f"Mautic at {url}: connection refused"
    assert breakers.down == {"mautic": f"Mautic at {url}: connection refused"}
    with pytest.raises(SystemDown):  # before anything is sent: a write too
        client.request("POST", "/api/emails/1/contact/2/send")
    breakers.reset()
    with pytest.raises(UnreachableError):
        client.request("GET", "/api/contacts")


def test_a_write_that_could_not_connect_was_not_sent_and_is_no_unknown_outcome() -> None:
    client = _client(f"http://127.0.0.1:{_closed_port()}", Breakers(), attempts=1)
    with pytest.raises(UnreachableError) as refused:
        client.request("POST", "/api/emails/1/contact/2/send")
    assert not isinstance(refused.value, OutcomeUnknown)


def test_a_name_not_found_is_said_in_a_few_words() -> None:
    client = _client("https://erp.invalid/api/index.php", Breakers(), attempts=1)
    client.where = "https://erp.invalid"
    with pytest.raises(UnreachableError) as unknown:
        client.request("GET", "/thirdparties")
    assert str(unknown.value) == "Mautic at https://erp.invalid: name not found"


def test_an_answer_clears_the_count_a_5xx_adds_to_it() -> None:
    breakers = Breakers(threshold=3)
    breakers.failed("dolibarr", "Dolibarr at x: answers 502")
    breakers.failed("dolibarr", "Dolibarr at x: answers 502")
    breakers.answered("dolibarr")  # a 4xx or a 200: it is up
    breakers.failed("dolibarr", "Dolibarr at x: answers 502")
    assert not breakers.down
    breakers.failed("dolibarr", "Dolibarr at x: answers 503")
    breakers.failed("dolibarr", "Dolibarr at x: answers 504")
    assert breakers.down == {"dolibarr": "Dolibarr at x: answers 504"}


def test_an_html_error_page_is_its_title_and_a_long_text_is_cut_at_a_word() -> None:
    page = requests.Response()
    page.status_code, page.reason = 502, "Bad Gateway"
    page._content = b"<html>\n<head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    assert error_message(page) == "502 Bad Gateway"
    long = requests.Response()
    long.status_code = 500
    long._content = ("word " * 100).encode()
    said = error_message(long)
    assert len(said) <= 200 and said.endswith("word…") and "\n" not in said


def test_mautic_s_token_request_counts_against_mautic_and_is_said_in_one_line() -> None:
    from connectors.mautic import MauticClient, MauticSettings

    breakers = Breakers()
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{_closed_port()}"
    policy = RetryPolicy(sleep=sleeps.append, breakers=breakers)
    mautic = MauticClient(MauticSettings(url, client_id="c", client_secret="s"), policy)
    with pytest.raises(UnreachableError) as refused:
        mautic.find_contact("jane@aster.example")
    assert str(refused.value) == f"Mautic at {url}: connection refused"
    assert len(sleeps) == 2 and "mautic" in breakers.down
    with pytest.raises(SystemDown):
        mautic.find_contact("bob@birch.example")
    assert len(sleeps) == 2  # not asked again, not waited for
