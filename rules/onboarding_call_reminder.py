"""Remind sales in Matrix shortly before a booked onboarding call.

The key carries the call date, so a rescheduled call is reminded again and
the same call is reminded only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, matrix_notify, skip


@dataclass(frozen=True)
class Params:
    days_before: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "onboarding_call":
        return skip(f"step is {case.step}, not onboarding_call")
    call = case.fields.onboarding_call_date
    if call is None:
        return skip("no onboarding_call_date")
    days = (call - now.date()).days
    if days < 0:
        return skip(f"call on {call} is over")
    if days > p.days_before:
        return skip(f"call on {call} is {days} days ahead; reminder {p.days_before} day(s) before")
    when = "today" if days == 0 else f"in {days} day(s)"
    text = f"Onboarding call with {case.label} {when}, on {call}."
    because = f"onboarding call on {call} is {when}"
    return [matrix_notify(p.room, text, f"onboarding_call_reminder:{case.id}:{call}", because)]


RULE = Rule(
    name="onboarding_call_reminder",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"matrix"}),
)
