"""Ask a human in Matrix to list a briefed, consenting partner on the website.

The website directory is edited by hand (Decap CMS), so syncd only asks, once
per case (`directory_listing_notify:<case>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, matrix_notify, skip


@dataclass(frozen=True)
class Params:
    room: str = "sales"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    briefing = case.fields.briefing_date
    if briefing is None:
        return skip("no briefing_date")
    if briefing >= now.date():
        return skip(f"briefing on {briefing} has not passed yet")
    if not case.fields.has_directory_consent:
        return skip("no directory_consent for a public listing")
    text = f"Please list partner {case.label} in the website partner directory."
    because = f"briefing on {briefing} done and directory_consent given"
    return [matrix_notify(p.room, text, f"directory_listing_notify:{case.id}", because)]


RULE = Rule(
    name="directory_listing_notify",
    process="partner",
    params=Params,
    decide=decide,
    needs=frozenset({"matrix"}),
)
