"""Send a new partner the Mautic partner-welcome email (docs, demo environment).

Sent once the discovery call has passed and the partner has an account, once
per case (`partner_welcome_email:<case>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import PARTNER_STEPS, Case, Decision, Rule, mautic_email, skip

FROM_STEP = PARTNER_STEPS.index("partner_account")


@dataclass(frozen=True)
class Params:
    template_id: int = 0  # none until configured: never whatever #1 is


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if not p.template_id:
        return skip("no Mautic email template chosen: set [rule:partner_welcome_email] template_id")
    if case.step not in PARTNER_STEPS[FROM_STEP:]:
        return skip(f"step is {case.step}, before partner_account")
    call = case.fields.discovery_call_date
    if call is None:
        return skip("no discovery_call_date")
    if call >= now.date():
        return skip(f"discovery call on {call} has not passed yet")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = f"discovery call on {call} passed; partner account step {case.step}"
    return [mautic_email(case, p.template_id, f"partner_welcome_email:{case.id}", because)]


RULE = Rule(
    name="partner_welcome_email",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset({"mautic"}),
    required_with=(("mautic", "template_id"),),
)
