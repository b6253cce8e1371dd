"""Remind the owner when a trial is still unqualified a few days after signup.

A timer keyed on the signup date. Sales asked for one nudge, not a daily one,
so the key carries no date: `qualification_reminder:<case>:task` and
`…:matrix`, each sent once per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.model import Case, Decision, Rule, agenda_event, matrix_notify, past_window, skip

STEPS = ("signup", "qualification")


@dataclass(frozen=True)
class Params:
    after_days: int = 2
    window_days: int = 5  # reminded on days 2–6 only
    owner_id: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step not in STEPS:
        return skip(f"step is {case.step}, not signup or qualification")
    if {"icp_fit", "not_icp"} & case.tags:
        return skip("already qualified (ICP-fit or Not-ICP tag set)")
    days = (now.date() - case.signup_date).days
    if days < p.after_days:
        return skip(
            f"day {days} since signup {case.signup_date}; reminder is due on day {p.after_days}"
        )
    stale = past_window(days, p.after_days, p.window_days, "qualification reminder")
    if stale:
        return stale
    due = case.signup_date + timedelta(days=p.after_days)
    because = f"still unqualified on day {days} since signup {case.signup_date} (timer, due {due})"
    key = f"qualification_reminder:{case.id}"
    label = f"Qualify trial {case.label}: ICP-fit or Not-ICP"
    text = f"Trial {case.label} is still unqualified, {days} days after signup."
    return [
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
        matrix_notify(p.room, text, f"{key}:matrix", because),
    ]


RULE = Rule(
    name="qualification_reminder",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
