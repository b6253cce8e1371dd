"""Note an inbound partner referral on the customer and on the partner.

The process page asks for the referring partner to be noted for commission
tracking; a partner referred by a partner is noted the same way. One note on
each record per customer and partner:
`partner_referral_note:<case>:partner:<partner>:customer` and `…:partner`, so
a changed `referred_by` is noted again for the new partner. Nothing is written
on a partner whose data is in error; on a paused partner only the customer's
side is noted, and the partner's waits until the pause is lifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, dolibarr_note, skip


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    partner = case.referrer
    if partner is None:
        return skip("not referred by a partner")
    if partner.error:
        return skip(f"commission and referral notes wait: {partner.waits}")
    key = f"partner_referral_note:{case.id}:partner:{partner.id}"
    because = f"referred_by names partner {partner.ref}"
    on_customer = f"Referred by partner {partner.name} ({partner.ref}), for commission tracking."
    referred = "partner" if case.processes == ("partner",) else "customer"
    on_partner = f"Referred {referred} {case.label}, for commission tracking."
    if partner.is_paused:
        waits = f"{because}; the note on the partner waits: {partner.waits}"
        return [dolibarr_note(case, on_customer, f"{key}:customer", waits)]
    return [
        dolibarr_note(case, on_customer, f"{key}:customer", because),
        dolibarr_note(case, on_partner, f"{key}:partner", because, target_id=partner.id),
    ]


# A record, not outreach: it follows every referral, onboarded or not.
RULE = Rule(name="partner_referral_note", process="any", params=Params, decide=decide)
