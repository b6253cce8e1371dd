"""Offer a qualified partner prospect the 30-minute discovery call.

A FreeScout message with the calendar link, once per case
(`discovery_call_offer:<case>`). `{name}` and `{calendar_link}` in the body
are filled in; a body without the link gets it appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, fill_message, freescout_message, skip


@dataclass(frozen=True)
class Params:
    mailbox_id: int = 1
    # From syncd/templates/discovery_call_offer.txt or [company] templates_dir (syncd/messages.py).
    subject: str = ""
    body: str = ""
    calendar_link: str = ""


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "discovery_call":
        return skip(f"step is {case.step}, not discovery_call")
    if case.fields.discovery_call_date is not None:
        return skip(f"discovery call already booked for {case.fields.discovery_call_date}")
    if not p.calendar_link:
        return skip("calendar_link is not set in [rule:discovery_call_offer]")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = "tagged Partner-Qualified with no discovery_call_date: offering the call"
    key = f"discovery_call_offer:{case.id}"
    return [
        freescout_message(
            case, p.mailbox_id, p.subject, fill_message(p.body, case, p.calendar_link), key, because
        )
    ]


RULE = Rule(
    name="discovery_call_offer",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset({"freescout"}),
)
