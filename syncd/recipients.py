"""One person, one email: the same message never reaches one address for two cases.

Two third parties can share a contact address (a person trialling for two
companies, a consultant who signs up for clients). Each case plans its own
check-in email or welcome message, keyed on its own id, so the outbox alone
would send that person the same message twice. Here, after every case is
evaluated, a message whose recipient already has it from another case (sent
or waiting in the outbox, or planned earlier in this same cycle) becomes a
skip of its rule: "already sent to x@y for case N".

Pure: the earlier messages are read from the state database by the caller.
A message is the same when its kind, its template (the Mautic template id, or
for a FreeScout message the rule that writes it) and its address match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from syncd.model import Action, CaseReport

MESSAGE_KINDS: frozenset[str] = frozenset({"mautic.send_email", "freescout.message"})

Identity = tuple[str, str, str]  # (kind, template, address)


def identity(kind: str, rule: str, target: str, payload: Mapping[str, Any]) -> Identity | None:
    """What makes two messages the same for their recipient; None for anything else."""
    if kind not in MESSAGE_KINDS or not target.strip():
        return None
    template = payload.get("template_id")
    which = f"template {template}" if kind == "mautic.send_email" else f"rule {rule}"
    return kind, which, target.strip().casefold()


def earlier_messages(
    rows: Iterable[tuple[int, str, str, str, Mapping[str, Any]]],
) -> dict[Identity, int]:
    """Messages sent or waiting, from (case_id, kind, rule, target, payload) rows: the
    first case each went to, by identity."""
    found: dict[Identity, int] = {}
    for case_id, kind, rule, target, payload in rows:
        key = identity(kind, rule, target, payload)
        if key is not None:
            found.setdefault(key, case_id)
    return found


def recipients(reports: Iterable[CaseReport]) -> set[str]:
    """The addresses the messages in `reports` go to."""
    return {
        a.target for r in reports for a in r.actions if a.kind in MESSAGE_KINDS and a.target.strip()
    }


def one_email_each(reports: list[CaseReport], earlier: Mapping[Identity, int]) -> list[CaseReport]:
    """`reports` with every message already meant for its address by another case skipped."""
    claimed = dict(earlier)
    return [_dedupe(report, claimed) for report in sorted(reports, key=lambda r: r.case_id)]


def _dedupe(report: CaseReport, claimed: dict[Identity, int]) -> CaseReport:
    kept: list[Action] = []
    taken: list[tuple[str, str]] = []  # (rule, why): the messages another case has
    for action in report.actions:
        key = identity(action.kind, action.rule, action.target, action.payload)
        owner = claimed.setdefault(key, report.case_id) if key is not None else report.case_id
        if owner == report.case_id:
            kept.append(action)
        else:
            taken.append((action.rule, f"already sent to {action.target} for case {owner}"))
    if not taken:
        return report
    return dataclasses.replace(report, actions=tuple(kept), skipped=report.skipped + tuple(taken))
