"""pytest fixtures for the FreeScout fake: a fresh fake and its in-process URL.

Nothing here may reach the network: `freescout_url` registers the fake in
the test's one `http_mock` (tests/conftest.py), beside any other fake.
"""

from __future__ import annotations

import pytest
import requests
import responses

from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.web import use_responses

FREESCOUT_URL = "http://freescout.test"
FREESCOUT_KEY = "test-key"
_UNPATCHED_SEND = requests.adapters.HTTPAdapter.send  # read at plugin load, before any mock


@pytest.fixture
def freescout() -> FreescoutFake:
    """A fresh fake FreeScout: mailbox 1 "Sales", agent user 1, API key "test-key"."""
    fake = FreescoutFake(api_key=FREESCOUT_KEY)
    fake.add_mailbox("Sales", "sales@example.test")
    fake.add_user("Ada", "Agent", "ada@example.test")
    return fake


@pytest.fixture
def freescout_url(freescout: FreescoutFake, http_mock: responses.RequestsMock) -> str:
    """The base URL of `freescout`, served in-process (no socket)."""
    use_responses(freescout, http_mock, FREESCOUT_URL)
    return FREESCOUT_URL
