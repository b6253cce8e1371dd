"""Remind the owner to decide on a prospective partner left undecided.

A timer on the day the case entered partner qualification (its step
history); for a case syncd first met already there, on the signup (else
creation) date. An old third party tagged Partner-Prospect today is thus
reminded five days from now, not skipped as 900 days old. One nudge per case,
so the key carries no date: `partner_qualification_reminder:<case>:task` and
`…:matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.model import Case, Decision, Rule, agenda_event, matrix_notify, past_window, skip


@dataclass(frozen=True)
class Params:
    after_days: int = 5
    window_days: int = 10  # reminded on days 5–14 only
    owner_id: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "partner_qualification":
        return skip(f"step is {case.step}, not partner_qualification")
    if case.step_since is not None:
        start, since = case.step_since.astimezone(now.tzinfo).date(), "entering the step on"
    else:
        start, since = case.signup_date, "signup"
    days = (now.date() - start).days
    due = start + timedelta(days=p.after_days)
    if days < p.after_days:
        return skip(f"day {days} since {since} {start}; reminder due on {due}")
    stale = past_window(days, p.after_days, p.window_days, "partner qualification reminder")
    if stale:
        return stale
    because = (
        f"partner prospect undecided on day {days} since {since} {start} (timer, due {due})"
    )
    key = f"partner_qualification_reminder:{case.id}"
    label = f"Qualify or decline partner prospect {case.label}"
    text = f"Partner prospect {case.label} is still undecided after {days} days."
    return [
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
        matrix_notify(p.room, text, f"{key}:matrix", because),
    ]


RULE = Rule(
    name="partner_qualification_reminder",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
