"""Tag a contracted, briefed partner Partner-Active; chase a missing DPA.

The tag is set once (`partner_activate:<case>`). An EU partner also needs a
Data Processing Agreement; while `dpa_signed` is not set, one reminder goes
out (`partner_activate:<case>:dpa:matrix` / `…:dpa:task`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Action, Case, Decision, Rule, agenda_event, matrix_notify, skip, tag


@dataclass(frozen=True)
class Params:
    owner_id: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    because = _active_because(case, now)
    if not because:
        return skip(_not_active_reason(case, now))
    actions: list[Action] = []
    if "partner_active" not in case.tags:
        actions.append(tag(case, "partner_active", f"partner_activate:{case.id}", because))
    if case.is_eu and not case.fields.has_dpa_signed:
        actions += _dpa_reminder(case, p)
    return actions or skip("already tagged Partner-Active and no DPA is missing")


def _active_because(case: Case, now: datetime) -> str:
    signed = case.fields.agreement_signed_date
    briefing = case.fields.briefing_date
    if signed and briefing and briefing < now.date():
        return f"agreement signed {signed} and briefing on {briefing} done"
    if "partner_active" in case.tags:
        return "tagged Partner-Active"
    return ""


def _not_active_reason(case: Case, now: datetime) -> str:
    if case.fields.agreement_signed_date is None:
        return "no agreement_signed_date"
    briefing = case.fields.briefing_date
    if briefing is None:
        return "no briefing_date"
    return f"briefing on {briefing} has not passed yet"


def _dpa_reminder(case: Case, p: Params) -> list[Action]:
    key = f"partner_activate:{case.id}:dpa"
    because = f"EU partner (country {case.country_code}) without dpa_signed"
    label = f"DPA missing: get a Data Processing Agreement signed by {case.label}"
    text = f"DPA missing for EU partner {case.label}: please get it signed."
    return [
        matrix_notify(p.room, text, f"{key}:matrix", because),
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
    ]


RULE = Rule(
    name="partner_activate",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
