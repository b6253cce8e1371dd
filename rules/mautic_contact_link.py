"""Link a trial's Dolibarr record to its Mautic contact.

The process page says "link the contact to the Mautic subscriber record". The
executor finds or creates the Mautic contact and stores its id in the
`mautic_contact_id` extrafield; once that field is filled the rule is done.
The key is the case alone: linking is a one-time act per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, mautic_link, skip


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if "trial" not in case.tags:
        return skip("no Trial tag on this case")
    if case.fields.mautic_contact_id:
        return skip(f"already linked to Mautic contact {case.fields.mautic_contact_id}")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = f"trial with no mautic_contact_id yet; linking {case.contact_email}"
    return [mautic_link(case, f"mautic_contact_link:{case.id}", because)]


RULE = Rule(
    name="mautic_contact_link",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"mautic"}),
)
