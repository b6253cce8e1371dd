"""A stateful in-memory Matrix homeserver, as much of it as syncd's notifier uses.

Role: users with access tokens and devices, rooms with members, messages per
room stamped with the fake clock `now`, and Synapse's transaction cache (§3 of
docs/contracts/matrix.md): a PUT repeating a (user, device, path) answers
the first event id for 24 h of fake time, then posts anew. Rate limiting and
the 401/403/400 answers have the contract's shapes (§2, §4, §5). It must never
import `requests`/`responses`, sleep, or read the real clock: `advance()` moves time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.fakes.base import FakeBase, Request, Response

CLIENT_API = "/_matrix/client/v3"
TXN_RETENTION_SECONDS = 24 * 3600  # Synapse `_cleanup_old_transaction_ids` (§3)
_STATUS_ERRORS = {
    400: ("M_BAD_JSON", "Content must be a JSON object."),
    401: ("M_UNKNOWN_TOKEN", "Invalid access token passed."),
    403: ("M_FORBIDDEN", "Forbidden"),
    404: ("M_NOT_FOUND", "Not found"),
    429: ("M_LIMIT_EXCEEDED", "Too Many Requests"),
}


@dataclass(frozen=True)
class Device:
    user_id: str
    device_id: str


@dataclass(frozen=True)
class Event:
    event_id: str
    room_id: str
    type: str
    sender: str
    content: Mapping[str, Any]
    origin_server_ts: int  # milliseconds on the fake clock
    txn_id: str | None = None
    device_id: str | None = None  # the sender's device: only it is told the txn id (§9)


@dataclass
class Room:
    room_id: str
    members: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)


@dataclass
class _RateLimit:
    remaining: int | None  # None: until switched off
    retry_after_ms: int
    header: bool


class FakeMatrix(FakeBase):
    """An in-memory homeserver answering whoami, `m.room.message` sends and room history."""

    def __init__(self, server_name: str = "test", now: float = 1_767_225_600.0) -> None:
        super().__init__()
        self.server_name = server_name
        self.now = now  # seconds since the epoch, moved only by `advance`
        self.tokens: dict[str, Device] = {}
        self.rooms: dict[str, Room] = {}
        self.aliases: dict[str, str] = {}  # `#name:server` → room id
        self.txns: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._limit: _RateLimit | None = None
        self._next_event = 1

    # ------------------------------------------------------------------ set-up and inspection
    def add_user(self, user_id: str, token: str, device_id: str = "SYNCDDEVICE") -> Device:
        device = Device(user_id, device_id)
        self.tokens[token] = device
        return device

    def logout(self, token: str) -> None:
        """Forget a token (its device's txn ids then mean nothing, §3)."""
        self.tokens.pop(token, None)

    def add_room(self, room_id: str, members: Iterable[str] = ("@syncd:test",)) -> Room:
        room = Room(room_id, set(members))
        self.rooms[room_id] = room
        return room

    def add_alias(self, alias: str, room_id: str) -> None:
        self.aliases[alias] = room_id

    def events(self, room_id: str) -> list[Event]:
        return list(self.rooms[room_id].events)

    def messages(self, room_id: str) -> list[str]:
        """The text bodies posted in a room, oldest first."""
        events = self.events(room_id)
        return [str(e.content.get("body", "")) for e in events if e.type == "m.room.message"]

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def rate_limit(
        self, times: int | None, retry_after_ms: int = 2000, header: bool = True
    ) -> None:
        """Answer the next `times` sends 429 M_LIMIT_EXCEEDED (None: until `rate_limit(0)`).

        `header=False` omits `Retry-After`, leaving only the deprecated `retry_after_ms` (§5).
        """
        self._limit = None if times == 0 else _RateLimit(times, retry_after_ms, header)

    # ------------------------------------------------------------------ FakeBase hooks
    def _fault_body(self, status: int) -> bytes:
        errcode, text = _STATUS_ERRORS.get(status, ("M_UNKNOWN", "Internal server error"))
        return _error(errcode, text)

    def _dispatch(self, req: Request) -> Response:
        parts = req.path.removeprefix(CLIENT_API).strip("/").split("/")
        if not req.path.startswith(CLIENT_API + "/"):
            return self._unrecognized(404)
        if parts == ["account", "whoami"]:
            return self._whoami(req) if req.method == "GET" else self._unrecognized(405)
        if len(parts) == 5 and parts[0] == "rooms" and parts[2] == "send":
            return self._send(req, parts[1], parts[3], parts[4])
        if len(parts) == 3 and parts[:2] == ["directory", "room"]:
            return self._alias(req, parts[2]) if req.method == "GET" else self._unrecognized(405)
        if len(parts) == 3 and parts[0] == "rooms" and parts[2] == "messages":
            return self._messages(req, parts[1]) if req.method == "GET" else self._unrecognized(405)
        return self._unrecognized(404)

    # ------------------------------------------------------------------ routes
    def _whoami(self, req: Request) -> Response:
        device = self._authenticate(req)
        if isinstance(device, tuple):
            return device
        body = {"user_id": device.user_id, "is_guest": False, "device_id": device.device_id}
        return self._json(200, body)

    def _send(self, req: Request, room_id: str, event_type: str, txn_id: str) -> Response:
        if req.method != "PUT":
            return self._unrecognized(405)
        device = self._authenticate(req)
        if isinstance(device, tuple):
            return device
        key = (device.user_id, device.device_id, req.path)
        cached = self._cached_event(key)
        if cached is not None:  # §3: a retransmission answers the original event id
            return self._json(200, {"event_id": cached})
        content = _json_object(req.body)
        if not isinstance(content, dict):
            return 400, dict(self.json_headers), content
        refused = self._refuse_send(room_id, device)
        if refused is not None:
            return refused  # §5: a refusal (429 too) is not cached, so a retry runs anew
        event = self._post(room_id, event_type, device.user_id, content, txn_id, device.device_id)
        self.txns[key] = (event.event_id, self.now)
        return self._json(200, {"event_id": event.event_id})

    def _alias(self, req: Request, alias: str) -> Response:
        """The room directory: `{"room_id", "servers"}`, or 404 M_NOT_FOUND."""
        device = self._authenticate(req)
        if isinstance(device, tuple):
            return device
        room_id = self.aliases.get(alias)
        if room_id is None:
            text = f"Room alias {alias} not found"
            return 404, dict(self.json_headers), _error("M_NOT_FOUND", text)
        return self._json(200, {"room_id": room_id, "servers": [self.server_name]})

    def _messages(self, req: Request, room_id: str) -> Response:
        """§8: a page of the room's timeline, newest first with `dir=b`, filtered.

        Tokens are positions in the room's event list; `end` is left out once
        the start of the room is reached. Filtering happens after a page is
        cut, as Synapse does, so a page may be empty and still carry `end`.
        """
        device = self._authenticate(req)
        if isinstance(device, tuple):
            return device
        room = self.rooms.get(room_id)
        if room is None or device.user_id not in room.members:
            text = f"User {device.user_id} not in room {room_id}, and room previews are disabled"
            return 403, dict(self.json_headers), _error("M_FORBIDDEN", text)
        try:
            limit = min(max(int(req.query.get("limit", "10")), 1), 1000)
            wanted = json.loads(req.query.get("filter") or "{}")
        except ValueError:
            return 400, dict(self.json_headers), _error("M_INVALID_PARAM", "Bad limit or filter")
        backwards = req.query.get("dir", "f") == "b"
        end = len(room.events)
        start = int(req.query["from"].removeprefix("t")) if req.query.get("from") else None
        if backwards:
            top = end if start is None else start
            window = room.events[max(0, top - limit) : top][::-1]
            next_at = top - limit
            more = next_at > 0
        else:
            low = 0 if start is None else start
            window = room.events[low : low + limit]
            next_at = low + limit
            more = next_at < end
        chunk = [self._client_event(e, device) for e in window if _matches(e, wanted)]
        body: dict[str, Any] = {"chunk": chunk, "start": f"t{top if backwards else low}"}
        if more:
            body["end"] = f"t{next_at}"
        return self._json(200, body)

    # ------------------------------------------------------------------ helpers
    def _authenticate(self, req: Request) -> Device | Response:
        """§2: a Bearer header only; a query-string token counts as missing (spec v1.20)."""
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return 401, dict(self.json_headers), _error("M_MISSING_TOKEN", "Missing access token")
        device = self.tokens.get(auth.removeprefix("Bearer ").strip())
        if device is None:
            body = _error("M_UNKNOWN_TOKEN", "Invalid access token passed.", soft_logout=False)
            return 401, dict(self.json_headers), body
        return device

    def _refuse_send(self, room_id: str, device: Device) -> Response | None:
        room = self.rooms.get(room_id)
        if room is None or device.user_id not in room.members:  # §1: must be joined
            text = f"User {device.user_id} not in room {room_id}"
            return 403, dict(self.json_headers), _error("M_FORBIDDEN", text)
        if self._limit is not None:
            return self._rate_limited(self._limit)
        return None

    def _rate_limited(self, limit: _RateLimit) -> Response:
        if limit.remaining is not None:
            limit.remaining -= 1
            if limit.remaining <= 0:
                self._limit = None
        headers = dict(self.json_headers)
        if limit.header:  # Synapse rounds the wait up to whole seconds
            headers["Retry-After"] = str(math.ceil(limit.retry_after_ms / 1000))
        body = _error("M_LIMIT_EXCEEDED", "Too Many Requests", retry_after_ms=limit.retry_after_ms)
        return 429, headers, body

    def _cached_event(self, key: tuple[str, str, str]) -> str | None:
        """§3: the txn→event mapping is cleaned after 24 h; then the PUT is new."""
        entry = self.txns.get(key)
        if entry is None:
            return None
        event_id, stored_at = entry
        if self.now - stored_at >= TXN_RETENTION_SECONDS:
            del self.txns[key]
            return None
        return event_id

    def _post(
        self,
        room_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        txn_id: str,
        device_id: str | None = None,
    ) -> Event:
        event_id = f"$event{self._next_event}:{self.server_name}"
        self._next_event += 1
        stamp = int(self.now * 1000)
        event = Event(event_id, room_id, event_type, sender, content, stamp, txn_id, device_id)
        self.rooms[room_id].events.append(event)
        return event

    def _client_event(self, event: Event, reader: Device) -> dict[str, Any]:
        """An event as /messages gives it; `unsigned.transaction_id` only to the device
        that sent it, as Synapse does (§9)."""
        unsigned: dict[str, Any] = {"age": max(0, int(self.now * 1000) - event.origin_server_ts)}
        if event.txn_id and (event.sender, event.device_id) == (reader.user_id, reader.device_id):
            unsigned["transaction_id"] = event.txn_id
        return {
            "event_id": event.event_id,
            "room_id": event.room_id,
            "type": event.type,
            "sender": event.sender,
            "content": dict(event.content),
            "origin_server_ts": event.origin_server_ts,
            "unsigned": unsigned,
        }

    def _json(self, status: int, body: Any) -> Response:
        return status, dict(self.json_headers), json.dumps(body).encode()

    def _unrecognized(self, status: int) -> Response:
        return status, dict(self.json_headers), _error("M_UNRECOGNIZED", "Unrecognized request")


def _matches(event: Event, wanted: Mapping[str, Any]) -> bool:
    """A RoomEventFilter's `senders` and `types` (the parts syncd uses)."""
    senders, types = wanted.get("senders"), wanted.get("types")
    return (senders is None or event.sender in senders) and (types is None or event.type in types)


def _error(errcode: str, text: str, **extra: Any) -> bytes:
    """The standard error body (§4): `errcode` always, `error` text, optional extras."""
    return json.dumps({"errcode": errcode, "error": text, **extra}).encode()


def _json_object(body: bytes | None) -> dict[str, Any] | bytes:
    """The request's JSON object, or the 400 error body Synapse sends instead."""
    try:
        content = json.loads(body or b"")
    except ValueError:
        return _error("M_NOT_JSON", "Content not JSON.")
    return content if isinstance(content, dict) else _error(*_STATUS_ERRORS[400])
