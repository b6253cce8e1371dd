"""Add a Not-ICP trial to the Mautic nurture segment.

Not-ICP signups get no personal outreach, only the Mautic nurture sequence.
The key carries the segment id, so moving the nurture to another segment adds
existing cases to the new one once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, mautic_segment, skip


@dataclass(frozen=True)
class Params:
    segment_id: int = 0  # none until configured: never whatever #1 is


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if not p.segment_id:
        return skip("no Mautic segment chosen: set [rule:nurture_segment] segment_id")
    if case.step != "nurture":
        return skip(f"step is {case.step}, not nurture")
    if not case.contact_email:
        return skip("no email on the third party or its contacts")
    because = f"tagged Not-ICP; nurture through Mautic segment {p.segment_id}"
    key = f"nurture_segment:{case.id}:segment:{p.segment_id}"
    return [mautic_segment(case, p.segment_id, key, because)]


RULE = Rule(
    name="nurture_segment",
    process="customer",
    params=Params,
    decide=decide,
    needs=frozenset({"mautic"}),
    required_with=(("mautic", "segment_id"),),
)
