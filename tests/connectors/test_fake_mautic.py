"""The fake Mautic against the recordings of a real Mautic 5.1 (tests/fixtures/mautic/).

The files are replayed in number order against one fake, as their README says: seeded
with the lab's templates 1 and 2, segment 1 and 27 older contacts, so the contacts the
recording creates get its ids (28–31), and the fake's clock set to each answer's `Date`.
Each answer is compared with the recorded one: status, the headers that matter (rate
limits, `Location`, `Mautic-Version`) and the body's shape and values syncd reads.
Nothing here leaves the process.
"""

from __future__ import annotations

import base64
import json
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.fakes.mautic import FakeMautic

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mautic"
FILES = sorted(p.name for p in FIXTURES.glob("[0-9][0-9]-*.json"))
USER, PASSWORD = "admin", "lab-password"
GOOD = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
BAD = "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()
LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining")
# Fields of a contact syncd reads or shows; compared by value, the rest by shape.
READ_FIELDS = ("email", "firstname", "lastname")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _fresh_fake() -> FakeMautic:
    fake = FakeMautic()
    fake.add_user(USER, PASSWORD)
    fake.add_email(1, "How is it going?")
    fake.add_email(2, "Welcome, partner")
    fake.add_segment(1, "Nurture")
    for n in range(1, 28):  # the lab's older contacts: the recording's ids start at 28
        fake.add_contact(f"lab{n}@example.net")
    return fake


def _before(fake: FakeMautic, name: str) -> None:
    """The lab's set-up between files, as the README tells it."""
    if name.startswith("38-"):
        fake.add_email(3, "A segment email")  # created just before, deleted after
    if name.startswith("39-"):
        fake.add_email(4, "An unpublished template")
    if name.startswith("51-"):
        fake.rate_limit = 4  # api_rate_limiter_limit = 4, a fresh window
    if name.startswith("55-"):
        fake.rate_limit = 0  # config/local.php restored


def _after(fake: FakeMautic, name: str) -> None:
    if name.startswith("51-"):  # calls 2–4 of the hour were made but not saved
        for _ in range(3):
            fake.handle("GET", "/api/contacts", {"limit": "1"}, {"Authorization": GOOD}, None)


def _headers(name: str, recorded: dict[str, str]) -> dict[str, str]:
    headers = {k: v for k, v in recorded.items() if k != "Authorization"}
    if "Authorization" in recorded:
        wrong = "wrong_password" in name or "bad_password" in name
        headers["Authorization"] = BAD if wrong else GOOD
    return headers


def _replay(fake: FakeMautic, name: str) -> tuple[int, dict[str, str], Any]:
    fx = _load(name)
    req, resp = fx["request"], fx["response"]
    fake.now = parsedate_to_datetime(resp["headers"]["Date"]).timestamp()
    _before(fake, name)
    query = {k: str(v) for k, v in req["query"].items()}
    body = None if req["body"] is None else json.dumps(req["body"]).encode()
    status, headers, raw = fake.handle(
        req["method"], req["path"], query, _headers(name, req["headers"]), body
    )
    _after(fake, name)
    return status, headers, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[int, dict[str, str], Any]]:
    """Every file replayed once, in order, against one fake (later files need earlier ones)."""
    fake = _fresh_fake()
    return {name: _replay(fake, name) for name in FILES}


def test_every_recording_is_replayed() -> None:
    assert len(FILES) == 56


@pytest.mark.parametrize("name", FILES)
def test_replay(name: str, answers: dict[str, tuple[int, dict[str, str], Any]]) -> None:
    status, headers, body = answers[name]
    expected = _load(name)["response"]
    assert status == expected["status"], body
    _check_headers(headers, expected["headers"])
    _check_body(body, expected["body"])


# ---------------------------------------------------------------------- comparison
def _check_headers(ours: dict[str, str], theirs: dict[str, str]) -> None:
    for name in ("Mautic-Version", "Retry-After", "X-RateLimit-Reset", *LIMIT_HEADERS):
        assert (name in ours) == (name in theirs), name
    for name in (*LIMIT_HEADERS, "Location"):
        assert ours.get(name) == theirs.get(name), name
    if "X-RateLimit-Reset" in theirs:  # an hour after the window's first call
        date = parsedate_to_datetime(theirs["Date"]).timestamp()
        wait = int(theirs["X-RateLimit-Reset"]) - date
        ours_wait = int(ours["X-RateLimit-Reset"]) - parsedate_to_datetime(ours["Date"]).timestamp()
        assert abs(ours_wait - wait) <= 5


def _check_body(ours: Any, theirs: Any, where: str = "$") -> None:
    if theirs is None:
        return  # a null in the recording: the fake may know a value (or null)
    assert _kind(ours) == _kind(theirs), f"{where}: {ours!r} vs {theirs!r}"
    if isinstance(theirs, dict) and "errors" in theirs:
        assert ours == theirs, where
    elif isinstance(theirs, dict) and "availableTables" in theirs:
        assert "email_stats" in ours["availableTables"]
        assert ours["tableColumns"]["email_stats"] == theirs["tableColumns"]["email_stats"]
    elif isinstance(theirs, dict) and "contacts" in theirs:
        assert ours["total"] == theirs["total"], where
        assert list(ours["contacts"]) == list(theirs["contacts"]), where  # ids, in order
        for key, contact in theirs["contacts"].items():
            _check_contact(ours["contacts"][key], contact, f"{where}.contacts.{key}")
    elif isinstance(theirs, dict) and "contact" in theirs:
        assert set(ours) == set(theirs), where
        _check_contact(ours["contact"], theirs["contact"], f"{where}.contact")
    elif isinstance(theirs, dict) and "stats" in theirs:
        assert ours["total"] == theirs["total"], where
        assert [set(r) for r in ours["stats"]] == [set(r) for r in theirs["stats"]], where
        for mine, row in zip(ours["stats"], theirs["stats"], strict=True):
            assert all(isinstance(v, str) for v in mine.values()), where
            for key in ("email_id", "lead_id", "email_address", "source", "is_failed"):
                assert mine[key] == row[key], f"{where}: {key}"
    else:
        assert ours == theirs, where


def _check_contact(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> None:
    assert set(ours) == set(theirs), f"{where}: {sorted(set(ours) ^ set(theirs))}"
    assert ours["id"] == theirs["id"], where
    assert set(ours["fields"]) == set(theirs["fields"]), where
    values = theirs["fields"].get("all") or theirs
    mine = ours["fields"].get("all") or ours
    for key in READ_FIELDS:
        assert mine[key] == values[key], f"{where}: {key}"
    for key in ("doNotContact", "tags", "ipAddresses", "frequencyRules"):
        if key in theirs:
            assert [set(e) for e in ours[key]] == [set(e) for e in theirs[key]], where
            channels = [e.get("channel") for e in theirs[key]]
            assert [e.get("channel") for e in ours[key]] == channels, where


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__
