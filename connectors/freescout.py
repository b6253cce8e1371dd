"""FreeScout REST client (API & Webhooks module): the only module that speaks FreeScout.

It creates the conversation that emails a customer, finds it again after a crash by the
invisible marker in its body, and answers two start-up questions (is the key good, which
agent sends). It knows no step, rule or outbox; it never retries a create that may have
reached the server (FreeScout has no idempotency key, contract §7), and never puts the
API key anywhere but a session header: not in a URL, a repr or a log line.
See tests/fixtures/freescout/README.md for the quirks cited below.

The contract cited as §n is docs/contracts/freescout.md.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from connectors.http import HttpClient, RetryPolicy
from syncd.errors import (
    AuthError,
    OutcomeUnknown,
    PermanentError,
)

SYSTEM = "freescout"
RECONCILE_SLACK = timedelta(minutes=5)  # contract §7 step 4: intent time − 5 min


@dataclass(frozen=True)
class FreescoutSettings:
    url: str  # e.g. https://support.example.com (routes under /api)
    api_key: str = field(repr=False)
    timeout: float = 30.0
    page_size: int = 50  # the module's default page size (contract §5)


class FreescoutClient:
    """Conversations, users and mailboxes of one FreeScout instance."""

    def __init__(self, settings: FreescoutSettings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.url = base_url(settings.url)
        # Header, not the `api_key` query parameter that also works (05_): a URL ends up
        # in logs. Not HTTP Basic either: module 1.0.87 ignores it (06_).
        headers = {"X-FreeScout-API-Key": settings.api_key}
        self.http = HttpClient(
            SYSTEM, self.url, headers, settings.timeout, policy, describe=error_message
        )

    def __repr__(self) -> str:
        return f"FreescoutClient({self.url!r})"

    # -- writes ------------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        mailbox_id: int,
        user_id: int,
        customer_email: str,
        customer_name: str,
        subject: str,
        text: str,
        marker: str,
    ) -> int:
        """POST /api/conversations: one agent message, emailed to the customer; the new id.

        Sent once: a timeout, a lost connection or a 5xx raises OutcomeUnknown (find it
        with `find_conversation` before sending again); a 4xx raises PermanentError.
        """
        body = {
            "type": "email",
            "mailboxId": mailbox_id,
            "subject": subject,
            "customer": customer_fields(customer_email, customer_name),
            "threads": [{"type": "message", "user": user_id, "text": to_html(text, marker)}],
            "status": "pending",  # what an agent message gives anyway (52_), said explicitly
            "imported": False,  # True would send nothing (50_)
        }
        response = self._call("POST", "/api/conversations", body=body)
        return self._created_id(response)

    # -- reads -------------------------------------------------------------------------

    def find_conversation(
        self, *, customer_email: str, mailbox_id: int, marker: str, since: datetime
    ) -> int | None:
        """The conversation whose thread bodies hold `marker`, created after `since` − 5 min.

        Contract §7 step 4. Closed and deleted conversations count: the list applies no
        status filter (75_), so an agent's deletion is not undone by a resend.
        """
        needle = marker_comment(marker)
        params = {
            "customerEmail": customer_email.strip().lower(),
            "mailboxId": mailbox_id,
            "createdSince": iso_utc(since - RECONCILE_SLACK),
            "embed": "threads",  # without it `_embedded.threads` is an empty list (70_)
            "sortField": "number",  # createdAt ties make pages unstable (quirk 7)
            "sortOrder": "asc",
        }
        for item in self._pages("/api/conversations", "conversations", params):
            if any(needle in str(t.get("body") or "") for t in _threads(item)):
                return int(item["id"])
        return None

    def first_user_id(self) -> int | None:
        """The id of the first agent GET /api/users lists (02_), or None."""
        for user in self._pages("/api/users", "users", {}):
            return int(user["id"])
        return None

    def check(self) -> None:
        """GET /api/mailboxes: the cheapest call that proves URL and key (01_)."""
        self._call("GET", "/api/mailboxes")

    def mailbox_ids(self) -> set[int]:
        """The ids of the mailboxes this key sees (01_)."""
        return {int(m["id"]) for m in self._pages("/api/mailboxes", "mailboxes", {})}

    # -- plumbing ----------------------------------------------------------------------

    def _call(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> requests.Response:
        try:
            response = self.http.request(method, path, params, body)
        except AuthError as exc:  # 03_/04_: 401 {"message": "Not Authorized"}
            message = f"FreeScout rejected the API key for {self.settings.url} ({exc.message})"
            raise AuthError(SYSTEM, exc.operation, message, exc.status) from exc
        if response.request.method != method:
            # A 301/302/303 turned our POST into a GET: nothing was created.
            where = f"redirected to {response.url}; configure that address"
            raise PermanentError(SYSTEM, f"{method} {path}", where, response.status_code)
        return response

    def _created_id(self, response: requests.Response) -> int:
        """Resource-ID header (10_), else the body's `id` (what `freescout-api` does)."""
        operation = "POST /api/conversations"
        header = response.headers.get("Resource-ID", "").strip()
        if header.isdigit():
            return int(header)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and str(body.get("id", "")).isdigit():
            return int(body["id"])
        # Stored, but we cannot say under which id: let the outbox reconcile it.
        raise OutcomeUnknown(
            SYSTEM, operation, "201 without Resource-ID or id", response.status_code
        )

    def _pages(
        self, path: str, name: str, params: Mapping[str, Any]
    ) -> Iterator[Mapping[str, Any]]:
        """Items of a list endpoint; pages are 1-based, loop while number < totalPages (§5)."""
        page = 1
        while True:
            query = {**params, "page": page, "pageSize": self.settings.page_size}
            body = self.http.decode(self._call("GET", path, query), f"GET {path}")
            items, total_pages = _parse_page(body, name)
            yield from items
            # An empty page ends it too: a server ignoring `page` cannot loop us forever.
            if not items or page >= total_pages:
                return
            page += 1


def base_url(url: str) -> str:
    """The instance address without a trailing `/` or `/api` (routes add `/api/…`)."""
    url = url.rstrip("/")
    return url.removesuffix("/api")


def customer_fields(email: str, name: str) -> dict[str, str]:
    """The `customer` object: lower-cased email (§3: matching is an exact `=`), name split
    at the first space into firstName / lastName, empty parts left out."""
    first, _, last = " ".join(name.split()).partition(" ")
    fields = {"email": email.strip().lower(), "firstName": first, "lastName": last}
    return {k: v for k, v in fields.items() if v}


def to_html(text: str, marker: str) -> str:
    """Plain text as a thread body (§3: HTML, escaped by the caller) plus the marker."""
    lines = html.escape(text, quote=False).replace("\r\n", "\n").split("\n")
    return "<br>".join(lines) + marker_comment(marker)


def marker_comment(marker: str) -> str:
    """`<!-- syncd:… -->`: stored byte for byte, not in `preview` (README quirk 6)."""
    if "--" in marker or ">" in marker:
        raise ValueError(f"marker {marker!r} would end the HTML comment early")
    return f"<!-- syncd:{marker} -->"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 UTC with `Z`, as `createdSince` expects (contract §5)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_page(body: Any, name: str) -> tuple[list[Mapping[str, Any]], int]:
    """01_get_mailboxes.json: `{"_embedded": {name: [...]}, "page": {..., "totalPages"}}`."""
    if not isinstance(body, dict):
        return [], 1
    embedded = body.get("_embedded")
    items = embedded.get(name) if isinstance(embedded, dict) else None
    page = body.get("page")
    total = page.get("totalPages") if isinstance(page, dict) else None
    rows: list[Mapping[str, Any]] = (
        [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    )
    return rows, int(total) if isinstance(total, int) else 1


def _threads(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    embedded = item.get("_embedded")
    threads = embedded.get("threads") if isinstance(embedded, dict) else None
    return [t for t in threads if isinstance(t, dict)] if isinstance(threads, list) else []


def error_message(response: requests.Response) -> str:
    """FreeScout's words: each `_embedded.errors[]` as "path: message", else `message`.

    30_: {"message": "Error occurred", "_embedded": {"errors": [{"path", "message"}]}};
    03_: {"message": "Not Authorized"}; a 5xx may be an HTML page (contract §2).
    """
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason or ""
    if not isinstance(body, dict):
        return str(body)[:200]  # 405: the bare JSON string "Method Not Allowed"
    embedded = body.get("_embedded")
    errors = embedded.get("errors") if isinstance(embedded, dict) else None
    details = [_one_error(e) for e in errors or [] if isinstance(e, dict)]
    return "; ".join(d for d in details if d) or str(body.get("message") or "")[:200]


def _one_error(error: Mapping[str, Any]) -> str:
    path, message = str(error.get("path") or ""), str(error.get("message") or "")
    return f"{path}: {message}" if path and message else message


__all__ = ["FreescoutClient", "FreescoutSettings"]
