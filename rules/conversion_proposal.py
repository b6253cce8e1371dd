"""The conversion window: ask for a proposal to an active trial, and flag the window closing.

Days `first_day`–`last_day` (10–14) since signup, a trial that is active
(`min_logins` logins, `min_frameworks` frameworks mapped) is in step
`conversion`: the owner gets a "send proposal" task and a Matrix notice. These
numbers are also the ones step inference uses, so a configured `first_day = 8`
moves the step and the task together.

Day 14 is a deadline, not only a window: on the day after `last_day` (for
`deadline_window_days` days), a trial that has neither converted nor received
a proposal, active or not, gets the owner one agenda task and one Matrix
notice. Not-ICP trials are nurture only and get neither; EU-Project cases have
free access and skip conversion entirely. Self-hosted cases get a licence key
from billing instead of a SaaS subscription, so they get no SaaS proposal: one
Matrix notice tells a human the licence key is due.

Once per case: keys are `conversion_proposal:<case>:task` / `…:matrix`,
`…:licence` for self-hosted, and `…:deadline:task` / `…:deadline:matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.model import (
    CUSTOMER_STEPS,
    Action,
    Case,
    Decision,
    Rule,
    agenda_event,
    matrix_notify,
    past_window,
    skip,
)

CONVERTED_STEPS = ("subscription_active", "handoff")


@dataclass(frozen=True)
class Params:
    first_day: int = 10  # also the first day of step `conversion`
    last_day: int = 14
    min_logins: int = 3  # "logged in ≥ 3 times": active, for step `conversion`
    min_frameworks: int = 1  # "at least one framework mapped": active, for step `conversion`
    deadline_window_days: int = 3  # the deadline is flagged on days 15–17 only
    owner_id: int = 1
    room: str = "sales"

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")
        if min(self.first_day, self.min_logins, self.min_frameworks) < 0:
            raise ValueError("first_day, min_logins and min_frameworks cannot be negative")


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if "not_icp" in case.tags:
        return skip("tagged Not-ICP: nurture only, no conversion")
    if "eu_project" in case.tags:
        return skip("EU-Project case: free access, the conversion steps are skipped")
    days = (now.date() - case.signup_date).days
    if days > p.last_day:
        return _deadline(case, days, p)
    if case.step != "conversion":
        return skip(f"step is {case.step}, not conversion")
    if days < p.first_day:
        window = f"days {p.first_day}–{p.last_day}"
        return skip(f"day {days} since signup {case.signup_date}, outside {window}")
    if case.proposals:
        return skip(f"a proposal exists already ({case.proposals[0].ref})")
    because = (
        f"day {days} since signup {case.signup_date}, active "
        f"({case.fields.logins_count} logins, {case.fields.frameworks_mapped} frameworks mapped), "
        "no proposal yet"
    )
    if "self_hosted" in case.tags:
        return [_licence_notice(case, p, because)]
    return _proposal_actions(case, p, because)


def _licence_notice(case: Case, p: Params, because: str) -> Action:
    text = (
        f"Self-hosted trial {case.label} is ready to convert: a licence key "
        "from billing is due (no SaaS proposal is sent automatically)."
    )
    why = f"{because}; self-hosted, so a human issues the licence key"
    return matrix_notify(p.room, text, f"conversion_proposal:{case.id}:licence", why)


def _proposal_actions(case: Case, p: Params, because: str) -> list[Action]:
    key = f"conversion_proposal:{case.id}"
    label = f"Send proposal to {case.label}"
    text = f"Trial {case.label} is active and ready for a proposal."
    return [
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
        matrix_notify(p.room, text, f"{key}:matrix", because),
    ]


def _deadline(case: Case, days: int, p: Params) -> Decision:
    """The window closed on `last_day`: flag a trial left with neither proposal nor payment."""
    closed = case.signup_date + timedelta(days=p.last_day)
    why_not = _converted_or_proposed(case)
    if why_not:
        return skip(f"conversion window closed on {closed}; {why_not}")
    stale = past_window(days, p.last_day + 1, p.deadline_window_days, "conversion deadline")
    if stale:
        return stale
    because = (
        f"the day-{p.first_day}–{p.last_day} conversion window closed on {closed} "
        f"(day {days} since signup {case.signup_date}) with no proposal and no paid invoice"
    )
    key = f"conversion_proposal:{case.id}:deadline"
    label = f"Trial {case.label}: day-{p.last_day} deadline passed without a proposal"
    text = f"Trial {case.label} passed day {p.last_day} with no proposal and no subscription."
    return [
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
        matrix_notify(p.room, text, f"{key}:matrix", because),
    ]


def _converted_or_proposed(case: Case) -> str:
    """Why the deadline does not concern this case; empty when it does."""
    if case.step not in CUSTOMER_STEPS:
        return f"step is {case.step}, not a customer onboarding step"
    if case.step in CONVERTED_STEPS or "customer_active" in case.tags or case.has_paid_invoice:
        return "already a paying customer"
    if case.proposals:
        return f"a proposal exists ({case.proposals[0].ref})"
    return ""


RULE = Rule(
    name="conversion_proposal",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda tasks stand alone; the Matrix part needs matrix
)
