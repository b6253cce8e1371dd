"""What syncd did, for a person repairing it: `history`, `actions` and `retry --failed`.

Role: read the state database (and, for `retry --failed`, plan failed actions
again in it) and turn what it holds into lines in the company's time zone
(`[dolibarr] timezone`), or documents for `--format json`. It needs no remote
system and no secret, and never contacts one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.errors import SyncdError
from syncd.store import ActionQuery, OutboxRow, Status, Store

SYSTEMS = ("dolibarr", "mautic", "freescout", "matrix")
_AGO = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """`2026-11-20` (midnight, local), `2026-11-20 14:00` (local), or an age: `2h`, `3d`."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SyncdError(
            f"--since {text!r}: give a date (2026-11-20), a local time (2026-11-20 14:00) "
            "or an age (30m, 2h, 3d, 1w)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Listing:
    rows: list[OutboxRow]
    counts: dict[str, int]  # per status, of every action the query picks

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def list_actions(store: Store, query: ActionQuery) -> Listing:
    rows, counts = store.find_actions(query)
    return Listing(rows, counts)


def action_lines(rows: Sequence[OutboxRow], zone: ZoneInfo) -> list[str]:
    """Two lines an action: status, key, kind and target; then when, and what it said."""
    lines = []
    for row in rows:
        lines.append(f"{row.status:8} {row.key}  {row.kind} → {row.target}")
        detail = row.result if row.status is Status.DONE else row.last_error
        when = f"planned {local(row.created_at, zone)}"
        if row.status is not Status.PLANNED:
            when += f", {row.status} {local(row.updated_at, zone)}"
        if row.status is Status.PLANNED and row.next_attempt_at is not None:
            when += f", next try {local(row.next_attempt_at, zone)}"
        if row.attempts:
            when += f", {row.attempts} attempt(s)"
        lines.append(f"         {when}" + (f": {detail}" if detail else ""))
    return lines


def total_line(listing: Listing) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(listing.counts.items()))
    cut = len(listing.rows) < listing.total
    shown = f" (showing the latest {len(listing.rows)})" if cut else ""
    return f"total: {listing.total}" + (f": {counts}" if counts else "") + shown


def action_data(row: OutboxRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "status": row.status.value,
        "rule": row.rule,
        "case": row.case_id,
        "kind": row.kind,
        "target": row.target,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "last_error": row.last_error,
        "result": row.result,
    }


@dataclass(frozen=True)
class History:
    case_id: int
    ref: str
    name: str
    steps: list[tuple[str, datetime]]
    actions: list[OutboxRow]


def case_history(store: Store, wanted: str) -> History | None:
    """A case's recorded steps and every action syncd planned for it, by id or ref."""
    found = store.case_named(wanted)
    if found is None:
        return None
    case_id, ref, name = found
    steps = store.step_history(case_id)
    actions, _counts = store.find_actions(ActionQuery(case_id=case_id))
    if not (ref or steps or actions):
        return None
    return History(case_id, ref, name, steps, sorted(actions, key=lambda r: r.created_at))


def history_lines(history: History, zone: ZoneInfo) -> list[str]:
    named = " ".join(dict.fromkeys(part for part in (history.ref, history.name) if part))
    lines = [f"case {history.case_id}" + (f" ({named})" if named else "")]
    if history.steps:
        lines.append("steps entered:")
        for n, (step, at) in enumerate(history.steps):
            first = "  (where syncd first met it)" if n == 0 else ""
            lines.append(f"  {local(at, zone)}  {step}{first}")
    else:
        lines.append("steps entered: none recorded")
    lines.append(f"actions ({len(history.actions)}):" if history.actions else "actions: none")
    lines += ["  " + line for line in action_lines(history.actions, zone)]
    return lines


def history_data(history: History) -> dict[str, Any]:
    return {
        "id": history.case_id,
        "ref": history.ref,
        "name": history.name,
        "steps": [{"step": step, "entered_at": at.isoformat()} for step, at in history.steps],
        "actions": [action_data(row) for row in history.actions],
    }


def retry_failed(store: Store, query: ActionQuery, now: datetime) -> list[OutboxRow]:
    """Plan again every failed action the query picks (a person mended the cause)."""
    return store.retry_failed(query, now)
