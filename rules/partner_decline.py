"""Send a declined partner prospect a polite decline, once.

A decline is sent once per case, so the key is `partner_decline:<case>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, fill_message, freescout_message, skip

BODY = (
    "Hello {name},\n\n"
    "thank you for your interest in the Unicis partner programme and for the time "
    "you took to tell us about your business. After careful review we have decided "
    "not to move forward with a partnership at this time.\n\n"
    "We wish you every success and would be glad to stay in touch.\n\n"
    "Best regards"
)


@dataclass(frozen=True)
class Params:
    mailbox_id: int = 1
    subject: str = "Your interest in the Unicis partner programme"
    body: str = BODY


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "partner_declined":
        return skip(f"step is {case.step}, not partner_declined")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    text = fill_message(p.body, case)
    because = "tagged Partner-Declined: polite decline"
    key = f"partner_decline:{case.id}"
    return [freescout_message(case, p.mailbox_id, p.subject, text, key, because)]


RULE = Rule(
    name="partner_decline",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset({"freescout"}),
)
