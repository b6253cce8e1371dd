"""Mark a partner's first deal on the partner's record, once.

A customer whose `referred_by` names this partner is a registered deal; each
referral is already noted on both records by `partner_referral_note`. This
rule marks the milestone: the partner's first deal (the earliest referred
customer), one note ever, so the key names only the partner:
`first_deal_note:<partner>`. A partner it referred is no deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, dolibarr_note, skip


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if not case.customer_referrals:
        return skip("no customer names this partner in referred_by")
    first = min(case.customer_referrals, key=lambda r: r.id)
    text = f"First deal: customer {first.name} ({first.ref}) was referred by this partner."
    because = f"customer {first.ref} is the first to name partner {case.ref} in referred_by"
    return [dolibarr_note(case, text, f"first_deal_note:{case.id}", because)]


RULE = Rule(name="first_deal_note", process="partner", params=Params, decide=decide)
