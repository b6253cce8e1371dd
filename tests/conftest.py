"""Shared pytest fixtures: fakes of the external systems, wired in-process.

Nothing here may reach the network: `dolibarr_url` answers from a `responses` mock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import use_responses
from tests.harness import World

pytest_plugins = ["tests.fixtures_mautic", "tests.fixtures_freescout", "tests.fixtures_matrix"]


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


@pytest.fixture
def world(
    tmp_path: Path,
    dolibarr: FakeDolibarr,
    dolibarr_url: str,
    mautic: FakeMautic,
    mautic_url: str,
    freescout: FreescoutFake,
    freescout_url: str,
    matrix: FakeMatrix,
    matrix_url: str,
) -> World:
    """All four fakes in-process, a config pointing at them, and a syncd runtime."""
    fakes = {"dolibarr": dolibarr, "mautic": mautic, "freescout": freescout, "matrix": matrix}
    urls = {
        "dolibarr": dolibarr_url,
        "mautic": mautic_url,
        "freescout": freescout_url,
        "matrix": matrix_url,
    }
    return World.build(tmp_path, fakes, urls)
