"""A stateful, in-memory fake of Mautic's REST API (5.1.0 by default; "4.4" and older on demand).

Role: answer parsed requests with the statuses, headers and body shapes of the recordings
of a real Mautic 5.1 (tests/fixtures/mautic/, replayed against this fake by
tests/connectors/test_fake_mautic.py) and of docs/contracts/mautic.md (§n below), keep the
state those requests change (contacts, Do-Not-Contact entries, segment membership,
`email_stats` rows, OAuth2 tokens, the hourly rate limit) and model the quirks syncd must
survive: `minimal=1` dropping `doNotContact` (§6), prefix search (§6), the ignored-filter
bug mautic#12612 (`prefix_search_bug`), `{}` vs `[]` for nothing, `total` as a string,
API sends that ignore Do-Not-Contact on 5.x and skip it silently on 4.x (§8), errors with
HTTP 200 from the stats API (§3), 429s with `X-RateLimit-*` and no `Retry-After` (§4).
Guesses are marked [infer]. It must never speak HTTP itself, import `requests`/`responses`,
sleep, or read the real clock: `now` moves only through `advance()`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from connectors.fakes.base import FakeBase, Request, Response
from connectors.fakes.mautic_bodies import (
    STAT_COLUMNS,
    ContactRow,
    MauticError,
    StatRow,
    contact_body,
    dnc_as_added,
    dump,
    error_body,
    flat_body,
    limit_message,
    stat_body,
    utc,
)

DEFAULT_NOW = 1780000000.0  # 2026-05-28 20:26:40 UTC: any fixed instant will do
TOKEN_LIFETIME = 3600  # §2b: api_oauth2_access_token_lifetime = 60 minutes
_JSON = {"Content-Type": "application/json"}
_NOT_FOUND = "Item was not found."
_NO_CONTACT = "Contact not found."  # 37, 45: an unknown contact on send and segment add
_BAD_PASSWORD = "Authorization denied, invalid credentials."  # 49
_NO_CREDENTIALS = "API authorization denied."  # 50
_RATE_WINDOW = 3600  # §4: the limiter counts calls per hour
_ACCESS_DENIED = "You do not have access to the requested area/action."
_API_DISABLED = "API disabled. You need to enable the API in the API settings."
_BASIC_DISABLED = "Basic authentication disabled. You need to enable it in the API settings."
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class SegmentRow:
    id: int
    name: str
    is_published: bool = True
    is_global: bool = True


@dataclass(frozen=True)
class SentEmail:
    email_id: int
    contact_id: int
    to: str
    tokens: Mapping[str, str]
    sent_at: datetime


Handler = Callable[[Request, "re.Match[str]"], Response]


class FakeMautic(FakeBase):
    """The fake server: state, seeding and inspection helpers, faults, and `handle()`."""

    def __init__(self, *, now: float = DEFAULT_NOW, version: str = "5.1.0") -> None:
        super().__init__()
        self.now = now
        self.version = version
        self.api_enabled = True  # §1 `api_enabled`
        self.basic_auth_enabled = True  # §2a `api_enable_basic_auth`
        self.prefix_search_bug = False  # mautic#12612: lookups ignore their filter
        self.total_as_string = True  # §6: `total` is a string in the quoted answers
        self.send_failure: str | None = None  # next sends answer {"success": false, …}
        self.users: dict[str, str] = {}
        self.oauth_clients: dict[str, str] = {}
        self.tokens: dict[str, float] = {}  # access token → expiry on `now`
        self.contacts: dict[int, ContactRow] = {}
        self.emails: dict[int, str] = {}
        self.segments: dict[int, SegmentRow] = {}
        self.members: dict[int, set[int]] = {}
        self.stats: list[StatRow] = []
        self.rate_limit = 0  # §4 `api_rate_limiter_limit`: calls per hour, 0 = off
        self._window: tuple[float, int] | None = None  # (first call of the hour, calls)
        self._next = {"contact": 1, "stat": 1, "token": 1, "dnc": 1}
        self._routes = self._route_table()

    # ------------------------------------------------------------------ seeding, inspection
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @property
    def now_utc(self) -> datetime:
        return utc(self.now)

    def add_user(self, username: str, password: str) -> None:
        self.users[username] = password

    def add_oauth_client(self, client_id: str, client_secret: str) -> None:
        self.oauth_clients[client_id] = client_secret

    def revoke_tokens(self) -> None:
        """Every issued token becomes invalid (an admin reset, a cache clear…)."""
        self.tokens.clear()

    def add_contact(
        self, email: str, firstname: str = "", dnc: bool = False, *, lastname: str = ""
    ) -> int:
        row = self._create_contact(email)
        row.firstname, row.lastname = firstname, lastname
        if dnc:
            self.set_dnc(email)
        return row.id

    def add_email(self, email_id: int, name: str) -> None:
        self.emails[email_id] = name

    def add_segment(
        self, segment_id: int, name: str, *, published: bool = True, is_global: bool = True
    ) -> None:
        self.segments[segment_id] = SegmentRow(segment_id, name, published, is_global)
        self.members.setdefault(segment_id, set())

    def set_dnc(self, email: str, reason: int = 1, comments: str = "") -> None:
        """Put the contact on the email Do-Not-Contact list (reason 1: unsubscribed)."""
        row = self.contact(email)
        if row is None:
            raise KeyError(email)
        self._add_dnc(row, "email", reason, comments)

    def clear_dnc(self, email: str) -> None:
        """The person subscribed again: the email Do-Not-Contact entry goes."""
        row = self.contact(email)
        if row is None:
            raise KeyError(email)
        row.dnc = [e for e in row.dnc if e["channel"] != "email"]

    def _add_dnc(self, row: ContactRow, channel: str, reason: int, comments: str) -> None:
        row.dnc = [e for e in row.dnc if e["channel"] != channel]
        entry = {"id": self._new("dnc"), "reason": reason, "comments": comments}
        row.dnc.append(entry | {"channel": channel, "channelId": None})
        row.date_modified = self.now

    def contact(self, email: str) -> ContactRow | None:
        """The contact Mautic's upsert would match: same address, lowest id."""
        found = [c for c in self.contacts.values() if c.email.lower() == email.lower()]
        return min(found, key=lambda c: c.id) if found else None

    def add_stat(
        self, email_id: int, contact_id: int, *, failed: bool = False, source: str = "api"
    ) -> None:
        """An `email_stats` row at `now`, as another send path would leave it."""
        email = self.contacts[contact_id].email
        self.stats.append(
            StatRow(self._new("stat"), email_id, contact_id, email, self.now, source, failed)
        )

    def sent(self, email_id: int | None = None, to: str | None = None) -> list[SentEmail]:
        """What Mautic accepted for sending (not failed), oldest first."""
        return [
            SentEmail(s.email_id, s.lead_id, s.email_address, dict(s.tokens), utc(s.date_sent))
            for s in self.stats
            if not s.is_failed
            and (email_id is None or s.email_id == email_id)
            and (to is None or s.email_address.lower() == to.lower())
        ]

    # ------------------------------------------------------------------ FakeBase hooks
    def _fault_body(self, status: int) -> bytes:
        if status == 429:  # §4
            return error_body(MauticError(429, limit_message(self.rate_limit or 100)))
        return error_body(MauticError(status, "Fault injected by the test."))

    def throttle(
        self, method: str | None, path_prefix: str, *, retry_after: int = 1, times: int | None = 1
    ) -> None:
        """Answer 429 as Mautic's limiter does (§4): `X-RateLimit-Reset` `retry_after`
        seconds from now, and no `Retry-After`."""
        limit = self.rate_limit or 100
        headers = self._limit_headers(limit, 0, self.now + retry_after)
        headers["Date"] = formatdate(self.now, usegmt=True)
        self.fail(method, path_prefix, status=429, headers=headers, times=times)

    def _dispatch(self, req: Request) -> Response:
        dated = {"Date": formatdate(self.now, usegmt=True)}
        try:
            handler, match = self._route(req)
            if req.path.startswith("/api"):
                self._authenticate(req)
        except MauticError as err:  # from the firewall / ApiSubscriber: no version header
            return err.status, _JSON | dated, error_body(err)
        limited = self._count_call() if req.path.startswith("/api") else {}
        if limited.get("X-RateLimit-Remaining") == "-1":  # §4: refused before the controller
            limited["X-RateLimit-Remaining"] = "0"
            refusal = MauticError(429, limit_message(self.rate_limit))
            return 429, _JSON | dated | limited, error_body(refusal)
        try:
            status, headers, body = handler(req, match)
        except MauticError as err:
            status, headers, body = err.status, dict(_JSON), error_body(err)
        return status, headers | dated | limited | {"Mautic-Version": self.version}, body

    def _count_call(self) -> dict[str, str]:
        """§4: one more call in this hour's window; its headers (Remaining -1: refused)."""
        if not self.rate_limit:
            self._window = None
            return {}
        start, calls = self._window or (self.now, 0)
        if self.now >= start + _RATE_WINDOW:
            start, calls = self.now, 0
        self._window = (start, calls + 1)
        remaining = self.rate_limit - calls - 1
        return self._limit_headers(self.rate_limit, max(remaining, -1), start + _RATE_WINDOW)

    @staticmethod
    def _limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset)),
        }

    def _route(self, req: Request) -> tuple[Handler, re.Match[str]]:
        for methods, pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match and req.method in methods:
                return handler, match
        raise MauticError(404, "Requested URL not found: " + req.path)  # [infer]

    def _route_table(self) -> list[tuple[tuple[str, ...], re.Pattern[str], Handler]]:
        num = r"(?P<id>\d+)"
        table: list[tuple[tuple[str, ...], str, Handler]] = [
            (("GET", "POST"), "/oauth/v2/token", self._token),  # §2b: GET|POST
            (("GET",), "/api/contacts", self._list_contacts),
            (("POST",), "/api/contacts/new", self._new_contact),
            (("GET",), f"/api/contacts/{num}", self._get_contact),
            (("POST",), rf"/api/contacts/{num}/dnc/(?P<channel>\w+)/add", self._dnc_add),
            (("POST",), rf"/api/contacts/{num}/dnc/(?P<channel>\w+)/remove", self._dnc_remove),
            (("POST",), rf"/api/emails/{num}/contact/(?P<cid>\d+)/send", self._send),
            (("GET",), f"/api/emails/{num}", self._get_email),
            (("GET",), f"/api/segments/{num}", self._get_segment),
            (("POST",), rf"/api/segments/{num}/contact/(?P<cid>\d+)/add", self._segment_add),
            (("GET",), r"/api/stats/(?P<table>\w+)", self._stats),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ------------------------------------------------------------------ authentication (§1, §2)
    def _authenticate(self, req: Request) -> None:
        if not self.api_enabled:  # §1
            raise MauticError(403, _API_DISABLED, "api_disabled")
        scheme, _, credentials = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            self._check_basic(credentials)
        elif scheme.lower() == "bearer":
            self._check_bearer(credentials)
        else:  # 50: no credentials at all
            raise MauticError(401, _NO_CREDENTIALS, "access_denied")

    def _check_basic(self, credentials: str) -> None:
        if not self.basic_auth_enabled:  # §2a
            raise MauticError(403, _BASIC_DISABLED, "access_denied")
        try:
            user, _, password = base64.b64decode(credentials).decode().partition(":")
        except ValueError:
            user, password = "", ""
        if not user or self.users.get(user) != password:  # 49
            raise MauticError(401, _BAD_PASSWORD, "access_denied")

    def _check_bearer(self, token: str) -> None:
        expiry = self.tokens.get(token)
        if expiry is None:  # §2b, Oauth2Test.php
            raise MauticError(401, "The access token provided is invalid.", "invalid_grant")
        if expiry <= self.now:  # [infer] oauth2-php's wording for an expired token
            raise MauticError(401, "The access token provided has expired.", "invalid_grant")

    def _token(self, req: Request, _m: re.Match[str]) -> Response:
        form = _payload(req) if req.method == "POST" else dict(req.query)
        if form.get("grant_type") != "client_credentials":  # [infer] oauth2-php wording
            message = "Invalid grant_type parameter or parameter missing"
            raise MauticError(400, message, "invalid_request")
        client_id = str(form.get("client_id") or "")
        if not client_id or self.oauth_clients.get(client_id) != form.get("client_secret"):
            raise MauticError(400, "The client credentials are invalid", "invalid_client")
        token = f"fake-token-{self._new('token')}"
        self.tokens[token] = self.now + TOKEN_LIFETIME
        body = {"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "bearer"}
        return _ok(body | {"scope": None})

    # ------------------------------------------------------------------ contacts (§6, §7)
    def _list_contacts(self, req: Request, _m: re.Match[str]) -> Response:
        rows = sorted(self.contacts.values(), key=lambda c: c.id)
        if not self.prefix_search_bug:  # mautic#12612 returned everyone, filter ignored
            rows = [r for r in rows if self._where_ok(r, req.query)]
            rows = [r for r in rows if _search_ok(r, req.query.get("search", ""))]
        if req.query.get("orderByDir", "").upper() == "DESC":  # 27: keys keep the order
            rows.reverse()
        start, limit = _int(req.query, "start", 0), _int(req.query, "limit", 30)
        minimal = req.query.get("minimal") in ("1", "true")
        shown = {str(r.id): contact_body(r, minimal) for r in rows[start : start + limit]}
        return _ok({"total": self._total(len(rows)), "contacts": shown or self._empty()})

    def _where_ok(self, row: ContactRow, query: Mapping[str, str]) -> bool:
        for col, expr, val in _where(query):
            if col not in ("email", "id") or expr not in ("eq", "neq"):
                raise MauticError(400, f"Unsupported where clause {col} {expr}")  # [infer]
            if self._major() < 6:  # §6: cleanArray HTML-encodes where[] values (PR #14550)
                val = html.escape(val, quote=True)
            value = row.email if col == "email" else str(row.id)
            if (value.lower() == val.lower()) != (expr == "eq"):
                return False
        return True

    def _get_contact(self, _req: Request, m: re.Match[str]) -> Response:
        return _ok({"contact": contact_body(self._contact_or_404(m["id"]))})

    def _new_contact(self, req: Request, _m: re.Match[str]) -> Response:
        data = _payload(req)
        email = str(data.get("email") or "").strip()
        if email and not _EMAIL.fullmatch(email):  # 04
            details = {"email": [f"{email} is invalid."]}
            raise MauticError(400, f"email: {email} is invalid.", None, details)
        row = self.contact(email) if email else None
        status, headers = 200, dict(_JSON)  # §7: an upsert; 200 when it matched
        if row is None:
            row = self._create_contact(email)
            status, headers = 201, headers | {"Location": f"/api/contacts/{row.id}"}
        else:
            row.email = email or row.email  # 03: the match rewrites the address's letter case
            row.date_modified = self.now
        blank_wins = data.get("overwriteWithBlank") in (True, 1, "1", "true")
        for name in ("firstname", "lastname", "company"):
            value = str(data.get(name) or "")
            if value or (blank_wins and name in data):  # §7: blanks do not overwrite
                setattr(row, name, value)
        return status, headers, dump({"contact": contact_body(row)})

    def _create_contact(self, email: str) -> ContactRow:
        row = ContactRow(self._new("contact"), email, date_added=self.now)
        self.contacts[row.id] = row
        return row

    def _contact_or_404(self, raw: str, message: str = _NOT_FOUND) -> ContactRow:
        row = self.contacts.get(int(raw))
        if row is None:
            raise MauticError(404, message)
        return row

    # ------------------------------------------------------------------ Do-Not-Contact (§10)
    def _dnc_add(self, req: Request, m: re.Match[str]) -> Response:
        """08: the answer's contact has another shape (flat names, no fields.all)."""
        contact = self._contact_or_404(m["id"])
        data = _payload(req)
        reason = data.get("reason", 3)  # [infer] DoNotContact::MANUAL by default
        if not isinstance(reason, int) or isinstance(reason, bool) or reason < 1:  # 48
            details = ["Reason code needs to be an integer and higher than 0."]
            raise MauticError(400, "Invalid reason code given", None, details)
        self._add_dnc(contact, m["channel"], reason, str(data.get("comments") or ""))
        body = flat_body(contact)
        body["doNotContact"][-1] = dnc_as_added(body["doNotContact"][-1], contact.date_modified)
        return _ok({"contact": body})

    def _dnc_remove(self, _req: Request, m: re.Match[str]) -> Response:
        """46: `recordFound` beside the same flat contact as 08."""
        contact = self._contact_or_404(m["id"])
        found = any(e["channel"] == m["channel"] for e in contact.dnc)
        contact.dnc = [e for e in contact.dnc if e["channel"] != m["channel"]]
        contact.date_modified = self.now
        return _ok({"recordFound": found, "contact": flat_body(contact)})

    # ------------------------------------------------------------------ email send (§8)
    def _get_email(self, _req: Request, m: re.Match[str]) -> Response:
        """[infer] Mautic's `{"email": {...}}`; the fake's emails are published templates."""
        email_id = int(m["id"])
        if email_id not in self.emails:
            raise MauticError(404, _NOT_FOUND)
        name = self.emails[email_id]
        return _ok(
            {"email": {"id": email_id, "name": name, "isPublished": True, "emailType": "template"}}
        )

    def _get_segment(self, _req: Request, m: re.Match[str]) -> Response:
        """[infer] Mautic answers a segment as `{"list": {...}}` (its old name)."""
        segment = self.segments.get(int(m["id"]))
        if segment is None:
            raise MauticError(404, _NOT_FOUND)
        return _ok(
            {
                "list": {
                    "id": segment.id,
                    "name": segment.name,
                    "isPublished": segment.is_published,
                    "isGlobal": segment.is_global,
                }
            }
        )

    def _send(self, req: Request, m: re.Match[str]) -> Response:
        email_id = int(m["id"])
        contact = self._contact_or_404(m["cid"], _NO_CONTACT)  # 37: the contact is read first
        if email_id not in self.emails:  # 36
            raise MauticError(404, _NOT_FOUND)
        tokens = _payload(req).get("tokens") or {}
        is_dnc = any(e["channel"] == "email" for e in contact.dnc)
        if self._major() < 5 and is_dnc:  # §8: 4.x skips DNC silently; 5.0+ ignores DNC (34)
            return _ok({"success": False, "failed": []})
        if self.send_failure is not None:  # §8: the stats row is removed again on failure
            return _ok({"success": False, "failed": self.send_failure})
        row = StatRow(self._new("stat"), email_id, contact.id, contact.email, self.now)
        row.tokens = {str(k): str(v) for k, v in dict(tokens).items()}
        self.stats.append(row)
        return _ok({"success": True})

    # ------------------------------------------------------------------ segments (§10)
    def _segment_add(self, _req: Request, m: re.Match[str]) -> Response:
        contact = self._contact_or_404(m["cid"], _NO_CONTACT)  # 45
        segment = self.segments.get(int(m["id"]))
        if segment is None:  # 44
            raise MauticError(404, _NOT_FOUND)
        if not (segment.is_published and segment.is_global):  # §10: 403, not 404
            raise MauticError(403, _ACCESS_DENIED)
        self.members.setdefault(segment.id, set()).add(contact.id)
        return _ok({"success": 1})

    # ------------------------------------------------------------------ stats (§9)
    def _stats(self, req: Request, m: re.Match[str]) -> Response:
        if m["table"] != "email_stats":  # 40 (the real one lists every table)
            columns = {"email_stats": STAT_COLUMNS}
            return _ok({"availableTables": ["email_stats"], "tableColumns": columns})
        rows = [stat_body(s) for s in self.stats]
        try:
            for where in _where(req.query):
                rows = [r for r in rows if _compare(r, *where)]
        except KeyError as exc:  # 41: HTTP 200, the SQL error's number as `code`
            message = (
                "An exception occurred while executing a query: SQLSTATE[42S22]: Column not "
                f"found: 1054 Unknown column 's.{exc.args[0]}' in 'WHERE'"
            )
            return _ok({"errors": [{"message": message, "code": 1054}]})
        for col, direction in reversed(_order(req.query)):
            rows.sort(key=lambda r: str(r.get(col) or ""), reverse=direction == "DESC")
        start, limit = _int(req.query, "start", 0), _int(req.query, "limit", 100)
        return _ok({"total": str(len(rows)), "stats": rows[start : start + limit]})

    # ------------------------------------------------------------------ helpers
    def _major(self) -> int:
        return self._minor()[0]

    def _minor(self) -> tuple[int, int]:
        parts = [int(p) for p in re.findall(r"\d+", self.version)[:2]] + [0, 0]
        return parts[0], parts[1]

    def _empty(self) -> dict[str, Any] | list[Any]:
        """§6: `{}` since 4.3, `[]` before."""
        return {} if self._minor() >= (4, 3) else []

    def _total(self, n: int) -> str | int:
        return str(n) if self.total_as_string else n

    def _new(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value


# ---------------------------------------------------------------------- module helpers
def _ok(payload: Any) -> Response:
    return 200, dict(_JSON), dump(payload)


def _payload(req: Request) -> dict[str, Any]:
    """§1: JSON or form bodies both work."""
    raw = req.body or b""
    if "json" in req.headers.get("content-type", "") or raw[:1] in (b"{", b"["):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise MauticError(400, "Request body is not valid JSON.") from None  # [infer]
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


def _where(query: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """`where[n][col|expr|val]` as the flat query keys requests sends (§5)."""
    indexes = sorted({int(k[6:].split("]")[0]) for k in query if re.match(r"where\[\d+\]", k)})
    out = []
    for n in indexes:
        col, expr = query.get(f"where[{n}][col]", ""), query.get(f"where[{n}][expr]", "eq")
        out.append((col, expr, query.get(f"where[{n}][val]", "")))
    return out


def _order(query: Mapping[str, str]) -> list[tuple[str, str]]:
    indexes = sorted({int(k[6:].split("]")[0]) for k in query if re.match(r"order\[\d+\]", k)})
    return [
        (query.get(f"order[{n}][col]", "id"), query.get(f"order[{n}][dir]", "ASC").upper())
        for n in indexes
    ]


def _search_ok(row: ContactRow, search: str) -> bool:
    """§6: `email:v` is `LIKE 'v%'`, lowercased; a leading `+` makes it `LIKE 'v'`."""
    if not search:
        return True
    if not search.startswith("email:"):  # [infer] a bare term matches name or address
        text = search.lower()
        return any(text in v.lower() for v in (row.email, row.firstname, row.lastname))
    value = search[len("email:") :].lower()
    strict = value.startswith("+")
    pattern = value[1:] if strict else value + "%"
    like = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(like, row.email.lower(), re.DOTALL) is not None


def _compare(row: Mapping[str, Any], col: str, expr: str, val: str) -> bool:
    if col not in STAT_COLUMNS:
        raise KeyError(col)
    have = row.get(col)
    if have is None:
        return expr == "neq"
    if _numeric(have) and _numeric(val):
        x, y = float(have), float(val)
        sign = (x > y) - (x < y)
    else:
        sign = (str(have) > val) - (str(have) < val)
    tests = {"eq": sign == 0, "neq": sign != 0, "lt": sign < 0, "lte": sign <= 0}
    return (tests | {"gt": sign > 0, "gte": sign >= 0}).get(expr, False)


def _numeric(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        return default
