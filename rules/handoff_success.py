"""Hand an active customer over to ongoing success, with a support channel.

A Matrix notice and an agenda event assigned to the success owner (the
process page assigns Alexander), and a FreeScout message inviting the
customer to the support channel (`support_link`): the page's step 10, and its
Output, "the customer has a support channel". With FreeScout configured the
link is required at start (an invitation without it would be empty); without
FreeScout the invitation is left out and the rest goes on.
Once per case: `handoff_success:<case>:matrix`, `…:event` and `…:invite`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import (
    Action,
    Case,
    Decision,
    Rule,
    agenda_event,
    fill_message,
    freescout_message,
    matrix_notify,
    skip,
)


@dataclass(frozen=True)
class Params:
    room: str = "success"
    success_owner_id: int = 2
    support_link: str = ""  # the Matrix or Discord channel customers are invited to
    mailbox_id: int = 1
    # From syncd/templates/handoff_success.txt or [company] templates_dir (syncd/messages.py).
    subject: str = ""
    body: str = ""


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "handoff":
        return skip(f"step is {case.step}, not handoff")
    key = f"handoff_success:{case.id}"
    because = "active customer not yet handed off to ongoing success"
    text = f"{case.label} is an active customer: welcome them to ongoing success."
    label = f"Ongoing success for {case.label}: support channel and check-ins"
    actions = [
        matrix_notify(p.room, text, f"{key}:matrix", because),
        agenda_event(case, label, f"{key}:event", because, owner_id=p.success_owner_id),
    ]
    invite = _invite(case, p, f"{key}:invite", because)
    return [*actions, invite] if invite else actions


def _invite(case: Case, p: Params, key: str, because: str) -> Action | None:
    """The customer's invitation to the support channel; none without a link or an address."""
    if not p.support_link or not case.contact_email:
        return None
    body = fill_message(p.body, case, p.support_link, placeholder="support_link")
    why = f"{because}; inviting {case.contact_email} to the support channel"
    return freescout_message(case, p.mailbox_id, p.subject, body, key, why)


RULE = Rule(
    name="handoff_success",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; Matrix and FreeScout parts need theirs
    required_with=(("freescout", "support_link"),),
)
