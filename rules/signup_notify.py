"""Tell #sales in Matrix that a new trial has signed up.

The process page has the owner notified in Matrix at signup. One notice per
case, ever, so the key is just the case: a case that lingers in
qualification for days is not announced again every cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, matrix_notify, past_window, skip

STEPS = ("signup", "qualification")


@dataclass(frozen=True)
class Params:
    room: str = "sales"
    within_days: int = 3  # a signup older than this (days 0–2) is not news


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step not in STEPS:
        return skip(f"step is {case.step}, not signup or qualification")
    stale = past_window((now.date() - case.signup_date).days, 0, p.within_days, "signup notice")
    if stale:
        return stale
    contact = case.contact_email or "no email yet"
    text = f"New trial signup: {case.label}, {contact}, signed up {case.signup_date}."
    because = f"trial signed up on {case.signup_date} (step {case.step})"
    return [matrix_notify(p.room, text, f"signup_notify:{case.id}", because)]


RULE = Rule(
    name="signup_notify",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"matrix"}),
)
