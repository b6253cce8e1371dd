"""Mautic REST client: the only module that speaks Mautic's protocol.

Role: find, create and read contacts, send a template email to one contact, add a contact
to a segment, and ask `email_stats` whether a send already happened, turning Mautic's JSON
(contacts keyed by id, `{}` or `[]` for nothing, `total` as a string, errors inside an
HTTP 200) into small typed records. Section numbers (§n) cite
docs/contracts/mautic.md, the spec of every quirk handled here; fixture numbers cite the
recordings of a real Mautic 5.1 in tests/fixtures/mautic/.
It must never decide anything (a Do-Not-Contact entry is reported, not acted on, and a
contact whose answer leaves it out is reported as unknown, never as "not opted out"),
never resend an email that may have reached the server, never hand back a contact whose
address is not exactly the one asked for, and never log or repr a secret or a person's
address (log lines name contact ids).
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from loguru import logger
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from connectors.http import HttpClient, RetryPolicy, error_message, retry_after_seconds
from syncd.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PermanentError,
    RemoteError,
    TransientError,
)

SYSTEM = "mautic"
TOKEN_PATH = "/oauth/v2/token"
_TOKEN_OP = f"POST {TOKEN_PATH}"
_TOKEN_MARGIN = 60.0  # §2b: refresh about 60 s before `expires_in`
_DEFAULT_TOKEN_LIFETIME = 3600.0  # §2b: api_oauth2_access_token_lifetime, 60 minutes
_LOOKUP_LIMIT = 30
_STATS_LIMIT = 10
# §6: before 6.x, where[] values go through InputHelper::cleanArray, which HTML-encodes
# these, so an address holding one never matches `eq`; such lookups use the search instead.
_WHERE_UNSAFE = frozenset("'\"<>&")
_STATS_DATE = "%Y-%m-%d %H:%M:%S"
# §4: a 429 names the end of the hour's window; a wait longer than this is not slept
# inside one call: the call fails as rate-limited, carrying the wait, and the outbox
# tries the action again then.
LONGEST_WAIT = 60.0


@dataclass(frozen=True)
class MauticSettings:
    url: str  # e.g. https://mautic.example.com (API under /api, token under /oauth/v2/token)
    username: str = ""
    password: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    timeout: float = 30.0

    @property
    def uses_oauth(self) -> bool:
        """OAuth2 client credentials win when both are configured (as in syncd.config)."""
        return bool(self.client_id)


@dataclass(frozen=True)
class MauticContact:
    id: int
    email: str
    # doNotContact holds an entry with channel == "email" (§8); None when the answer left
    # doNotContact out (`minimal=1` does, 12), so nobody can tell.
    is_email_dnc: bool | None


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # on the client's clock


@dataclass(frozen=True)
class MauticEmail:
    id: int
    name: str
    is_published: bool
    type: str  # "template" can be sent to one contact; "list" is a segment email (38-)


@dataclass(frozen=True)
class MauticSegment:
    id: int
    name: str
    is_published: bool
    is_global: bool  # §10: an unpublished or private segment refuses adds with a 403


class MauticClient:
    """Contacts, template sends, segments and send reconciliation over Mautic's REST API."""

    def __init__(
        self,
        settings: MauticSettings,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.url = settings.url.rstrip("/")
        self.mautic_version: str | None = None  # from the `Mautic-Version` header
        policy = policy or RetryPolicy()
        self._policy = dataclasses.replace(
            policy, longest_wait=min(policy.longest_wait, LONGEST_WAIT)
        )
        self._clock = clock
        self._token: _Token | None = None
        headers = {} if settings.uses_oauth else {"Authorization": _basic(settings)}
        self.http = HttpClient(
            SYSTEM, self.url, headers, settings.timeout, self._policy, error_hook=self._refusal
        )

    def __repr__(self) -> str:
        mode = "oauth2" if self.settings.uses_oauth else "basic"
        return f"MauticClient({self.url!r}, auth={mode!r})"

    # -- contacts ------------------------------------------------------------------

    def find_contact(self, email: str) -> MauticContact | None:
        """The contact whose address is exactly `email` (case-insensitive), or None.

        §6: the where-eq query is exact, but the search is a prefix match and has been seen
        ignoring its filter altogether (mautic#12612), so every answer is re-checked here.
        Answers with contacts but none with this address mean the lookup is broken: that is
        an error, never a reason to create a duplicate or to pick someone else.
        """
        operation = "GET /api/contacts"
        body = self._call("GET", "/api/contacts", params=_lookup_params(email))
        rows = _entities(body, "contacts", operation)
        contacts = [parse_contact(row) for row in rows]
        matches = [c for c in contacts if c.email.lower() == email.lower()]
        total = _total(body, len(rows))
        if not matches:
            if total > 0 or rows:
                raise PermanentError(SYSTEM, operation, _broken_lookup(total), 200)
            return None
        if len(contacts) > len(matches):
            others = sorted(c.id for c in contacts if c not in matches)
            logger.warning(
                "mautic lookup answered contacts {} with other addresses (mautic#12612)",
                others,
            )
        return _pick(matches)

    def get_contact(self, contact_id: int) -> MauticContact | None:
        path = f"/api/contacts/{contact_id}"
        try:
            body = self._call("GET", path)
        except NotFoundError:
            return None
        return parse_contact(_entity(body, "contact", f"GET {path}"))

    def email(self, email_id: int) -> MauticEmail | None:
        """An email by id, or None: `syncd check` asks whether a template can be sent."""
        path = f"/api/emails/{email_id}"
        try:
            body = self._call("GET", path)
        except NotFoundError:
            return None
        row = _entity(body, "email", f"GET {path}")
        return MauticEmail(
            int(row.get("id") or email_id),
            str(row.get("name") or ""),
            bool(row.get("isPublished")),
            str(row.get("emailType") or ""),
        )

    def segment(self, segment_id: int) -> MauticSegment | None:
        """A segment by id, or None (Mautic still calls it a "list" in answers)."""
        path = f"/api/segments/{segment_id}"
        try:
            body = self._call("GET", path)
        except NotFoundError:
            return None
        row = _entity(body, "list", f"GET {path}")
        return MauticSegment(
            int(row.get("id") or segment_id),
            str(row.get("name") or ""),
            bool(row.get("isPublished")),
            bool(row.get("isGlobal", True)),
        )

    def upsert_contact(
        self, email: str, firstname: str = "", lastname: str = "", company: str = ""
    ) -> MauticContact:
        """Create the contact, or update the one with this address (§7: an upsert on email).

        Blank values are not sent: Mautic would ignore them anyway unless told to
        overwrite (§7). Safe to retry, since a resend matches the same contact.
        """
        operation = "POST /api/contacts/new"
        extra = {"firstname": firstname, "lastname": lastname, "company": company}
        payload = {"email": email} | {k: v for k, v in extra.items() if v}
        body = self._call("POST", "/api/contacts/new", body=payload, retry_write=True)
        contact = parse_contact(_entity(body, "contact", operation))
        if contact.email.lower() != email.lower():
            # §12, mautic#7963: the upsert once updated a contact with another address.
            message = f"Mautic answered contact {contact.id}, whose address is another"
            raise PermanentError(SYSTEM, operation, message, 200)
        return contact

    # -- emails and segments -----------------------------------------------------------

    def send_email(
        self, email_id: int, contact_id: int, tokens: Mapping[str, str] | None = None
    ) -> None:
        """Send template `email_id` to one contact (§8); raise unless Mautic says it did.

        Mautic has no de-duplication (§8), so once the request may have arrived nothing is
        resent: a timeout, a lost connection, a 5xx or a garbled answer is `OutcomeUnknown`,
        for the caller to reconcile with `email_sent_since` (§9).
        """
        path = f"/api/emails/{email_id}/contact/{contact_id}/send"
        operation = f"POST {path}"
        payload = {"tokens": dict(tokens)} if tokens else {}
        try:
            # HttpClient resends only after a 429 (§4: the limiter answers before the
            # controller runs); a timeout, lost connection or 5xx is OutcomeUnknown there.
            body = self._call("POST", path, body=payload)
        except TransientError as exc:
            if exc.status == 429:
                raise
            message = f"the email may have been sent ({exc.message}); reconcile before resending"
            raise OutcomeUnknown(SYSTEM, operation, message, exc.status) from exc
        _check_sent(operation, body)

    def add_to_segment(self, segment_id: int, contact_id: int) -> None:
        """Put a contact in a segment; re-adding is harmless (§10), so it may be retried."""
        path = f"/api/segments/{segment_id}/contact/{contact_id}/add"
        try:
            body = self._call("POST", path, retry_write=True)
        except AuthError:
            raise
        except PermanentError as exc:
            if exc.status != 403:
                raise
            # §10: 403, not 404, for an unpublished segment or one the API user cannot see.
            hint = (
                f"{exc.message} (Mautic answers 403 when segment {segment_id} is unpublished, "
                "or neither global nor created by the API user)"
            )
            raise PermanentError(SYSTEM, exc.operation, hint, 403) from exc
        if not _is_success(body):
            raise PermanentError(SYSTEM, f"POST {path}", f"no success in {body!r}"[:200], 200)

    def email_sent_since(self, email_id: int, contact_id: int, since: datetime) -> bool:
        """Whether Mautic accepted email `email_id` for the contact at or after `since` (§9).

        Looks for an `email_stats` row with source "api", not failed, dated at or after
        `since` (compared in UTC, Mautic's storage zone). The caller subtracts any clock
        skew it wants to allow for. Rows are re-checked here, like contact lookups.
        """
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        cutoff = since.astimezone(UTC).replace(microsecond=0)
        operation = "GET /api/stats/email_stats"
        params = _stats_params(email_id, contact_id, cutoff)
        body = self._call("GET", "/api/stats/email_stats", params=params)
        rows = _stat_rows(body, operation)
        ours = [r for r in rows if _stat_is_for(r, email_id, contact_id)]
        if len(ours) < len(rows):
            message = f"asked for email {email_id} to contact {contact_id}, got other rows"
            raise PermanentError(SYSTEM, operation, f"stats filter looks broken: {message}", 200)
        return any(_stat_counts(r, cutoff) for r in ours)

    # -- plumbing --------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        retry_write: bool = False,
    ) -> Any:
        """One API call, decoded; an `errors` body is a failure even under HTTP 200 (§3)."""
        operation = f"{method} {path}"
        response = self._send(method, path, params, body, retry_write)
        self._note_version(response)
        data = self.http.decode(response, operation)
        _raise_for_body_errors(operation, data, response.status_code)
        return data

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        retry_write: bool,
    ) -> requests.Response:
        self._authorize()
        try:
            return self.http.request(method, path, params, body, retry_write=retry_write)
        except AuthError as exc:
            if exc.status != 401 or not self.settings.uses_oauth:
                raise
        # §2b: the token expired or was revoked early. A 401 is refused before any
        # controller runs, so even a send may go again: once, with a fresh token.
        self._token = None
        self._authorize()
        return self.http.request(method, path, params, body, retry_write=retry_write)

    def _refusal(self, response: requests.Response, operation: str) -> RemoteError | None:
        """HttpClient's error hook: the wait a 429 names, one clear sentence for a 401/403.

        §4: a 429 has `X-RateLimit-Reset` and no `Retry-After` (52). §1: `api_disabled`;
        §2a: `access_denied`, 401 for a wrong password or none (49, 50), 403 when basic
        auth is off; §2b: `invalid_grant` for a bad token; §3: `accessDenied()` (no type)
        for a role that may not do this, which is no credential problem.
        """
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            wait = _rate_limit_wait(response) if wait is None else wait
            return TransientError(SYSTEM, operation, error_message(response), 429, wait)
        if status not in (401, 403):
            return None
        kind, message = _error_type(response), error_message(response)
        if kind == "api_disabled":
            text = (
                f"the Mautic API is disabled on {self.url} (Configuration → API Settings; "
                "clear Mautic's cache after enabling it)"
            )
        elif status == 403 and kind == "access_denied" and not self.settings.uses_oauth:
            text = (
                f"Mautic refused the credentials for {self.url}: HTTP basic auth is disabled "
                "in its API Settings (clear Mautic's cache after enabling it)"
            )
        elif status == 401 and not self.settings.uses_oauth:  # 49, 50: the firewall
            text = (
                f"Mautic refused the credentials for {self.url}: check [mautic] username "
                "and password"
            )
        elif status == 401 or kind in ("access_denied", "invalid_grant"):
            text = f"Mautic refused the credentials for {self.url}"
        else:
            text = f"the Mautic API user may not do this ({message})"
            return PermanentError(SYSTEM, operation, text, status)
        return AuthError(SYSTEM, operation, f"{text} ({message})", status)

    def _note_version(self, response: requests.Response) -> None:
        """§0: log the `Mautic-Version` header once; behaviours differ by version."""
        version = response.headers.get("Mautic-Version")
        if version and version != self.mautic_version:
            self.mautic_version = version
            logger.info("mautic {} answers as Mautic {}", self.url, version)

    # -- OAuth2 (§2b) ----------------------------------------------------------------

    def _authorize(self) -> None:
        if not self.settings.uses_oauth:
            return
        if self._token is None or self._clock() >= self._token.refresh_at:
            self._token = self._fetch_token()
            self.http.session.headers["Authorization"] = f"Bearer {self._token.value}"

    def _fetch_token(self) -> _Token:
        """A client_credentials token, retried like a read (asking twice is harmless)."""
        retrying = Retrying(
            stop=stop_after_attempt(self._policy.attempts),
            wait=wait_random_exponential(multiplier=0.5, max=self._policy.max_wait),
            retry=retry_if_exception_type(TransientError),
            sleep=self._policy.sleep,
            reraise=True,
        )
        asked_at = self._clock()
        body: Mapping[str, Any] = retrying(self._token_attempt)
        lifetime = _float(body.get("expires_in"), _DEFAULT_TOKEN_LIFETIME)
        margin = min(_TOKEN_MARGIN, lifetime / 2)
        logger.debug("mautic OAuth2 token obtained, valid {:.0f}s", lifetime)
        return _Token(str(body["access_token"]), asked_at + lifetime - margin)

    def _token_attempt(self) -> Mapping[str, Any]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        try:
            # §2b: form fields in the body (never the query string); no stale bearer.
            response = self.http.session.post(
                self.url + TOKEN_PATH,
                data=form,
                headers={"Authorization": None},
                timeout=self.settings.timeout,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(SYSTEM, _TOKEN_OP, type(exc).__name__) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(SYSTEM, _TOKEN_OP, error_message(response), status)
        if status >= 400:
            raise AuthError(SYSTEM, _TOKEN_OP, self._token_refusal(response), status)
        body = self.http.decode(response, _TOKEN_OP)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PermanentError(SYSTEM, _TOKEN_OP, "no access_token in the answer", status)
        return body

    def _token_refusal(self, response: requests.Response) -> str:
        kind = _error_type(response)
        text = f"Mautic refused the OAuth2 client credentials for {self.url}"
        if kind in ("unauthorized_client", "unsupported_grant_type"):
            # §2b: only credentials created by an admin-role user get this grant.
            text += (
                ": this client lacks the client_credentials grant (have an administrator "
                "create the API credentials)"
            )
        return f"{text} ({kind or response.status_code}: {error_message(response)})"


# -- request building ----------------------------------------------------------------


def _basic(settings: MauticSettings) -> str:
    pair = f"{settings.username}:{settings.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _lookup_params(email: str) -> dict[str, Any]:
    """§6: where-eq is exact; the search (`+` = strict LIKE) is for addresses eq cannot match.

    Never `minimal=1`: it drops `doNotContact` from every contact (12, 13, 22).
    """
    common = {"limit": _LOOKUP_LIMIT, "orderBy": "id", "orderByDir": "ASC"}
    if _WHERE_UNSAFE & set(email):
        # requests sends `+` as %2B, as it must be (§6, mautic#7961)
        return {"search": f"email:+{email}", **common}
    where = {"where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": email}
    return where | common


def _stats_params(email_id: int, contact_id: int, cutoff: datetime) -> dict[str, Any]:
    """§9: the reconciliation query, newest first."""
    conditions = [
        ("email_id", "eq", str(email_id)),
        ("lead_id", "eq", str(contact_id)),
        ("date_sent", "gte", cutoff.strftime(_STATS_DATE)),
    ]
    params: dict[str, Any] = {}
    for n, (col, expr, val) in enumerate(conditions):
        params |= {f"where[{n}][col]": col, f"where[{n}][expr]": expr, f"where[{n}][val]": val}
    return params | {"order[0][col]": "date_sent", "order[0][dir]": "DESC", "limit": _STATS_LIMIT}


# -- answer parsing ------------------------------------------------------------------


def parse_contact(row: Mapping[str, Any]) -> MauticContact:
    """A contact as §6 shows it: the address in `fields.all.email`, else `fields.core`,
    else at the top level (the Do-Not-Contact routes' shape, 08)."""
    fields = _dict(row.get("fields"))
    core_email = _dict(_dict(fields.get("core")).get("email"))
    email = (
        _dict(fields.get("all")).get("email") or core_email.get("value") or row.get("email") or ""
    )
    return MauticContact(
        id=int(row["id"]), email=str(email), is_email_dnc=_has_email_dnc(row.get("doNotContact"))
    )


def _has_email_dnc(entries: Any) -> bool | None:
    """§8: an entry with channel "email" means opted out of email (09); an answer without
    `doNotContact`, or with something else there, says nothing (None)."""
    if not isinstance(entries, dict | list):
        return None
    items: Iterable[Any] = entries.values() if isinstance(entries, dict) else entries
    return any(isinstance(e, dict) and e.get("channel") == "email" for e in items)


def _entities(body: Any, key: str, operation: str) -> list[Mapping[str, Any]]:
    """§6: an object keyed by id, a list, `{}` or `[]` (the empty shape differs by version)."""
    value = body.get(key) if isinstance(body, dict) else None
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, dict)]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    raise PermanentError(SYSTEM, operation, f"no {key!r} in the answer: {body!r}"[:300], 200)


def _entity(body: Any, key: str, operation: str) -> Mapping[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict) or "id" not in value:
        raise PermanentError(SYSTEM, operation, f"no {key!r} in the answer: {body!r}"[:300], 200)
    return value


def _total(body: Any, default: int) -> int:
    """§5, §6: `total` is an int or a string."""
    try:
        return int(body.get("total"))
    except (TypeError, ValueError):
        return default


def _pick(matches: list[MauticContact]) -> MauticContact:
    """§6: Mautic does not enforce unique addresses; take the lowest id and say so."""
    chosen = min(matches, key=lambda c: c.id)
    if len(matches) > 1:
        others = sorted(c.id for c in matches if c is not chosen)
        logger.warning("mautic contacts {} share one address: using {}", others, chosen.id)
    return chosen


def _broken_lookup(total: int) -> str:
    return (
        f"lookup looks broken: Mautic answered {total} contact(s) and none has the address "
        "asked for (mautic#12612); not creating a duplicate"
    )


def _rate_limit_wait(response: requests.Response) -> float | None:
    """§4: seconds until `X-RateLimit-Reset` (a unix time, 52), on the server's own clock
    (its `Date`), plus a second for the rounding; None without the header."""
    try:
        reset = float(response.headers["X-RateLimit-Reset"])
        now = parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, ValueError, TypeError):
        return None
    return max(0.0, reset - now) + 1.0


def _check_sent(operation: str, body: Any) -> None:
    """§8: HTTP 200 either way; only `success` in (true, 1, "1") means sent."""
    if not isinstance(body, dict):
        raise OutcomeUnknown(SYSTEM, operation, f"unreadable answer {body!r}"[:200], 200)
    if _is_success(body):
        return
    failed = body.get("failed")
    if not failed:  # §8: 4.x skips a Do-Not-Contact contact with `"failed": []`
        message = (
            "Mautic skipped the send with no reason ('failed' is empty): on Mautic 4.x "
            "this means the contact is on the Do-Not-Contact list"
        )
        raise PermanentError(SYSTEM, operation, message, 200)
    text = "; ".join(map(str, failed)) if isinstance(failed, list) else str(failed)
    raise PermanentError(SYSTEM, operation, text, 200)


def _is_success(body: Any) -> bool:
    return isinstance(body, dict) and body.get("success") in (True, 1, "1")


def _stat_rows(body: Any, operation: str) -> list[Mapping[str, Any]]:
    if isinstance(body, dict) and "availableTables" in body:  # §9: unknown table
        raise PermanentError(SYSTEM, operation, "Mautic has no email_stats stats table", 200)
    return _entities(body, "stats", operation)


def _stat_is_for(row: Mapping[str, Any], email_id: int, contact_id: int) -> bool:
    return str(row.get("email_id")) == str(email_id) and str(row.get("lead_id")) == str(contact_id)


def _stat_counts(row: Mapping[str, Any], cutoff: datetime) -> bool:
    """§9: source api, not failed, sent at or after the cutoff (values are strings)."""
    if str(row.get("source")) != "api" or str(row.get("is_failed")) not in ("0", "False", ""):
        return False
    try:
        sent = datetime.strptime(str(row.get("date_sent")), _STATS_DATE).replace(tzinfo=UTC)
    except ValueError:
        return True  # trust the server's own gte filter rather than resend
    return sent >= cutoff


def _raise_for_body_errors(operation: str, data: Any, status: int) -> None:
    """§3: `errors` can come with HTTP 200 (older endpoints, the stats API)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not errors:
        return
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or errors)[:300]
    if first.get("code") in (401, 403, "401", "403"):
        raise AuthError(SYSTEM, operation, message, status)
    raise PermanentError(SYSTEM, operation, message, status)


def _error_type(response: requests.Response) -> str | None:
    """Mautic's `errors[0].type` (§3), or the plain OAuth2 `error` code."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        kind = errors[0].get("type")
        return str(kind) if kind else None
    error = body.get("error")
    return error if isinstance(error, str) else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


__all__ = ["MauticClient", "MauticContact", "MauticSettings", "parse_contact"]
