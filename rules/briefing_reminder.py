"""Remind the owner shortly before a partner's onboarding briefing.

A Matrix notice and an agenda task. The key carries the briefing date
(`briefing_reminder:<case>:<date>:matrix` / `…:task`), so a rescheduled
briefing is reminded again and one briefing only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, agenda_event, matrix_notify, skip


@dataclass(frozen=True)
class Params:
    days_before: int = 1
    owner_id: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    briefing = case.fields.briefing_date
    if briefing is None:
        return skip("no briefing_date")
    days = (briefing - now.date()).days
    if days < 0:
        return skip(f"briefing on {briefing} is over")
    if days > p.days_before:
        return skip(f"briefing on {briefing} is {days} days ahead; reminder {p.days_before} before")
    when = "today" if days == 0 else f"in {days} day(s)"
    because = f"partner onboarding briefing on {briefing} is {when}"
    key = f"briefing_reminder:{case.id}:{briefing}"
    label = f"Partner onboarding briefing with {case.label} on {briefing}"
    text = f"Partner onboarding briefing with {case.label} {when}, on {briefing}."
    return [
        matrix_notify(p.room, text, f"{key}:matrix", because),
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
    ]


RULE = Rule(
    name="briefing_reminder",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
