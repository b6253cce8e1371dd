"""A stateful, in-memory fake of FreeScout 1.8.145 with the API & Webhooks module 1.0.87.

Role: answer parsed requests exactly as the real server recorded in
tests/fixtures/freescout/ does (status, headers, body shape, the quirks its README lists),
keep the mailboxes, users, customers and conversations those requests touch, and record
every outgoing agent message so tests can say "exactly one email to alice".
It must never speak HTTP itself, import `requests`/`responses`, sleep, or read the real
clock: `now` is an epoch float that only `advance()` moves.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.fakes.base import FakeBase, Request, Response

Json = Any
DEFAULT_NOW = 1795378062.0  # 2026-11-22T20:07:42Z, the first create in the recordings (10_)
DEFAULT_API_KEY = "test-key"
PAGE_SIZE = 50  # ApiController::PAGE_SIZE
_HEADERS = {
    "Cache-Control": "max-age=0, must-revalidate, no-cache, no-store, private",
    "Content-Type": "application/json",
    "Pragma": "no-cache",
}
_CONVERSATION_TYPES = ("email", "phone", "chat")
_STATUSES = ("active", "pending", "closed", "spam")
_STATES = ("draft", "published", "deleted")
_THREAD_TYPES = ("customer", "message", "note")
_SORT_FIELDS = ("createdAt", "mailboxId", "number", "subject", "updatedAt")


class ApiError(Exception):
    """Raised inside a route handler: becomes the module's error envelope."""

    def __init__(self, status: int, message: str, path: str | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.message, self.path = status, message, path

    def body(self) -> Json:
        if self.status == 401:  # 03_/04_/06_: no `_embedded` at all
            return {"message": self.message}
        if self.path is None:  # 13_get_conversation_not_found.json
            return {"message": self.message, "_embedded": {"errors": []}}
        error = {"path": self.path, "message": self.message, "source": "JSON"}
        return {"message": "Error occurred", "_embedded": {"errors": [error]}}


def _required(name: str) -> ApiError:
    return ApiError(400, f"`{name}` parameter is required", name)


@dataclass
class MailboxRow:
    id: int
    name: str
    email: str
    created_at: float


@dataclass
class UserRow:
    id: int
    first_name: str
    last_name: str
    email: str
    created_at: float
    role: str = "admin"


@dataclass
class CustomerRow:
    id: int
    first_name: str | None
    last_name: str | None
    emails: list[str]  # lower-case (Email::sanitizeEmail), main email first
    created_at: float

    @property
    def main_email(self) -> str:
        return self.emails[0] if self.emails else ""


@dataclass
class ThreadRow:
    id: int
    type: str
    body: str
    user_id: int | None
    customer_id: int
    to: list[str]
    created_at: float
    action: str
    state: str = "published"
    imported: bool = False


@dataclass
class ConversationRow:
    id: int
    number: int
    type: str
    status: str
    state: str
    subject: str
    mailbox_id: int
    customer_id: int
    customer_email: str  # the customer's main email at creation (quirk 14)
    created_by: int
    created_at: float
    imported: bool
    updated_at: float = 0.0
    threads: list[ThreadRow] = field(default_factory=list)  # oldest first


@dataclass(frozen=True)
class SentMessage:
    """An agent `message` thread FreeScout would email (not imported, not a draft)."""

    conversation_id: int
    thread_id: int
    to: str
    subject: str
    text: str  # the stored HTML body, marker included


class FreescoutFake(FakeBase):
    """The fake server: state, seeding and inspection helpers, faults, and `handle()`."""

    json_headers = _HEADERS

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, now: float = DEFAULT_NOW) -> None:
        super().__init__()
        self.api_key = api_key
        self.now = now
        self.mailboxes: dict[int, MailboxRow] = {}
        self.users: dict[int, UserRow] = {}
        self.customers: dict[int, CustomerRow] = {}
        self.conversations: dict[int, ConversationRow] = {}
        self._ids: dict[str, int] = {}
        self._routes = self._route_table()

    # ------------------------------------------------------------------ seeding, inspection
    def add_mailbox(self, name: str, email: str) -> int:
        mailbox_id = self._new_id("mailbox")
        self.mailboxes[mailbox_id] = MailboxRow(mailbox_id, name, email.lower(), self.now)
        return mailbox_id

    def add_user(self, first: str, last: str, email: str) -> int:
        user_id = self._new_id("user")
        self.users[user_id] = UserRow(user_id, first, last, email.lower(), self.now)
        return user_id

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set_status(
        self, conversation_id: int, *, status: str | None = None, state: str | None = None
    ) -> None:
        """What an agent does in the UI (close, delete): the API still lists it (quirk 5)."""
        conv = self.conversations[conversation_id]
        conv.status = status or conv.status
        conv.state = state or conv.state

    def messages_to(self, email: str) -> list[SentMessage]:
        """Every outgoing agent message to that customer, oldest first."""
        wanted = email.strip().lower()
        return [
            SentMessage(conv.id, thread.id, wanted, conv.subject, thread.body)
            for conv in sorted(self.conversations.values(), key=lambda c: c.id)
            for thread in conv.threads
            if thread.type == "message"
            and not thread.imported  # 50_create_imported_true.json: nothing queued
            and thread.state == "published"
            and wanted in thread.to
        ]

    def _new_id(self, kind: str) -> int:
        new = self._ids.get(kind, 1)
        self._ids[kind] = new + 1
        return new

    # ------------------------------------------------------------------ FakeBase hooks
    def _fault_body(self, status: int) -> bytes:
        messages = {401: "Not Authorized", 404: "Not Found", 429: "Too Many Attempts."}
        if status == 400:
            return _dump(ApiError(400, "Error occurred").body())
        if status in messages:
            return _dump(ApiError(status, messages[status]).body())
        return _dump({"message": "Server Error"})  # Laravel's JSON for an unhandled exception

    def _dispatch(self, req: Request) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if not match:
                continue
            if method != req.method:
                continue
            try:
                self._authenticate(req)
                status, headers, body = handler(req, match)
            except ApiError as err:
                return err.status, dict(_HEADERS), _dump(err.body())
            return status, dict(_HEADERS) | headers, _dump(body)
        if any(p.fullmatch(req.path) for _, p, _ in self._routes):
            return 405, dict(_HEADERS), _dump("Method Not Allowed")  # contract §2
        return 404, {"Content-Type": "text/html; charset=UTF-8"}, b"Not Found"

    def _authenticate(self, req: Request) -> None:
        # 05_: `api_key` in the query works too; 06_: HTTP Basic does not (module 1.0.87).
        key = req.query.get("api_key") or req.headers.get("x-freescout-api-key")
        if key != self.api_key:  # 03_auth_missing_key.json, 04_auth_bad_key.json
            raise ApiError(401, "Not Authorized")

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Route]]:
        num = r"(?P<id>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            ("GET", "/api/mailboxes", self._list_mailboxes),
            ("GET", "/api/users", self._list_users),
            ("GET", "/api/customers", self._list_customers),
            ("GET", "/api/conversations", self._list_conversations),
            ("POST", "/api/conversations", self._post_conversation),
            ("GET", f"/api/conversations/{num}", self._get_conversation),
            ("POST", f"/api/conversations/{num}/threads", self._post_thread),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ------------------------------------------------------------------ simple lists
    def _list_mailboxes(self, req: Request, _: re.Match[str]) -> Answer:
        rows = sorted(self.mailboxes.values(), key=lambda m: m.id)
        return _ok(_page(req, "mailboxes", rows, self._mailbox_json))

    def _list_users(self, req: Request, _: re.Match[str]) -> Answer:
        rows = [u for u in self.users.values() if _matches(req.query.get("email"), [u.email])]
        return _ok(_page(req, "users", sorted(rows, key=lambda u: u.id), self._user_json))

    def _list_customers(self, req: Request, _: re.Match[str]) -> Answer:
        # 60_/62_: exact match on any of the customer's emails; 63_: newest (highest id) first
        wanted = req.query.get("email")
        rows = [c for c in self.customers.values() if _matches(wanted, c.emails)]
        rows.sort(key=lambda c: c.id, reverse=True)
        return _ok(_page(req, "customers", rows, self._customer_json, fixed_size=True))

    # ------------------------------------------------------------------ conversations: read
    def _get_conversation(self, req: Request, match: re.Match[str]) -> Answer:
        # 11_/12_: the single GET always embeds threads, whatever `embed` says
        return _ok(self._conversation_json(self._conversation(match["id"]), with_threads=True))

    def _list_conversations(self, req: Request, _: re.Match[str]) -> Answer:
        q = req.query
        rows = [c for c in self.conversations.values() if self._selected(c, q)]
        _sort_conversations(rows, q.get("sortField", ""), q.get("sortOrder", ""))
        # 70_: without embed=threads every item carries `_embedded.threads: []`
        embed = "threads" in q.get("embed", "").split(",")
        return _ok(_page(req, "conversations", rows, lambda c: self._conversation_json(c, embed)))

    def _selected(self, conv: ConversationRow, q: Mapping[str, str]) -> bool:
        """Filters of ApiController::listConversations; no default status filter (75_)."""
        checks: list[tuple[str, Callable[[str], bool]]] = [
            # 76_: MySQL's *_ci collation makes the exact match case-insensitive
            ("customerEmail", lambda v: v.lower() == conv.customer_email.lower()),
            ("mailboxId", lambda v: str(conv.mailbox_id) in v.split(",")),  # 73_: unknown → []
            ("customerId", lambda v: v == str(conv.customer_id)),
            ("status", lambda v: _in_known(conv.status, v, _STATUSES)),  # 78_
            ("state", lambda v: v not in _STATES or v == conv.state),
            ("type", lambda v: v not in _CONVERSATION_TYPES or v == conv.type),
            ("number", lambda v: v == str(conv.number)),
            ("subject", lambda v: v.lower() in conv.subject.lower()),  # 79_: %LIKE%
            ("createdSince", lambda v: conv.created_at >= _parse_iso(v, 0.0)),
            ("updatedSince", lambda v: conv.updated_at >= _parse_iso(v, 0.0)),
        ]
        return all(check(q[name]) for name, check in checks if q.get(name))

    def _conversation(self, raw_id: str) -> ConversationRow:
        conv = self.conversations.get(int(raw_id)) if raw_id.isdigit() else None
        if conv is None:  # 13_get_conversation_not_found.json
            raise ApiError(404, "Not Found")
        return conv

    # ------------------------------------------------------------------ conversations: write
    def _post_conversation(self, req: Request, _: re.Match[str]) -> Answer:
        """ApiController::createConversation, step by step; only the first problem is reported."""
        data = _input(req)
        # 1. presence checks, in the module's order (30_, 31_, 32_; 83_/84_ end here too)
        for name in ("subject", "type", "mailboxId", "customer", "threads"):
            if _empty(data.get(name)):
                raise _required(name)
        threads = data["threads"]
        if not isinstance(threads, list) or not all(isinstance(t, dict) for t in threads):
            raise ApiError(400, "'threads' parameter must be an array", "threads")  # 33_
        # 2. the customer is found or CREATED before the mailbox check (34_ + 61_)
        customer = self._resolve_customer(data["customer"])
        mailbox = self.mailboxes.get(_int(data["mailboxId"]) or 0)
        if mailbox is None:  # 34_, 38_
            raise ApiError(400, "Mailbox not found", "mailboxId")
        # 3. the row is stored, then threads are created; a thread error deletes the row
        #    again but its id stays used (README quirk 10: ids 3, 4, 5 are missing)
        conv_id = self._new_id("conversation")
        for thread in threads:  # one thread in practice; the module creates the last one first
            self._check_thread(thread)
        conv = self._new_conversation(conv_id, data, mailbox.id, customer)
        for thread in reversed(threads):
            self._add_thread(conv, thread, str(data.get("status") or ""), imported=conv.imported)
        self.conversations[conv.id] = conv
        return 201, {"Resource-ID": str(conv.id)}, self._conversation_json(conv, True)

    def _new_conversation(
        self, conv_id: int, data: Mapping[str, Any], mailbox_id: int, customer: CustomerRow
    ) -> ConversationRow:
        return ConversationRow(
            id=conv_id,
            number=conv_id,
            type=_coerce(data.get("type"), _CONVERSATION_TYPES, "email"),  # 39_
            status=_coerce(data.get("status"), _STATUSES, "active"),  # 41_
            state=_coerce(data.get("state"), _STATES, "published"),
            subject=str(data["subject"]),
            mailbox_id=mailbox_id,
            customer_id=customer.id,
            customer_email=customer.main_email,
            created_by=0,
            created_at=self.now,
            imported=bool(data.get("imported")),
        )

    def _post_thread(self, req: Request, match: re.Match[str]) -> Answer:
        conv = self._conversation(match["id"])
        data = _input(req)
        self._check_thread(data)
        thread = self._add_thread(conv, data, str(data.get("status") or ""), imported=False)
        # 80_: Resource-ID is the THREAD id, the body is the thread entity
        return 201, {"Resource-ID": str(thread.id)}, self._thread_json(conv, thread)

    def _check_thread(self, data: Mapping[str, Any]) -> None:
        """ApiController::createThread checks: text, type, then user (35_, 36_, 37_)."""
        for name in ("text", "type"):
            if _empty(data.get(name)):
                raise _required(name)
        kind = _coerce(data.get("type"), _THREAD_TYPES, "customer")  # unknown → customer
        if kind != "customer" and _int(data.get("user")) not in self.users:
            raise _required("user")  # 36_: an unknown user gets the "missing" message

    def _add_thread(
        self, conv: ConversationRow, data: Mapping[str, Any], status: str, *, imported: bool
    ) -> ThreadRow:
        kind = _coerce(data.get("type"), _THREAD_TYPES, "customer")
        is_new = not conv.threads
        customer = self.customers[conv.customer_id]
        user = self.users.get(_int(data.get("user")) or 0) if kind != "customer" else None
        verb = "started a new conversation" if is_new else "replied to conversation"
        thread = ThreadRow(
            id=self._new_id("thread"),
            type=kind,
            body=str(data["text"]),  # stored byte for byte, marker included (quirk 6)
            user_id=user.id if user else None,
            customer_id=customer.id,
            to=[customer.main_email] if kind != "customer" and customer.main_email else [],
            created_at=self.now,
            action=f"{user.first_name} {user.last_name} {verb} #{conv.number}" if user else "",
            state=_coerce(data.get("state"), ("draft", "published"), "published"),
            imported=imported or bool(data.get("imported")),
        )
        conv.threads.append(thread)
        conv.updated_at = self.now
        if is_new:
            conv.created_by = thread.user_id or 0
        # quirk 8 / 52_, 81_: without `status` an agent message makes it pending
        if status:
            conv.status = _coerce(status, _STATUSES, "active")
        elif kind == "message":
            conv.status = "pending"
        elif kind == "customer":
            conv.status = "active"
        return thread

    def _resolve_customer(self, raw: Any) -> CustomerRow:
        data: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        if not _empty(data.get("id")):
            found = self.customers.get(_int(data.get("id")) or 0)
            if found is None:
                message = f"Customer with the following ID not found: {data['id']}"
                raise ApiError(400, message, "customer")
            return found
        email = str(data.get("email") or "").strip().lower()  # Email::sanitizeEmail
        for customer in self.customers.values():
            if email and email in customer.emails:  # matched: other fields ignored (quirk 14)
                return customer
        if not email and _empty(data.get("firstName")):  # contract §7.5 (not recorded)
            raise ApiError(400, "Customer first name or email is required", "customer")
        customer = CustomerRow(
            id=self._new_id("customer"),
            first_name=_str_or_none(data.get("firstName")),
            last_name=_str_or_none(data.get("lastName")),
            emails=[email] if email else [],  # 40_: an email-less customer is accepted
            created_at=self.now,
        )
        self.customers[customer.id] = customer
        return customer

    # ------------------------------------------------------------------ rendering
    def _mailbox_json(self, row: MailboxRow) -> Json:
        stamp = _iso(row.created_at)
        return {"id": row.id, "name": row.name, "email": row.email} | {
            "createdAt": stamp,
            "updatedAt": stamp,
        }

    def _user_json(self, row: UserRow) -> Json:
        return {
            "id": row.id,
            "firstName": row.first_name,
            "lastName": row.last_name,
            "email": row.email,
            "role": row.role,
            "alternateEmails": None,
            "jobTitle": None,
            "phone": None,
            "timezone": "UTC",
            "photoUrl": "",
            "language": None,
            "createdAt": _iso(row.created_at),
            "updatedAt": _iso(row.created_at),
        }

    def _user_ref(self, user_id: int | None) -> Json:
        user = self.users.get(user_id or 0)
        if user is None:
            return None
        return {"id": user.id, "type": "user", "firstName": user.first_name} | {
            "lastName": user.last_name,
            "photoUrl": "",
            "email": user.email,
        }

    def _customer_ref(self, customer_id: int) -> Json:
        c = self.customers[customer_id]
        return {"id": c.id, "type": "customer", "firstName": c.first_name} | {
            "lastName": c.last_name,
            "photoUrl": "",
            "email": c.main_email,
        }

    def _customer_json(self, c: CustomerRow) -> Json:
        """60_get_customers_by_email.json."""
        address = dict.fromkeys(("city", "state", "zip", "country", "address"))
        emails = [{"id": self._email_id(c, e), "value": e, "type": "work"} for e in c.emails]
        return {
            "id": c.id,
            "firstName": c.first_name,
            "lastName": c.last_name,
            "jobTitle": None,
            "company": None,
            "photoType": "unknown",
            "photoUrl": "",
            "createdAt": _iso(c.created_at),
            "updatedAt": _iso(c.created_at),
            "notes": None,
            "_embedded": {"emails": emails, "phones": []}
            | {"social_profiles": [], "websites": [], "address": address},
        }

    def _email_id(self, customer: CustomerRow, email: str) -> int:
        """Email rows are numbered in creation order across customers (63_)."""
        ordered = [e for c in sorted(self.customers.values(), key=lambda c: c.id) for e in c.emails]
        return ordered.index(email) + 1 if customer.emails else 0

    def _conversation_json(self, conv: ConversationRow, with_threads: bool) -> Json:
        """10_create_conversation_outgoing.json; threads newest first (81_)."""
        last = conv.threads[-1]
        threads = [self._thread_json(conv, t) for t in reversed(conv.threads)]
        waiting = {"time": _iso(last.created_at), "friendly": _friendly(self.now - last.created_at)}
        return {
            "id": conv.id,
            "number": conv.number,
            "threadsCount": len(conv.threads),
            "type": conv.type,
            "folderId": _folder_id(conv),
            "status": conv.status,
            "state": conv.state,
            "subject": conv.subject,
            "preview": _preview(last.body),
            "mailboxId": conv.mailbox_id,
            "assignee": None,
            "createdBy": self._user_ref(conv.created_by),
            "createdAt": _iso(conv.created_at),
            "updatedAt": _iso(conv.updated_at),
            "closedBy": None,  # 51_: stays null even when created closed
            "closedByUser": None,
            "closedAt": None,
            "userUpdatedAt": _iso(conv.updated_at),
            "customerWaitingSince": waiting | {"latestReplyFrom": "user"},
            "source": {"type": "api", "via": "user"},
            "cc": [],
            "bcc": [],
            "customer": self._customer_ref(conv.customer_id),
            "_embedded": {"threads": threads if with_threads else []},
        }

    def _thread_json(self, conv: ConversationRow, t: ThreadRow) -> Json:
        action = {"type": "", "text": t.action, "associatedEntities": []}
        return {
            "id": t.id,
            "type": t.type,
            "status": "active",  # 51_, 52_, 81_: thread status stays active
            "state": t.state,
            "action": action,
            "body": t.body,
            "source": {"type": "api", "via": "user" if t.user_id else "customer"},
            "customer": self._customer_ref(t.customer_id),
            "createdBy": self._user_ref(t.user_id) or self._customer_ref(t.customer_id),
            "assignedTo": None,
            "to": list(t.to),
            "cc": [],
            "bcc": [],
            "createdAt": _iso(t.created_at),
            "openedAt": None,
            "_embedded": {"attachments": []},
        }


Answer = tuple[int, dict[str, str], Json]
Route = Callable[[Request, "re.Match[str]"], Answer]


# ---------------------------------------------------------------------- helpers
def _ok(body: Json) -> Answer:
    return 200, {}, body


def _dump(body: Json) -> bytes:
    # PHP's json_encode escapes "/" and non-ASCII; decoded, the values are identical (82_).
    return json.dumps(body).encode()


def _input(req: Request) -> dict[str, Any]:
    """Laravel's `$request->all()` for a JSON body.

    83_: without `Content-Type: application/json` the JSON is not parsed; 84_: malformed
    JSON is read as an empty body. Both end in "`subject` parameter is required".
    """
    if "application/json" not in req.headers.get("content-type", ""):
        return {}
    try:
        data = json.loads(req.body or b"null")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _page(
    req: Request,
    name: str,
    rows: list[Any],
    render: Callable[[Any], Json],
    *,
    fixed_size: bool = False,
) -> Json:
    """The list envelope; pages are 1-based, an empty list still says totalPages 1 (71_, 77_)."""
    asked = 0 if fixed_size else (_int(req.query.get("pageSize")) or 0)  # customers: fixed 50
    size = asked if asked > 0 else PAGE_SIZE
    number = max(_int(req.query.get("page")) or 1, 1)
    shown = rows[(number - 1) * size : number * size]
    page = {"size": size, "totalElements": len(rows)}
    page |= {"totalPages": max(1, math.ceil(len(rows) / size)), "number": number}
    return {"_embedded": {name: [render(r) for r in shown]}, "page": page}


def _sort_conversations(rows: list[ConversationRow], field_name: str, order: str) -> None:
    """Default createdAt desc at one-second resolution; ties come back by id (75_, quirk 7)."""
    name = field_name if field_name in _SORT_FIELDS else "createdAt"
    keys: dict[str, Callable[[ConversationRow], Any]] = {
        "createdAt": lambda c: int(c.created_at),
        "updatedAt": lambda c: int(c.updated_at),
        "mailboxId": lambda c: c.mailbox_id,
        "number": lambda c: c.number,
        "subject": lambda c: c.subject.lower(),
    }
    rows.sort(key=lambda c: c.id)
    rows.sort(key=keys[name], reverse=order != "asc")


def _matches(wanted: str | None, values: Iterable[str]) -> bool:
    return not wanted or wanted.strip().lower() in values


def _in_known(value: str, wanted: str, known: tuple[str, ...]) -> bool:
    """`status` accepts a comma list; unknown names are dropped, none left → no filter."""
    names = [w.strip() for w in wanted.split(",") if w.strip() in known]
    return not names or value in names


def _coerce(value: Any, known: tuple[str, ...], default: str) -> str:
    """Unknown enum values are silently replaced (39_ type, 41_ status)."""
    return str(value) if value in known else default


def _empty(value: Any) -> bool:
    """PHP's empty(): missing, null, "", 0, "0", [] and {}."""
    return value in (None, "", 0, "0", False) or (isinstance(value, list | dict) and not value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None  # 38_: "abc" finds no mailbox


def _str_or_none(value: Any) -> str | None:
    return None if _empty(value) else str(value)


def _folder_id(conv: ConversationRow) -> int:
    """1 = the mailbox's Unassigned folder, 4 = its Closed folder (51_); per-mailbox offset."""
    return (conv.mailbox_id - 1) * 10 + (4 if conv.status == "closed" else 1)


def _preview(body: str) -> str:
    """Tags and comments stripped, whitespace collapsed (10_: the marker is not in it)."""
    text = re.sub(r"<!--.*?-->", " ", body, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:255]


def _friendly(seconds: float) -> str:
    if seconds < 60:
        return "Just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' * (minutes != 1)} ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} hour{'s' * (hours != 1)} ago"
    days = hours // 24
    return f"{days} day{'s' * (days != 1)} ago"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str, default: float) -> float:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return default
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


__all__ = ["FreescoutFake", "SentMessage"]
