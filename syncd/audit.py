"""The audit: what syncd would do for every case, and why, as text or JSON.

Formatting only: it receives finished `CaseReport`s and never decides or reads
anything itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from syncd.model import Action, CaseReport


def summary(reports: Iterable[CaseReport]) -> dict[str, Any]:
    reports = list(reports)
    steps = Counter(r.step for r in reports if not r.errors)
    kinds = Counter(a.kind for r in reports for a in r.actions)
    return {
        "cases": len(reports),
        "steps": dict(sorted(steps.items())),
        "actions": dict(sorted(kinds.items())),
        "errors": sum(1 for r in reports if r.errors),
    }


def to_json(generated_at: datetime, reports: list[CaseReport]) -> str:
    document = {
        "generated_at": generated_at.isoformat(),
        "cases": [case_json(r) for r in reports],
        "summary": summary(reports),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def case_json(report: CaseReport) -> dict[str, Any]:
    return {
        "id": report.case_id,
        "ref": report.ref,
        "name": report.name,
        "process": report.process,
        "step": report.step,
        "evidence": list(report.evidence),
        "actions": [action_json(a) for a in report.actions],
        "skipped": [{"rule": rule, "reason": reason} for rule, reason in report.skipped],
        "errors": list(report.errors),
        "warnings": list(report.warnings),
    }


def action_json(action: Action) -> dict[str, Any]:
    return {
        "rule": action.rule,
        "kind": action.kind,
        "key": action.key,
        "target": action.target,
        "payload": dict(action.payload),
        "because": action.because,
    }


def to_text(
    generated_at: datetime, reports: list[CaseReport], *, full: bool = False, skips: bool = True
) -> str:
    lines = [f"syncd audit at {generated_at.isoformat()} (dry run: nothing was done)", ""]
    for report in reports:
        lines += [*case_text(report, full=full, skips=skips), ""]
    lines += summary_text(summary(reports))
    return "\n".join(lines)


def case_text(report: CaseReport, *, full: bool = False, skips: bool = True) -> list[str]:
    step = "ERROR" if report.errors else report.step
    ref = f" [{report.ref}]" if report.ref and report.ref != report.name else ""
    lines = [f"#{report.case_id} {report.name}{ref} · {report.process} · {step}"]
    if report.evidence:
        lines.append("  evidence: " + "; ".join(report.evidence))
    for action in report.actions:
        lines.append(f"  → {action.kind} to {action.target}  ({action.key})")
        lines.append(f"      because {action.because}")
        if full:
            lines += [f"      {k}: {v}" for k, v in action.payload.items()]
    if skips:
        lines += [f"  · skip {rule}: {reason}" for rule, reason in report.skipped]
    elif report.skipped:
        lines.append(f"  · {len(report.skipped)} rules skipped (syncd explain {report.case_id})")
    lines += [f"  ! error: {error}" for error in report.errors]
    lines += [f"  ! warning: {warning}" for warning in report.warnings]
    return lines


def summary_text(data: dict[str, Any]) -> list[str]:
    steps = ", ".join(f"{k} {v}" for k, v in data["steps"].items()) or "none"
    kinds = ", ".join(f"{k} {v}" for k, v in data["actions"].items()) or "none"
    return [
        f"Summary: {data['cases']} cases, {data['errors']} with errors",
        f"  cases per step: {steps}",
        f"  actions per kind: {kinds}",
    ]
