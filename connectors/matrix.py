"""Matrix Client-Server client: the only module that speaks Matrix's protocol.

It posts bot notices (and digests of several) into rooms, resolves room
aliases, finds its own notices in a room's history and answers who the bot
is and on which device (transaction ids dedupe per device, §3), following
docs/contracts/matrix.md (cited as §n). A notice is a PUT keyed by a
transaction id that the homeserver dedupes (§3), so it is safe to retry with
the same id; that id is derived from our action key by `txn_id_for`, never
drawn at random. It must never know a rule, a case or a step, log or show the
access token (it lives in the session header only), or pick a fresh txnId
for a retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from connectors.http import HttpClient, RetryPolicy, retry_after_seconds
from syncd.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    RemoteError,
    TransientError,
)

SYSTEM = "matrix"
CLIENT_API = "/_matrix/client/v3"
_TOKEN_ERRCODES = frozenset({"M_MISSING_TOKEN", "M_UNKNOWN_TOKEN"})
# §4: without an errcode, or with M_UNKNOWN, the HTTP status decides.
_STATUS_ERRCODES = {
    401: "M_UNKNOWN_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    429: "M_LIMIT_EXCEEDED",
}
_TXN_SLUG_MAX = 40
MARKER_KEY = "org.syncd.key"  # §8: custom content key carrying the action key
ITEMS_KEY = "org.syncd.keys"  # §8: a digest's content lists the keys of its items
_HISTORY_PAGES = 50  # of 100 events each: our own notices in one room, far back enough
_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str  # e.g. https://matrix.example.org
    access_token: str = field(repr=False)
    timeout: float = 30.0


class MatrixClient:
    """Posts `m.notice` messages as one bot user on one device (§3: txnIds are per device)."""

    def __init__(self, settings: MatrixSettings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.homeserver = settings.homeserver.rstrip("/")
        # §2: the token goes in the Authorization header only, never in the query.
        headers = {"Authorization": f"Bearer {settings.access_token}"}
        self._me: str | None = None
        self.http = HttpClient(
            SYSTEM, self.homeserver, headers, settings.timeout, policy, error_hook=self._error
        )

    def __repr__(self) -> str:
        return f"MatrixClient({self.homeserver!r})"

    def send_notice(
        self,
        room_id: str,
        text: str,
        txn_id: str,
        *,
        html: str | None = None,
        marker: str | None = None,
        items: Sequence[str] = (),
    ) -> str:
        """Post a notice once and return its event id; the same txn_id never posts twice.

        Retried (same txnId, §3/§6) on timeouts, lost connections, 5xx and 429.
        The dedupe lasts 24 h on Synapse (§3): later, `find_notice` looks for the
        `marker` the content carries (§8), or one of the `items` a digest lists.
        `html`, if given, must be escaped (§7).
        """
        path = send_path(room_id, txn_id)
        operation = f"PUT {path}"
        content = notice_content(text, html)
        if marker is not None:
            content[MARKER_KEY] = marker
        if items:
            content[ITEMS_KEY] = list(items)
        response = self.http.request("PUT", path, body=content, retry_write=True)
        # A garbled 200 raises TransientError here: resending the same txnId is safe.
        return parse_event_id(self.http.decode(response, operation), operation)

    def find_notice(self, room_id: str, marker: str, since: datetime) -> str | None:
        """The event id of our own notice carrying `marker` (itself, or as an item of a
        digest), posted at or after `since` (§8).

        Reads the room's history backwards, only our bot's messages, a page at a
        time, until it is older than `since`. Too long a history to read is an
        error, never a "not found": the caller must not resend on a guess.
        """
        path = f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/messages"
        cutoff = since.timestamp() * 1000
        user_id = self._user_id()
        query: dict[str, Any] = {
            "dir": "b",
            "limit": 100,
            "filter": json.dumps({"senders": [user_id], "types": ["m.room.message"]}),
        }
        for _page in range(_HISTORY_PAGES):
            body = self.http.get_json(path, query)
            chunk = body.get("chunk") if isinstance(body, dict) else None
            for event in chunk if isinstance(chunk, list) else []:
                content = event.get("content") if isinstance(event, dict) else None
                if isinstance(content, dict) and _carries(content, marker):
                    return str(event.get("event_id") or "")
                if _stamp(event) < cutoff:
                    return None
            end = body.get("end") if isinstance(body, dict) else None
            if not isinstance(end, str) or not end:
                return None  # the start of the room
            query["from"] = end
        raise PermanentError(SYSTEM, f"GET {path}", f"more than {_HISTORY_PAGES} pages to read")

    def resolve_alias(self, alias: str) -> str:
        """The room id a room alias (`#sales:example.org`) names (§1, §7: the directory).

        404 M_NOT_FOUND: no such alias; an error, never a guess.
        """
        path = f"{CLIENT_API}/directory/room/{quote(alias, safe='')}"
        body = self.http.get_json(path)
        room_id = body.get("room_id") if isinstance(body, dict) else None
        if not isinstance(room_id, str) or not room_id.startswith("!"):
            raise PermanentError(SYSTEM, f"GET {path}", f"answer has no room_id: {body!r:.200}")
        return room_id

    def _user_id(self) -> str:
        if self._me is None:
            self._me = self.whoami()[0]
        return self._me

    def whoami(self) -> tuple[str, str]:
        """(user_id, device_id) of the token (§7): the device scopes txnId dedupe."""
        path = f"{CLIENT_API}/account/whoami"
        body = self.http.get_json(path)
        if not isinstance(body, dict) or not isinstance(body.get("user_id"), str):
            raise PermanentError(SYSTEM, f"GET {path}", "answer has no user_id")
        # device_id is optional in whoami.yaml (application-service users have none).
        return str(body["user_id"]), str(body.get("device_id") or "")

    def _error(self, response: requests.Response, operation: str) -> RemoteError | None:
        """§4: read `errcode` before the HTTP status; None lets http.py's status mapping decide."""
        body = _error_body(response)
        status = response.status_code
        code = _errcode(body) or _STATUS_ERRCODES.get(status)
        said = _describe(body, status)
        if code == "M_LIMIT_EXCEEDED":  # §5: retried with the same txnId
            return TransientError(SYSTEM, operation, said, status, rate_limit_wait(response, body))
        if code is None or status >= 500:
            return None
        if code in _TOKEN_ERRCODES:  # §2/§6: fatal config error, no retry
            message = f"Matrix rejected the access token for {self.homeserver} ({said})"
            return AuthError(SYSTEM, operation, message, status)
        if code == "M_FORBIDDEN":  # §1/§6: not joined, or power level too low
            message = f"the bot is not in the room or lacks power to post there ({said})"
            return PermanentError(SYSTEM, operation, message, status)
        if code == "M_NOT_FOUND":
            return NotFoundError(SYSTEM, operation, said, status)
        return PermanentError(SYSTEM, operation, said, status)  # 400 M_BAD_JSON etc.: a bug


def send_path(room_id: str, txn_id: str) -> str:
    """The request path of a message send (§1); also what `--dry-run` shows."""
    if not room_id.startswith("!"):
        # §1/§7: an alias is resolved to a room id first (`resolve_alias`), never sent to.
        raise PermanentError(SYSTEM, "PUT send", f"{room_id!r} is not a room id (must start '!')")
    if not txn_id:
        raise ValueError("txn_id must not be empty")
    room, txn = quote(room_id, safe=""), quote(txn_id, safe="")
    return f"{CLIENT_API}/rooms/{room}/send/m.room.message/{txn}"


def notice_content(text: str, html: str | None = None) -> dict[str, Any]:
    """The event content (§1): a non-alerting notice that pings nobody (§7 `m.mentions`)."""
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text, "m.mentions": {}}
    if html is not None:
        content |= {"format": "org.matrix.custom.html", "formatted_body": html}
    return content


def parse_event_id(body: Any, operation: str) -> str:
    """§1: a 200 answer is `{"event_id": "$…"}`, event_id required."""
    if not isinstance(body, dict) or not isinstance(body.get("event_id"), str):
        raise PermanentError(SYSTEM, operation, f"answer has no event_id: {str(body)[:200]}")
    return str(body["event_id"])


def txn_id_for(key: str) -> str:
    """A deterministic, URL-safe txnId for an action key: readable slug + short hash.

    Same key, same txnId, so a resend after a restart dedupes (§3). The hash
    covers the whole key, so keys differing only in unsafe characters differ.
    """
    slug = _UNSAFE.sub("-", key).strip("-")[:_TXN_SLUG_MAX] or "txn"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{slug}.{digest}"


def rate_limit_wait(response: requests.Response, body: Mapping[str, Any]) -> float | None:
    """§5: `Retry-After` first, then the deprecated `retry_after_ms`, else None (backoff)."""
    header = retry_after_seconds(response.headers.get("Retry-After"))
    if header is not None:
        return header
    millis = body.get("retry_after_ms")
    if isinstance(millis, int | float) and not isinstance(millis, bool) and millis >= 0:
        return float(millis) / 1000.0
    return None


def _carries(content: Mapping[str, Any], marker: str) -> bool:
    items = content.get(ITEMS_KEY)
    return content.get(MARKER_KEY) == marker or (isinstance(items, list) and marker in items)


def _stamp(event: Any) -> float:
    stamp = event.get("origin_server_ts") if isinstance(event, dict) else None
    return float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else 0.0


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}  # e.g. an HTML page from a reverse proxy
    return body if isinstance(body, dict) else {}


def _errcode(body: Mapping[str, Any]) -> str | None:
    code = body.get("errcode")
    return code if isinstance(code, str) and code and code != "M_UNKNOWN" else None


def _describe(body: Mapping[str, Any], status: int | None = None) -> str:
    """The remote's words: `M_CODE: text`, plus the hints some codes carry (§4)."""
    errcode = body.get("errcode") or f"HTTP {status}"
    text = f"{errcode}: {body.get('error') or ''}".rstrip(": ")
    if body.get("soft_logout"):
        text += " (soft logout: log in again on the same device)"  # §2
    if body.get("admin_contact"):
        text += f" (admin: {body['admin_contact']})"  # M_RESOURCE_LIMIT_EXCEEDED
    return text


__all__ = [
    "MatrixClient",
    "MatrixSettings",
    "notice_content",
    "parse_event_id",
    "send_path",
    "txn_id_for",
]
