"""Ask the owner to send a proposal to an active trial on days 10–14.

EU-Project cases have free access and skip conversion entirely. Self-hosted
cases get a licence key from billing instead of a SaaS subscription, so they
get no SaaS actions: one Matrix notice tells a human the licence key is due.
Once per case: keys are `conversion_proposal:<case>:task` / `…:matrix`, or
`…:licence` for self-hosted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Action, Case, Decision, Rule, agenda_event, matrix_notify, skip


@dataclass(frozen=True)
class Params:
    first_day: int = 10
    last_day: int = 14
    owner_id: int = 1
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step != "conversion":
        return skip(f"step is {case.step}, not conversion")
    if "eu_project" in case.tags:
        return skip("EU-Project case: free access, the conversion steps are skipped")
    days = (now.date() - case.signup_date).days
    if not p.first_day <= days <= p.last_day:
        window = f"days {p.first_day}–{p.last_day}"
        return skip(f"day {days} since signup {case.signup_date}, outside {window}")
    if case.proposals:
        return skip(f"a proposal exists already ({case.proposals[0].ref})")
    because = (
        f"day {days} since signup {case.signup_date}, active "
        f"({case.fields.logins_count} logins, {case.fields.frameworks_mapped} frameworks mapped), "
        "no proposal yet"
    )
    if "self_hosted" in case.tags:
        return [_licence_notice(case, p, because)]
    return _proposal_actions(case, p, because)


def _licence_notice(case: Case, p: Params, because: str) -> Action:
    text = (
        f"Self-hosted trial {case.label} is ready to convert: a licence key "
        "from billing is due (no SaaS proposal is sent automatically)."
    )
    why = f"{because}; self-hosted, so a human issues the licence key"
    return matrix_notify(p.room, text, f"conversion_proposal:{case.id}:licence", why)


def _proposal_actions(case: Case, p: Params, because: str) -> list[Action]:
    key = f"conversion_proposal:{case.id}"
    label = f"Send proposal to {case.label}"
    text = f"Trial {case.label} is active and ready for a proposal."
    return [
        agenda_event(case, label, f"{key}:task", because, owner_id=p.owner_id),
        matrix_notify(p.room, text, f"{key}:matrix", because),
    ]


RULE = Rule(
    name="conversion_proposal",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset(),  # the agenda task stands alone; the Matrix part needs matrix
)
