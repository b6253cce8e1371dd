"""Every error syncd raises, sorted by what the caller does next.

Sentences and exit codes are made from these in `syncd.cli` only.
This module imports nothing from the project, so connectors may use it.
"""

from __future__ import annotations

from pathlib import Path


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    """The configuration is unusable; the process exits with status 2."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class StateError(SyncdError):
    """The state database cannot be opened or is damaged; the process exits with status 2."""

    def __init__(self, path: Path, reason: str, *, damaged: bool) -> None:
        self.path = path
        self.reason = reason
        self.damaged = damaged
        super().__init__(f"{path}: {reason}")


class CaseDataError(SyncdError):
    """A Dolibarr field of one case holds a bad value; that case is skipped."""

    def __init__(self, case_id: int, field: str, value: object, why: str) -> None:
        self.case_id = case_id
        self.field = field
        self.value = value
        self.why = why
        super().__init__(f"field {field}: {shown(value)} {why}")


class EvidenceError(CaseDataError):
    """Two pieces of evidence on one case contradict each other; that case is skipped.

    The message names both and the fix: "tags ICP-fit and Not-ICP contradict
    each other: remove one".
    """

    def __init__(self, case_id: int, what: str, why: str) -> None:
        self.case_id = case_id
        self.field = what
        self.value = None
        self.why = why
        SyncdError.__init__(self, f"{what} {why}")


def shown(value: object, limit: int = 60) -> str:
    """A value as a log line or report may show it: its repr, cut short.

    A hostile value can be a megabyte of text or an integer too long for repr.
    """
    try:
        text = repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class RuleError(SyncdError):
    """A rule module is malformed or its parameters are wrong."""


class RemoteError(SyncdError):
    """A remote system answered with an error or could not be reached."""

    def __init__(self, system: str, operation: str, message: str, status: int | None = None):
        self.system = system
        self.operation = operation
        self.message = message
        self.status = status
        super().__init__(f"{system} {operation} → {status or 'no answer'}: {message}")


class TransientError(RemoteError):
    """Worth retrying later (timeouts, 429, 5xx)."""

    def __init__(
        self,
        system: str,
        operation: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(system, operation, message, status)
        self.retry_after = retry_after


class PermanentError(RemoteError):
    """Retrying cannot help (validation errors, unknown ids, SQL errors)."""


class AuthError(PermanentError):
    """The remote refused our credentials (401/403)."""


class OutcomeUnknown(RemoteError):
    """A non-idempotent write may or may not have reached the remote."""


class NotFoundError(PermanentError):
    """The remote has no such object (an HTTP 404)."""


def shown_text(text: str, limit: int = 80) -> str:
    """Text from a remote, cut to fit one line of a report."""
    line = "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text[:limit])
    return line if len(text) <= limit else f"{line}…"
