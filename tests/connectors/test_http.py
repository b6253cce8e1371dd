"""The HTTP layer reads the environment's proxy settings once, and still honours them."""

from __future__ import annotations

import pytest

from connectors.http import HttpClient


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
