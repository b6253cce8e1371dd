"""The fake FreeScout against the recordings of the real one, plus its stateful behaviour.

The recordings were made in one session and their ids depend on earlier calls (README:
"Responses are in recording order"), so the replay of file N sends files 1..N-1 first to
a fake seeded like the lab (mailbox 1, admin user 1), then file N, and compares status,
Resource-ID and the whole body. The clock follows the newest timestamp in each expected
answer, which is how the fake learns "when" the lab made the call. Nothing here leaves
the process.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.web import serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "freescout"
KEY = "<API_KEY>"  # the recordings replace the real key with this text
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
ALICE_EMAIL = "alice@example.test"

SKIPPED: dict[str, str] = {
    "outgoing_email_conversation1.eml": (
        "the MIME email FreeScout's queue worker sent, caught by a mail sink: not a REST "
        "exchange (the fake records it as messages_to(), see test_messages_to_*)"
    ),
}


def _all_fixtures() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.name != "README.md")


RECORDINGS = [n for n in _all_fixtures() if n not in SKIPPED]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def lab() -> FreescoutFake:
    """The lab of the recordings: admin user 1 (02_), mailbox 1 (01_)."""
    fake = FreescoutFake(api_key=KEY, now=_stamp("2026-11-22T20:06:52Z"))
    fake.add_user("Admin", "Fixture", "admin@example.test")
    fake.now = _stamp("2026-11-22T20:07:07Z")
    fake.add_mailbox("Fixture Support", "support@example.test")
    return fake


def _timestamps(node: Any) -> list[float]:
    if isinstance(node, dict):
        found = [_stamp(v) for k, v in node.items() if k in ("createdAt", "updatedAt") and v]
        return found + [t for v in node.values() for t in _timestamps(v)]
    if isinstance(node, list):
        return [t for v in node for t in _timestamps(v)]
    return []


def _send(fake: FreescoutFake, recording: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    req, expected = recording["request"], recording["response"]
    fake.now = max([fake.now, *_timestamps(expected["body"])])
    body = req["body"]
    raw = None if body is None else body.encode() if isinstance(body, str) else json.dumps(body)
    query = {k: str(v) for k, v in req["query"].items()}
    status, headers, payload = fake.handle(
        req["method"],
        req["path"],
        query,
        req["headers"],
        raw.encode() if isinstance(raw, str) else raw,
    )
    return status, headers, json.loads(payload) if payload else None


def test_every_skip_names_a_real_fixture() -> None:
    assert set(SKIPPED) <= set(_all_fixtures())
    assert len(RECORDINGS) >= 40


@pytest.mark.parametrize("name", RECORDINGS)
def test_replay_matches_recording(name: str) -> None:
    fake = lab()
    for earlier in RECORDINGS[: RECORDINGS.index(name)]:
        _send(fake, _load(earlier))
    recording = _load(name)
    status, headers, body = _send(fake, recording)
    expected = recording["response"]
    assert status == expected["status"]
    assert headers.get("Resource-ID") == expected["headers"].get("Resource-ID")
    assert "Location" not in headers  # README quirk 2
    assert body == expected["body"]


# ---------------------------------------------------------------------- behaviour
def _post(fake: FreescoutFake, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"X-FreeScout-API-Key": KEY} | JSON_HEADERS
    status, _, payload = fake.handle("POST", path, {}, headers, json.dumps(body).encode())
    return status, json.loads(payload)


def _conversation(email: str, text: str = "<p>hi</p>", **extra: Any) -> dict[str, Any]:
    thread = {"type": "message", "user": 1, "text": text}
    return {
        "type": "email",
        "mailboxId": 1,
        "subject": "Hello",
        "customer": {"email": email},
        "threads": [thread],
    } | extra


def test_messages_to_skips_imported_notes_drafts_and_other_customers() -> None:
    fake = lab()
    _post(fake, "/api/conversations", _conversation("carol@example.test", imported=True))
    note = _conversation("carol@example.test")
    note["threads"][0]["type"] = "note"
    _post(fake, "/api/conversations", note)
    draft = _conversation("carol@example.test")
    draft["threads"][0]["state"] = "draft"
    _post(fake, "/api/conversations", draft)
    _post(fake, "/api/conversations", _conversation("dave@example.test"))
    status, sent = _post(
        fake, "/api/conversations", _conversation("Carol@Example.test", "<p>x</p>")
    )

    assert status == 201
    assert [(m.conversation_id, m.text) for m in fake.messages_to("CAROL@example.test")] == [
        (sent["id"], "<p>x</p>")
    ]


def test_follow_up_thread_is_emailed_and_makes_the_conversation_pending() -> None:
    fake = lab()
    _, conv = _post(fake, "/api/conversations", _conversation(ALICE_EMAIL, status="active"))
    fake.advance(30)
    status, thread = _post(
        fake,
        f"/api/conversations/{conv['id']}/threads",
        {"type": "message", "user": 1, "text": "f"},
    )

    assert status == 201 and thread["action"]["text"].endswith("replied to conversation #1")
    assert fake.conversations[conv["id"]].status == "pending"  # 81_
    assert [m.text for m in fake.messages_to(ALICE_EMAIL)] == ["<p>hi</p>", "f"]
    missing, body = _post(fake, "/api/conversations/99/threads", {"type": "message"})
    assert (missing, body["message"]) == (404, "Not Found")


def test_failed_create_keeps_the_new_customer_and_uses_up_an_id() -> None:
    fake = lab()
    status, _ = _post(fake, "/api/conversations", _conversation("bob@example.test", mailboxId=9))
    assert status == 400 and [c.emails for c in fake.customers.values()] == [["bob@example.test"]]
    no_user = _conversation(ALICE_EMAIL)
    no_user["threads"][0].pop("user")
    assert _post(fake, "/api/conversations", no_user)[0] == 400
    assert _post(fake, "/api/conversations", _conversation(ALICE_EMAIL))[1]["id"] == 2


def test_list_pages_are_one_based_and_echo_the_page_asked_for() -> None:
    fake = lab()
    for _ in range(5):
        _post(fake, "/api/conversations", _conversation(ALICE_EMAIL))
    headers = {"X-FreeScout-API-Key": KEY}
    query = {"pageSize": "2", "page": "3", "sortField": "number", "sortOrder": "asc"}
    _, _, payload = fake.handle("GET", "/api/conversations", query, headers, None)
    body = json.loads(payload)

    assert [c["id"] for c in body["_embedded"]["conversations"]] == [5]
    assert body["page"] == {"size": 2, "totalElements": 5, "totalPages": 3, "number": 3}


def test_served_over_real_http_the_fake_answers_the_same() -> None:
    fake = lab()
    with serve(fake) as url:
        created = requests.post(
            f"{url}/api/conversations",
            json=_conversation(ALICE_EMAIL),
            headers={"X-FreeScout-API-Key": KEY},
            timeout=5,
        )
        denied = requests.get(f"{url}/api/mailboxes", timeout=5)

    assert created.status_code == 201 and created.headers["Resource-ID"] == "1"
    assert (denied.status_code, denied.json()) == (401, {"message": "Not Authorized"})
