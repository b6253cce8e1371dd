"""Hand an active customer over to ongoing success.

A Matrix notice and an agenda event assigned to the success owner (the
process page assigns Alexander). Once per case: `handoff_success:<case>:matrix`
and `…:event`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, agenda_event, matrix_notify, skip


@dataclass(frozen=True)
class Params:
    room: str = "success"
    success_owner_id: int = 2


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "handoff":
        return skip(f"step is {case.step}, not handoff")
    key = f"handoff_success:{case.id}"
    because = "active customer not yet handed off to ongoing success"
    text = f"{case.label} is an active customer: welcome them to ongoing success."
    label = f"Ongoing success for {case.label}: support channel and check-ins"
    return [
        matrix_notify(p.room, text, f"{key}:matrix", because),
        agenda_event(case, label, f"{key}:event", because, owner_id=p.success_owner_id),
    ]


RULE = Rule(
    name="handoff_success",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
