"""`syncd status`: what the state database says, for a person or a monitoring check.

Read-only: it never writes to the database and never contacts a remote system.
Unhealthy means a person is needed: the last cycle failed, was degraded (an
action failed or was held, a system was down: named, with what it said) or
was refused credentials by a system (named, with the settings to check), or
actions are held or failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from syncd.errors import SYSTEM_NAMES as SYSTEM_NAMES
from syncd.history import action_data
from syncd.store import Status, Store

# What to check when a system refuses syncd's credentials (a 401 or 403).
CREDENTIALS = {
    "dolibarr": "[dolibarr] api_key",
    "mautic": "[mautic] username and password (or client_id and client_secret)",
    "freescout": "[freescout] api_key",
    "matrix": "[matrix] access_token",
}


def refused_sentence(system: str) -> str:
    name = SYSTEM_NAMES.get(system, system)
    what = CREDENTIALS.get(system, f"the [{system}] credentials")
    return (
        f"{name} refused syncd's credentials: check {what}, then restart or reload syncd "
        f"(the actions it refused are then sent)"
    )


@dataclass(frozen=True)
class StatusReport:
    text: str
    healthy: bool


def status_report(store: Store) -> StatusReport:
    cycles = store.last_cycles(5)
    counts = store.counts()
    attention = store.with_status(Status.HELD, Status.FAILED)
    lines = [*_cycles(cycles), *_cursors(store), *_steps(store), *_bad_cases(store)]
    refused = _refused(cycles)
    lines += [f"! {refused_sentence(system)}" for system in refused]
    lines += _down(cycles)
    lines += _outbox(counts)
    for row in attention:
        lines.append(f"  {row.status:6} {row.key}  {row.kind} → {row.target}")
        lines.append(f"         {row.last_error or ''}")
    healthy = _healthy(cycles, bool(attention), bool(refused))
    lines.append("health: ok" if healthy else "health: needs attention")
    return StatusReport("\n".join(lines), healthy)


def status_data(store: Store) -> dict[str, Any]:
    """The same report for machines (`syncd status --format json`)."""
    cycles = store.last_cycles(5)
    attention = store.with_status(Status.HELD, Status.FAILED)
    refused = _refused(cycles)
    return {
        "last_cycles": cycles,
        "refused": [refused_sentence(system) for system in refused],
        "down": _outages(cycles),
        "cursors": store.cursor_positions(),
        "cases_per_step": dict(sorted(Counter(store.current_steps().values()).items())),
        "bad_cases": [
            {"id": case_id, "ref": ref, "error": error}
            for case_id, ref, error in store.case_errors()
        ],
        "outbox": dict(sorted(store.counts().items())),
        "attention": [action_data(row) for row in attention],
        "healthy": _healthy(cycles, bool(attention), bool(refused)),
    }


def _healthy(cycles: list[dict[str, Any]], attention: bool, refused: bool) -> bool:
    """No person needed: the last cycle ran and was not degraded, nothing held or failed."""
    last = cycles[0] if cycles else None
    last_bad = last is not None and (not last["ok"] or _degraded(last))
    return not last_bad and not attention and not refused


def _cycles(cycles: list[dict[str, object]]) -> list[str]:
    if not cycles:
        return ["last cycles: none yet"]
    lines = ["last cycles:"]
    for c in cycles:
        if c["ok"]:
            failed = f"{c['failed']} failed" + (f" ({c['refused']})" if c.get("refused") else "")
            said = "degraded" if _degraded(c) else "ok"
            lines.append(
                f"  {c['started_at']} {said}: {c['cases']} cases, {c['planned']} planned, "
                f"{c['done']} done, {failed}, {c['held']} held"
                + (f", {c['waiting']} waiting (down)" if c.get("down") else "")
            )
        else:
            lines.append(f"  {c['started_at']} FAILED: {c['error']}")
    return lines


def _degraded(cycle: dict[str, object]) -> bool:
    return bool(
        cycle.get("failed") or cycle.get("held") or cycle.get("refused") or cycle.get("down")
    )


def _outages(cycles: list[dict[str, Any]]) -> list[str]:
    """What each system found down in the last cycle said."""
    text = str(cycles[0].get("down") or "") if cycles else ""
    return [why.strip() for why in text.split(";") if why.strip()]


def _down(cycles: list[dict[str, Any]]) -> list[str]:
    waiting = cycles[0].get("waiting") if cycles else None
    then = f"; {waiting} action(s) wait for the next cycle" if waiting else ""
    return [f"! down in the last cycle: {why}{then}" for why in _outages(cycles)]


def _refused(cycles: list[dict[str, object]]) -> list[str]:
    """The systems that refused syncd's credentials in the last cycle."""
    text = str(cycles[0].get("refused") or "") if cycles else ""
    return sorted({part.split(":", 1)[0].strip() for part in text.split(";") if part.strip()})


def _cursors(store: Store) -> list[str]:
    cursors = store.cursor_positions()
    return ["cursors: " + (", ".join(f"{k} {at}" for k, at in cursors.items()) or "none")]


def _steps(store: Store) -> list[str]:
    steps = Counter(store.current_steps().values())
    text = ", ".join(f"{step} {n}" for step, n in sorted(steps.items())) or "none"
    return [f"cases per step: {text}"]


def _bad_cases(store: Store) -> list[str]:
    """Each case skipped for bad Dolibarr data: a person fixes the field in Dolibarr."""
    bad = store.case_errors()
    if not bad:
        return []
    lines = [f"cases with bad data in Dolibarr ({len(bad)}), skipped until fixed:"]
    lines += [f"  #{case_id} {ref}: {error}" for case_id, ref, error in bad]
    return lines


def _outbox(counts: dict[str, int]) -> list[str]:
    text = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "empty"
    return [f"outbox: {text}"]
