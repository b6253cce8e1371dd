"""Send a declined partner prospect a polite decline, once.

A decline is sent once per case, so the key is `partner_decline:<case>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, fill_message, freescout_message, skip


@dataclass(frozen=True)
class Params:
    mailbox_id: int = 1
    # From syncd/templates/partner_decline.txt or [company] templates_dir (syncd/messages.py).
    subject: str = ""
    body: str = ""


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
