"""Write the inferred step into the `onboarding_step` extrafield.

People read the step in Dolibarr; syncd never reads it back as input. The key
carries the step and what the field said before
(`step_writeback:<case>:<step>:from-<previous>`), so a step is written again
when a case comes back to it, or when a person overwrote the field. A case in
both processes shows both steps (`welcome_call / partner_qualification`),
joined by `+` in the key (`syncd.model.step_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import NO_STEP, Case, Decision, Rule, set_fields, skip, step_key


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if case.step in ("", NO_STEP):
        return skip("no onboarding step")
    if case.step == case.fields.onboarding_step:
        return skip(f"onboarding_step already says {case.step}")
    shown = case.fields.onboarding_step or "empty"
    because = f"step is {case.step}, onboarding_step says {shown}"
    previous = case.fields.onboarding_step or "empty"
    key = step_key(case.id, case.step, previous)
    return [set_fields(case, {"onboarding_step": case.step}, key, because)]


RULE = Rule(name="step_writeback", process="any", params=Params, decide=decide)
