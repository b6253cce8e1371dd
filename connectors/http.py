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
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import requests
from loguru import logger
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)
from tenacity.wait import wait_random_exponential

from syncd.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PermanentError,
    RemoteError,
    TransientError,
)

_MAX_INT_DIGITS = 4000  # below sys.get_int_max_str_digits() (4300 by default)

# A connector's own reading of an error answer (e.g. Matrix `errcode`, which the
# Matrix spec says to prefer over the HTTP status); None falls back to the status.
ErrorHook = Callable[[requests.Response, str], RemoteError | None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_wait: float = 30.0  # the longest backoff between two attempts of one call
    sleep: Callable[[float], None] = time.sleep
    longest_wait: float = 300.0  # a remote's longer `Retry-After` ends the call instead


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
    ) -> None:
        self.system = system
        self.error_hook = error_hook
        self.describe = describe or error_message
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
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
            retry=retry_if_exception_type(TransientError),
            sleep=self.policy.sleep,
            reraise=True,
            before_sleep=lambda state: _log_retry(self.system, operation, state),
        )
        response: requests.Response = retrying(attempt)
        return response

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
                if may_resend:
                    raise TransientError(self.system, operation, _short(exc)) from exc
                raise OutcomeUnknown(self.system, operation, _short(exc)) from exc
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
        if stop_after_attempt(self.policy.attempts)(state):
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
        return response.text.strip()[:200] or response.reason or ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
        if body.get("error"):
            return str(body["error"])
    return json.dumps(body)[:200]


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header in seconds; None when absent or an HTTP-date (needs a clock)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _log_retry(system: str, operation: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "{} {} failed ({}); retry {} in {:.1f}s", system, operation, exc, state.attempt_number, wait
    )


__all__ = [
    "ErrorHook",
    "HttpClient",
    "RemoteError",
    "RetryPolicy",
    "error_message",
    "retry_after_seconds",
]
