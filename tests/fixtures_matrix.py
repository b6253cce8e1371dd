"""pytest fixtures for the Matrix fake: `matrix` (the homeserver) and `matrix_url` (in-process).

Nothing here may reach the network: `matrix_url` registers the fake in the
test's one `http_mock` (tests/conftest.py), beside any other fake.
"""

from __future__ import annotations

import pytest
import responses

from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.web import use_responses

MATRIX_URL = "http://matrix.test"
MATRIX_TOKEN = "matrix-token"
BOT = "@syncd:test"
BOT_DEVICE = "SYNCDDEVICE"
ROOMS = ("!sales:test", "!success:test")


@pytest.fixture
def matrix() -> FakeMatrix:
    """A fresh homeserver: token "matrix-token" for @syncd:test, joined to two rooms."""
    fake = FakeMatrix(server_name="test")
    fake.add_user(BOT, MATRIX_TOKEN, BOT_DEVICE)
    for room_id in ROOMS:
        fake.add_room(room_id, members=(BOT,))
    return fake


@pytest.fixture
def matrix_url(matrix: FakeMatrix, http_mock: responses.RequestsMock) -> str:
    """The base URL of `matrix`, served in-process (no socket)."""
    use_responses(matrix, http_mock, MATRIX_URL)
    return MATRIX_URL
