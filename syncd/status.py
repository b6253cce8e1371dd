"""`syncd status`: what the state database says, for a person or a monitoring check.

Read-only: it never writes to the database and never contacts a remote system.
Unhealthy means a person is needed: the last cycle failed, or actions are held
or failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from syncd.store import OutboxRow, Status, Store


@dataclass(frozen=True)
class StatusReport:
    text: str
    healthy: bool


def status_report(store: Store) -> StatusReport:
    cycles = store.last_cycles(5)
    counts = store.counts()
    attention = store.with_status(Status.HELD, Status.FAILED)
    lines = [*_cycles(cycles), *_cursors(store), *_steps(store), *_bad_cases(store)]
    lines += _outbox(counts)
    for row in attention:
        lines.append(f"  {row.status:6} {row.key}  {row.kind} → {row.target}")
        lines.append(f"         {row.last_error or ''}")
    last_failed = bool(cycles) and not cycles[0]["ok"]
    healthy = not last_failed and not attention
    lines.append("health: ok" if healthy else "health: needs attention")
    return StatusReport("\n".join(lines), healthy)


def status_data(store: Store) -> dict[str, Any]:
    """The same report for machines (`syncd status --format json`)."""
    cycles = store.last_cycles(5)
    attention = store.with_status(Status.HELD, Status.FAILED)
    return {
        "last_cycles": cycles,
        "cursors": store.cursor_positions(),
        "cases_per_step": dict(sorted(Counter(store.current_steps().values()).items())),
        "bad_cases": [
            {"id": case_id, "ref": ref, "error": error}
            for case_id, ref, error in store.case_errors()
        ],
        "outbox": dict(sorted(store.counts().items())),
        "attention": [row_data(row) for row in attention],
        "healthy": not (bool(cycles) and not cycles[0]["ok"]) and not attention,
    }


def row_data(row: OutboxRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "status": row.status.value,
        "rule": row.rule,
        "case": row.case_id,
        "kind": row.kind,
        "target": row.target,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "result": row.result,
        "created_at": row.created_at.isoformat(),
    }


def _cycles(cycles: list[dict[str, object]]) -> list[str]:
    if not cycles:
        return ["last cycles: none yet"]
    lines = ["last cycles:"]
    for c in cycles:
        if c["ok"]:
            lines.append(
                f"  {c['started_at']} ok: {c['cases']} cases, {c['planned']} planned, "
                f"{c['done']} done, {c['failed']} failed, {c['held']} held"
            )
        else:
            lines.append(f"  {c['started_at']} FAILED: {c['error']}")
    return lines


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
