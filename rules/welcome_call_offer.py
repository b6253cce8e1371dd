"""Offer an ICP-fit trial a 30-minute onboarding call from the sales mailbox.

A personal FreeScout message with the calendar link, sent once per case: the
key is the case alone, because a trial is welcomed once. `{name}` and
`{calendar_link}` in the body are filled in; a body without the link gets it
appended, so the message always says where to book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, fill_message, freescout_message, skip


@dataclass(frozen=True)
class Params:
    mailbox_id: int = 1
    # From syncd/templates/welcome_call_offer.txt or [company] templates_dir (syncd/messages.py).
    subject: str = ""
    body: str = ""
    calendar_link: str = ""


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "welcome_call":
        return skip(f"step is {case.step}, not welcome_call")
    if "not_icp" in case.tags:
        return skip("tagged Not-ICP: nurture only, no personal outreach")
    if not p.calendar_link:
        return skip("calendar_link is not set in [rule:welcome_call_offer]")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = "tagged ICP-fit with no onboarding_call_date: offering a 30-minute call"
    key = f"welcome_call_offer:{case.id}"
    return [
        freescout_message(
            case, p.mailbox_id, p.subject, fill_message(p.body, case, p.calendar_link), key, because
        )
    ]


RULE = Rule(
    name="welcome_call_offer",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"freescout"}),
)
