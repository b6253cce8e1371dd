"""Note each deal a partner brought in, on the partner and on the customer.

A customer whose `referred_by` names this partner is a registered deal. One
note on each record per referred customer:
`first_deal_note:<partner>:referral:<customer>:partner` and `…:customer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Action, Case, Decision, Referral, Rule, dolibarr_note, skip


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if not case.referrals:
        return skip("no customer names this partner in referred_by")
    return [action for ref in case.referrals for action in _notes(case, ref)]


def _notes(case: Case, ref: Referral) -> list[Action]:
    key = f"first_deal_note:{case.id}:referral:{ref.id}"
    because = f"customer {ref.ref} names partner {case.ref} in referred_by"
    on_partner = f"Deal registered: customer {ref.name} ({ref.ref}) referred by this partner."
    on_customer = f"Deal registered by partner {case.label}."
    return [
        dolibarr_note(case, on_partner, f"{key}:partner", because),
        dolibarr_note(case, on_customer, f"{key}:customer", because, target_id=ref.id),
    ]


RULE = Rule(name="first_deal_note", process="partner", params=Params, decide=decide)
