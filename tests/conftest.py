"""Shared pytest fixtures: fakes of the external systems, wired in-process.

Nothing here may reach the network: `dolibarr_url` answers from a `responses` mock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.web import use_responses

pytest_plugins = ["tests.fixtures_mautic", "tests.fixtures_freescout", "tests.fixtures_matrix"]

SYNCD_CATEGORIES = (
    "Trial",
    "ICP-fit",
    "Not-ICP",
    "EU-Project",
    "Self-hosted",
    "Customer-Active",
    "Partner-Prospect",
    "Partner-Qualified",
    "Partner-Declined",
    "Partner-Active",
)


@pytest.fixture
def dolibarr() -> FakeDolibarr:
    """A fresh fake Dolibarr with syncd's customer categories (ids 1..10 in this order)."""
    fake = FakeDolibarr()
    for label in SYNCD_CATEGORIES:
        fake.add_category(label)
    return fake


@pytest.fixture
def http_mock() -> Iterator[responses.RequestsMock]:
    """The one in-process HTTP mock of a test; every fake's `*_url` fixture registers in it.

    `responses` answers through one active mock at a time, so the fakes share
    this one instead of opening their own. An unregistered URL is refused.
    """
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def dolibarr_url(dolibarr: FakeDolibarr, http_mock: responses.RequestsMock) -> str:
    """The base URL of `dolibarr`, served in-process (no socket), key "test-key"."""
    use_responses(dolibarr, http_mock, "http://dolibarr.test")
    return "http://dolibarr.test"
