"""The audit: what syncd would do for every case, and why, as text or JSON.

Formatting only: it receives finished `CaseReport`s and never decides or reads
anything itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncd.model import Action, CaseReport, Track, step_age

# An action's (status, updated_at, next_attempt_at, last_error), as the state
# database keeps it (`syncd.store.read_outbox_states`).
OutboxState = tuple[str, str | None, str | None, str | None]

@dataclass(frozen=True)
class Ledger:
    """What the state database says of each action key: (status, updated_at,
    next_attempt_at, last_error).

    `found` is false when there is no state database: every action is then new.
    """

    entries: Mapping[str, OutboxState]
    at: datetime
    where: str  # the state database's path
    found: bool = True

    def state(self, key: str) -> str:
        entry = self.entries.get(key)
        if entry is None:
            return "new"
        status, updated, due, why = entry
        if status == "done":
            return f"done {_short(updated)}"
        if status == "skipped":  # not sent; asked about again while the rule plans it
            return f"skipped {_short(updated)}: {why} (asked again from {_short(due)})"
        if status == "planned" and due and datetime.fromisoformat(due) > self.at:
            return f"retrying (next {_short(due)})"
        return "new" if status == "planned" else status

    def note(self) -> str:
        if self.found:
            return f"status of each action from the state database {self.where}"
        return f"no state database at {self.where}: every action is shown as new"


def _short(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


def summary(reports: Iterable[CaseReport], ledger: Ledger | None = None) -> dict[str, Any]:
    reports = list(reports)
    steps = Counter(r.step for r in reports if not r.errors)
    kinds = Counter(a.kind for r in reports for a in r.actions)
    data: dict[str, Any] = {
        "cases": len(reports),
        "steps": dict(sorted(steps.items())),
        "actions": dict(sorted(kinds.items())),
        "errors": sum(1 for r in reports if r.errors),
    }
    if ledger is not None:
        states = Counter(ledger.state(a.key).split(" ")[0] for r in reports for a in r.actions)
        data["would_send_now"] = states.get("new", 0)
        data["action_states"] = dict(sorted(states.items()))
    return data


def to_json(generated_at: datetime, reports: list[CaseReport], ledger: Ledger | None = None) -> str:
    return "".join(json_chunks(generated_at, reports, ledger))


def json_chunks(
    generated_at: datetime, reports: list[CaseReport], ledger: Ledger | None = None
) -> Iterator[str]:
    """The JSON audit, case by case: never the whole document in memory at once.

    The same text as `json.dumps({"generated_at", "cases", "summary"}, indent=2)`.
    """

    def dumped(value: Any, depth: int) -> str:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        return text.replace("\n", "\n" + "  " * depth)

    yield "{\n" + f'  "generated_at": {json.dumps(generated_at.isoformat())},\n'
    yield '  "cases": ['
    for n, report in enumerate(reports):
        yield ("," if n else "") + "\n    " + dumped(case_json(report, ledger), 2)
    yield ("\n  ]" if reports else "]") + ',\n  "summary": '
    yield dumped(summary(reports, ledger), 1) + "\n}"


def case_json(report: CaseReport, ledger: Ledger | None = None) -> dict[str, Any]:
    return {
        "id": report.case_id,
        "ref": report.ref,
        "name": report.name,
        "process": report.process,
        "step": report.step,
        "evidence": list(report.evidence),
        "step_since": report.step_since.isoformat() if report.step_since else None,
        "entered_step": report.entered_step,
        "processes": [track_json(t) for t in report.tracks],
        "actions": [action_json(a, ledger) for a in report.actions],
        "skipped": [{"rule": rule, "reason": reason} for rule, reason in report.skipped],
        "errors": list(report.errors),
        "warnings": list(report.warnings),
    }


def track_json(track: Track) -> dict[str, Any]:
    """One process the case is in: its own step, evidence and age."""
    return {
        "process": track.process,
        "step": track.step,
        "evidence": list(track.evidence),
        "step_since": track.step_since.isoformat() if track.step_since else None,
        "entered_step": track.entered_step,
    }


def action_json(action: Action, ledger: Ledger | None = None) -> dict[str, Any]:
    document = {
        "rule": action.rule,
        "kind": action.kind,
        "key": action.key,
        "target": action.target,
        "payload": dict(action.payload),
        "because": action.because,
    }
    if ledger is not None:
        document["status"] = ledger.state(action.key)
    return document


EXPLAIN_HINT = "syncd explain {id}"


def to_text(
    generated_at: datetime,
    reports: list[CaseReport],
    *,
    full: bool = False,
    skips: bool = True,
    ledger: Ledger | None = None,
    hint: str = EXPLAIN_HINT,
    total: int | None = None,
) -> str:
    """The summary first, then each case; `hint` is the command that shows one case in
    full (`{id}` filled in), `total` the number of cases before a filter."""
    lines = text_lines(
        generated_at, reports, full=full, skips=skips, ledger=ledger, hint=hint, total=total
    )
    return "\n".join(lines).rstrip("\n")


def text_lines(
    generated_at: datetime,
    reports: list[CaseReport],
    *,
    full: bool = False,
    skips: bool = True,
    ledger: Ledger | None = None,
    hint: str = EXPLAIN_HINT,
    total: int | None = None,
) -> Iterator[str]:
    """`to_text`, line by line: a large audit is written as it is made."""
    yield f"syncd audit at {generated_at.isoformat()} (dry run: nothing was done)"
    if ledger is not None:
        yield ledger.note()
    yield from summary_text(summary(reports, ledger))
    if total is not None and total != len(reports):
        yield f"  shown: {len(reports)} of {total} cases (filtered)"
    yield ""
    for report in reports:
        yield from case_text(
            report, full=full, skips=skips, ledger=ledger, now=generated_at, hint=hint
        )
        yield ""


def case_text(
    report: CaseReport,
    *,
    full: bool = False,
    skips: bool = True,
    ledger: Ledger | None = None,
    now: datetime | None = None,
    hint: str = EXPLAIN_HINT,
) -> list[str]:
    step = "ERROR" if report.errors else report.step
    ref = f" [{report.ref}]" if report.ref and report.ref != report.name else ""
    lines = [f"#{report.case_id} {report.name}{ref} · {report.process} · {step}"]
    if len(report.tracks) > 1 and not report.errors:
        lines += tracks_text(report.tracks, now)
    else:
        if report.evidence:
            lines.append("  evidence: " + "; ".join(report.evidence))
        age = report.step_age(now) if now is not None and not report.errors else ""
        if age:
            lines.append(f"  {age}")
    for action in report.actions:
        state = f"  [{ledger.state(action.key)}]" if ledger is not None else ""
        lines.append(f"  → {action.kind} to {action.target}  ({action.key}){state}")
        lines.append(f"      because {action.because}")
        if full:
            lines += [f"      {k}: {v}" for k, v in action.payload.items()]
    if skips:
        lines += [f"  · skip {rule}: {reason}" for rule, reason in report.skipped]
    elif report.skipped:
        n = len(report.skipped)
        shown = hint.format(id=report.case_id)
        lines.append(f"  · {n} rule{'s' if n != 1 else ''} skipped (shown by: {shown})")
    lines += [f"  ! error: {error}" for error in report.errors]
    lines += [f"  ! warning: {warning}" for warning in report.warnings]
    return lines


def tracks_text(tracks: Iterable[Track], now: datetime | None) -> list[str]:
    """A case in both processes: each process's step, its evidence and its age."""
    lines: list[str] = []
    for track in tracks:
        lines.append(f"  {track.process} {track.step}: " + "; ".join(track.evidence))
        age = step_age(track.step_since, track.entered_step, now) if now is not None else ""
        if age:
            lines.append(f"    {age}")
    return lines


def summary_text(data: dict[str, Any]) -> list[str]:
    steps = ", ".join(f"{k} {v}" for k, v in data["steps"].items()) or "none"
    kinds = ", ".join(f"{k} {v}" for k, v in data["actions"].items()) or "none"
    lines = [
        f"Summary: {data['cases']} cases, {data['errors']} with errors",
        f"  cases per step: {steps}",
        f"  actions per kind: {kinds}",
    ]
    if "would_send_now" in data:
        states = ", ".join(f"{k} {v}" for k, v in data["action_states"].items()) or "none"
        lines.append(f"  would be sent now: {data['would_send_now']} (actions by status: {states})")
    return lines
