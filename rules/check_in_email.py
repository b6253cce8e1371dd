"""Send the day-7 "How is it going?" Mautic email to a trial, once.

A timer keyed on the signup date, not on the step: it fires when its day
comes, whatever step the trial is at. It is sent once per case, so the key is
`check_in_email:<case>`; the reason names the day that fired it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.model import CUSTOMER_STEPS, Case, Decision, Rule, mautic_email, past_window, skip

DONE_STEPS = ("subscription_active", "handoff")


@dataclass(frozen=True)
class Params:
    day: int = 7
    window_days: int = 3  # sent on days 7–9 only
    template_id: int = 0  # none until configured: never whatever #1 is


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if not p.template_id:
        return skip("no Mautic email template chosen: set [rule:check_in_email] template_id")
    why_not = _not_trialling(case)
    if why_not:
        return skip(why_not)
    days = (now.date() - case.signup_date).days
    due = case.signup_date + timedelta(days=p.day)
    if days < p.day:
        return skip(f"day {days} since signup {case.signup_date}; check-in due on {due}")
    stale = past_window(days, p.day, p.window_days, "check-in")
    if stale:
        return stale
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = f"day {p.day} since signup {case.signup_date} reached on {due} (timer)"
    return [mautic_email(case, p.template_id, f"check_in_email:{case.id}", because)]


def _not_trialling(case: Case) -> str:
    """Why the case is no longer (or not) a trial to check in on; empty if it is one."""
    if case.step not in CUSTOMER_STEPS:
        return f"step is {case.step}, not a customer onboarding step"
    if case.step in DONE_STEPS:
        return f"step is {case.step}: no longer trialling"
    if "customer_active" in case.tags or case.has_paid_invoice:
        return "already a paying customer"
    if "not_icp" in case.tags:
        return "tagged Not-ICP: nurture only, no check-in"
    return ""


RULE = Rule(
    name="check_in_email",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"mautic"}),
    required_with=(("mautic", "template_id"),),
)
