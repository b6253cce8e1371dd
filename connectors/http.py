"""Shared HTTP plumbing for every connector: one session, retries, error mapping.

Reads are retried (tenacity, exponential backoff with jitter) on timeouts,
connection errors, 429 (honouring `Retry-After`) and 5xx; a remote that asks
for a wait longer than the policy's `longest_wait` ends the call at once with
that wait in the error, for the caller to come back later. Writes are retried
only when the caller says the remote dedupes them; any other write that may
have arrived becomes `OutcomeUnknown`. A connector may pass an `error_hook`
that reads the remote's own error codes before the status mapping (Matrix's
`errcode` and `retry_after_ms`). This module knows no business rule and
never logs a secret: credentials live in session headers only.

A system that fails `Breakers.threshold` attempts in a row (no connection, a
timeout, a 5xx) is down until `Breakers.reset` (each cycle): later calls fail
at once with `SystemDown`, before anything is sent, so one dead system costs a
few seconds a cycle, not a retry sequence per call. Network failures are one
readable line ("Dolibarr at https://erp.example.com: name not found"), and at
DEBUG each request is logged with its method, path, status and time (never
its query or headers, which may hold a secret).
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import requests
from loguru import logger
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.wait import wait_random_exponential

from syncd.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PermanentError,
    RemoteError,
    SystemDown,
    TransientError,
    UnreachableError,
    system_name,
)

_MAX_INT_DIGITS = 4000  # below sys.get_int_max_str_digits() (4300 by default)

# A connector's own reading of an error answer (e.g. Matrix `errcode`, which the
# Matrix spec says to prefer over the HTTP status); None falls back to the status.
ErrorHook = Callable[[requests.Response, str], RemoteError | None]


class Breakers:
    """Which systems are down: a circuit breaker per system, shared by its clients.

    An attempt that gets no answer, or a 5xx, counts against its system; any
    other answer (a 4xx, a 429 included) clears the count. At `threshold` in a
    row the system is down, and stays so until `reset`: the cycle resets them
    as it starts, so a system that comes back is asked again the next cycle.
    """

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold
        self.down: dict[str, str] = {}  # system → what its last failure said
        self._failures: dict[str, int] = {}

    def reset(self) -> None:
        self.down.clear()
        self._failures.clear()

    def failed(self, system: str, why: str) -> None:
        count = self._failures.get(system, 0) + 1
        self._failures[system] = count
        if count >= self.threshold and system not in self.down:
            self.down[system] = why
            logger.warning(
                "{}: down after {} failed attempts; not asked again this cycle", why, count
            )

    def answered(self, system: str) -> None:
        self._failures.pop(system, None)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_wait: float = 30.0  # the longest backoff between two attempts of one call
    sleep: Callable[[float], None] = time.sleep
    longest_wait: float = 300.0  # a remote's longer `Retry-After` ends the call instead
    breakers: Breakers | None = None  # shared by the clients of one runtime; else each its own


def _session(base_url: str) -> requests.Session:
    """A session whose proxy and CA settings are read from the environment once.

    `requests` otherwise looks them up again on every request (a proxy-bypass
    check per call); the connection pool is kept either way.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


class HttpClient:
    """A `requests.Session` bound to one base URL and one remote system's name."""

    def __init__(
        self,
        system: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        policy: RetryPolicy | None = None,
        error_hook: ErrorHook | None = None,
        describe: Callable[[requests.Response], str] | None = None,
        where: str | None = None,
    ) -> None:
        """`where` names the system's address in error lines (default: the base URL's
        scheme, host and path)."""
        self.system = system
        self.error_hook = error_hook
        self.describe = describe or error_message
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.breakers = self.policy.breakers or Breakers()
        self.where = (where or _address(self.base_url)).rstrip("/")
        self.session = _session(self.base_url)
        self._decoded: WeakKeyDictionary[requests.Response, Any] = WeakKeyDictionary()
        self.session.headers.update({"Accept": "application/json", **headers})

    def __repr__(self) -> str:
        return f"HttpClient({self.system!r}, {self.base_url!r})"

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        retry_write: bool = False,
    ) -> requests.Response:
        """Send one request, retrying what is safe to retry; raise a `RemoteError` otherwise."""
        is_read = method in ("GET", "HEAD")
        operation = f"{method} {path}"
        attempt = self._attempt_factory(method, path, params, body, is_read or retry_write)
        retrying = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(worth_retrying),
            sleep=self.policy.sleep,
            reraise=True,
            before_sleep=lambda state: _log_retry(self.system, operation, state),
        )
        response: requests.Response = retrying(attempt)
        return response

    def unreachable(self, operation: str, exc: Exception, started: float) -> UnreachableError:
        """A request sent outside `request` (Mautic's token) that got no answer: logged,
        counted against the system, and said in one line."""
        failure = UnreachableError(
            self.system, operation, self.where, network_reason(exc, self.timeout)
        )
        _log_request(self.system, operation, failure.reason, started)
        self.breakers.failed(self.system, failure.message)
        return failure

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.decode(self.request("GET", path, params), f"GET {path}")

    def decode(self, response: requests.Response, operation: str) -> Any:
        """The answer's JSON, parsed once: a GET's body was already parsed to vet it."""
        if response in self._decoded:
            return self._decoded[response]
        if not response.content:
            return None
        try:
            value = response.json(parse_int=_json_int)
        except ValueError as exc:
            raise TransientError(
                self.system,
                operation,
                f"malformed JSON in the answer ({exc})",
                response.status_code,
            ) from exc
        self._decoded[response] = value
        return value

    def _attempt_factory(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        may_resend: bool,
    ) -> Callable[[], requests.Response]:
        operation = f"{method} {path}"

        def attempt() -> requests.Response:
            down = self.breakers.down.get(self.system)
            if down is not None:
                raise SystemDown(self.system, operation, down)
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=body,
                    timeout=self.timeout,
                )
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,  # an answer cut off midway
            ) as exc:
                failure = UnreachableError(
                    self.system, operation, self.where, network_reason(exc, self.timeout)
                )
                _log_request(self.system, operation, failure.reason, started)
                self.breakers.failed(self.system, failure.message)
                if may_resend or never_sent(exc):
                    raise failure from exc
                raise OutcomeUnknown(self.system, operation, failure.message) from exc
            _log_request(self.system, operation, str(response.status_code), started)
            if response.status_code >= 500:
                self.breakers.failed(
                    self.system,
                    f"{system_name(self.system)} at {self.where}: answers "
                    f"{response.status_code} {response.reason or ''}".rstrip(),
                )
            else:
                self.breakers.answered(self.system)
            try:
                self._raise_for_status(response, operation)
            except TransientError as exc:
                # A 5xx to a write the remote does not dedupe may have been applied.
                if may_resend or (exc.status or 0) < 500:
                    raise
                raise OutcomeUnknown(self.system, operation, exc.message, exc.status) from exc
            if method == "GET" and response.status_code == 200:
                self.decode(response, operation)  # a truncated body is retried like a 5xx
            return response

        return attempt

    def _raise_for_status(self, response: requests.Response, operation: str) -> None:
        status = response.status_code
        if status < 400:
            return
        if self.error_hook is not None:
            mapped = self.error_hook(response, operation)
            if mapped is not None:
                raise mapped
        message = self.describe(response)
        if status in (401, 403):
            raise AuthError(self.system, operation, message, status)
        if status == 404:
            raise NotFoundError(self.system, operation, message, status)
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(self.system, operation, message, status, retry_after)
        if status >= 500:
            raise TransientError(self.system, operation, message, status)
        raise PermanentError(self.system, operation, message, status)

    def _stop(self, state: RetryCallState) -> bool:
        """Out of attempts, or a remote asking for a long wait: the error carries the wait."""
        if stop_after_attempt(self.policy.attempts)(state) or self.system in self.breakers.down:
            return True
        exc = state.outcome.exception() if state.outcome else None
        wait = exc.retry_after if isinstance(exc, TransientError) else None
        return wait is not None and wait > self.policy.longest_wait

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.longest_wait)
        backoff = wait_random_exponential(multiplier=0.5, max=self.policy.max_wait)
        return float(backoff(state))


def _json_int(text: str) -> int | str:
    """A JSON integer; one too long for `int` (Python's 4300 digits) stays text.

    Parsing it would fail the whole answer, every record in it; as text it
    fails only the field that holds it, where the core reads it.
    """
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


def error_message(response: requests.Response) -> str:
    """The remote's own words: `error.message` (Dolibarr) or `errors[0].message` (Mautic)."""
    try:
        body = response.json()
    except ValueError:
        return page_text(response)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
        if body.get("error"):
            return str(body["error"])
    return one_line(json.dumps(body))


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def page_text(response: requests.Response) -> str:
    """A body that is not JSON, as one line: an HTML page (a proxy's 502) by its title."""
    text = response.text.strip()
    if text[:15].lower().startswith(("<!doctype", "<html", "<head", "<body")):
        title = _TITLE.search(text)
        return one_line(title.group(1)) if title else (response.reason or "an HTML page")
    return one_line(text) or response.reason or ""


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line, cut at a word (with `…`) when longer than `limit`."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut) + "…"


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header in seconds; None when absent or an HTTP-date (needs a clock)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def worth_retrying(exc: BaseException) -> bool:
    """Transient, and not a system found down this cycle."""
    return isinstance(exc, TransientError) and not isinstance(exc, SystemDown)


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: causes, contexts, urllib3's `reason`, exception args."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        inner += list(current.args)
        todo += [e for e in inner if isinstance(e, BaseException)]
    return seen


def never_sent(exc: BaseException) -> bool:
    """Whether the request failed before a byte of it left: no connection was made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    return any(type(e).__name__ == "NewConnectionError" for e in _causes(exc)) or any(
        isinstance(e, socket.gaierror | ConnectionRefusedError) for e in _causes(exc)
    )


def network_reason(exc: BaseException, timeout: float) -> str:
    """A few words for a request that got no answer: "name not found", "connection refused"."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "name not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate not accepted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, http.client.RemoteDisconnected):
            return "connection closed without an answer"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return _UNREACHABLE[cause.errno]
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    return "connection failed"


_UNREACHABLE = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ECONNABORTED: "connection aborted",
}


def _log_request(system: str, operation: str, outcome: str, started: float) -> None:
    took = (time.monotonic() - started) * 1000
    logger.debug("{} {} → {} in {:.0f} ms", system, operation, outcome, took)


def _log_retry(system: str, operation: str, state: RetryCallState) -> None:
    """A retry is routine; the call's last failure is said by whoever made the call."""
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.debug(
        "{} {} failed ({}); retry {} in {:.1f}s", system, operation, exc, state.attempt_number, wait
    )


__all__ = [
    "Breakers",
    "ErrorHook",
    "HttpClient",
    "RemoteError",
    "RetryPolicy",
    "error_message",
    "retry_after_seconds",
]
