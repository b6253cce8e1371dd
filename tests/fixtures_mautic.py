"""pytest fixtures for the Mautic fake: `mautic` (the server) and `mautic_url` (in-process).

Nothing here may reach the network: `mautic_url` registers the fake in the
test's one `http_mock` (tests/conftest.py), beside any other fake.
"""

from __future__ import annotations

import pytest
import responses

from connectors.fakes.mautic import FakeMautic
from connectors.fakes.web import use_responses

MAUTIC_URL = "http://mautic.test"
MAUTIC_USER, MAUTIC_PASSWORD = "syncd", "secret"


@pytest.fixture
def mautic() -> FakeMautic:
    """A fresh Mautic 5.1: API user syncd/secret, email templates 1..3, segment 1."""
    fake = FakeMautic()
    fake.add_user(MAUTIC_USER, MAUTIC_PASSWORD)
    for email_id in (1, 2, 3):
        fake.add_email(email_id, f"Template {email_id}")
    fake.add_segment(1, "Nurture")
    return fake


@pytest.fixture
def mautic_url(mautic: FakeMautic, http_mock: responses.RequestsMock) -> str:
    """The base URL of `mautic`, served in-process (no socket)."""
    use_responses(mautic, http_mock, MAUTIC_URL)
    return MAUTIC_URL
