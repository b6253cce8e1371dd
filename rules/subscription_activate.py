"""Tag a customer Customer-Active once one of its invoices is paid.

A paid invoice is the evidence that the subscription is live. The tag is set
once per case (`subscription_activate:<case>`); the step itself is written
back by `step_writeback`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, skip, tag


@dataclass(frozen=True)
class Params:
    pass


def decide(case: Case, now: datetime, p: Params) -> Decision:
    if "customer_active" in case.tags:
        return skip("already tagged Customer-Active")
    paid = next((inv for inv in case.invoices if inv.is_paid), None)
    if paid is None:
        return skip("no paid invoice")
    because = f"invoice {paid.ref} is paid and the Customer-Active tag is not set"
    return [tag(case, "customer_active", f"subscription_activate:{case.id}", because)]


RULE = Rule(name="subscription_activate", process="customer", params=Params, decide=decide)
