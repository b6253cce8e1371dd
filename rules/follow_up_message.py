"""Send the follow-up after the onboarding call: recap, docs, community.

The process page lists the community (Discord) invite among the follow-up's
contents, so `community_link` is required at start whenever FreeScout is
configured and the rule enabled.

The key carries the call date (`follow_up_message:<case>:<call date>`), so a
rescheduled call gets its own follow-up and one call never gets two. Past
`within_days` after the call the message would be stale and is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, freescout_message, skip

SUMMARY_PROMPT = (
    "As a quick recap, we talked about your main compliance need, the framework "
    "to start with, how to import your controls and how to invite your team. "
    "If we missed anything, just reply to this email and we will add it to the summary."
)


@dataclass(frozen=True)
class Params:
    within_days: int = 1  # "within 24 h" of the call: the day after it
    mailbox_id: int = 1
    subject: str = "Thank you for the onboarding call"
    summary_prompt: str = SUMMARY_PROMPT
    docs_link: str = ""
    community_link: str = ""


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "follow_up":
        return skip(f"step is {case.step}, not follow_up")
    if "not_icp" in case.tags:
        return skip("tagged Not-ICP: nurture only, no personal outreach")
    call = case.fields.onboarding_call_date
    if call is None:
        return skip("no onboarding_call_date")
    days = (now.date() - call).days
    if days < 1:
        return skip(f"call on {call} has not passed yet")
    if days > p.within_days:
        return skip(f"call on {call} was {days} days ago, past the {p.within_days}-day window")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = f"onboarding call on {call} passed {days} day(s) ago"
    key = f"follow_up_message:{case.id}:{call}"
    return [freescout_message(case, p.mailbox_id, p.subject, _text(case, p), key, because)]


def _text(case: Case, p: Params) -> str:
    lines = [f"Hello {case.name},", "", "thank you for your time on our call.", ""]
    lines += [p.summary_prompt, ""]
    if p.docs_link:
        lines.append(f"Documentation: {p.docs_link}")
    if p.community_link:
        lines.append(f"Join our community: {p.community_link}")
    return "\n".join([*lines, "", "Best regards"])


RULE = Rule(
    name="follow_up_message",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"freescout"}),
    required_with=(("freescout", "community_link"),),
)
