"""The chaos world: the demo's cases, then new cases arriving and living their days.

Every case follows a small script (day after arrival → what a person does in
Dolibarr: tag it, set a call date, record a login count, pay an invoice), chosen so
that between them the cases make syncd plan every action kind: Matrix notices,
Mautic contacts, emails and segments, FreeScout messages, agenda events and tasks,
private-note lines (commission and referral notes), tags and extrafields. All
randomness comes from the `random.Random` handed in, so a world replays from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import seed_demo

Step = Callable[[FakeDolibarr, int, date], None]


def _tag(*labels: str) -> Step:
    def step(d: FakeDolibarr, socid: int, _today: date) -> None:
        for label in labels:
            d.tag(socid, label)

    return step


def _retag(old: str, new: str) -> Step:
    def step(d: FakeDolibarr, socid: int, _today: date) -> None:
        d.untag(socid, old)
        d.tag(socid, new)

    return step


def _fields(**values: object) -> Step:
    """Set extrafields; an int value under a `*_date` name means 'today + that many days'."""

    def step(d: FakeDolibarr, socid: int, today: date) -> None:
        resolved = {
            name: today + timedelta(days=v) if name.endswith("_date") and isinstance(v, int) else v
            for name, v in values.items()
        }
        d.set_fields(socid, **resolved)

    return step


def _paid_invoice(amount: str) -> Step:
    def step(d: FakeDolibarr, socid: int, _today: date) -> None:
        d.add_invoice(socid, f"FA-{socid}-{len(d.invoices) + 1}", amount, paid=True)

    return step


# What a person does to each kind of case, by day after its arrival.
SCRIPTS: dict[str, list[tuple[int, Step]]] = {
    "trial, quiet": [],
    "trial, not a fit": [(1, _tag("Not-ICP"))],
    "trial, converts": [
        (2, _tag("ICP-fit")),
        (4, _fields(onboarding_call_date=1)),
        (6, _fields(logins_count=4, frameworks_mapped=1)),
        (11, _paid_invoice("490.00")),
    ],
    "trial, EU project": [
        (1, _tag("ICP-fit", "EU-Project")),
        (3, _fields(onboarding_call_date=1)),
        (7, _fields(logins_count=6, frameworks_mapped=2)),
    ],
    "partner, joins": [
        (2, _retag("Partner-Prospect", "Partner-Qualified")),
        (4, _fields(discovery_call_date=1)),
        (7, _fields(briefing_date=3, commission_rate="20")),
        (11, _fields(directory_consent=1, agreement_signed_date=0)),
    ],
    "partner, declined": [(3, _retag("Partner-Prospect", "Partner-Declined"))],
}
FIRST_TAGS = {name: ("Partner-Prospect",) if "partner" in name else ("Trial",) for name in SCRIPTS}


@dataclass
class Arrival:
    socid: int
    script: str
    day: date
    done: int = 0  # how many of its script's steps have happened


@dataclass
class ChaosWorld:
    dolibarr: FakeDolibarr
    rng: random.Random
    arrivals: list[Arrival] = field(default_factory=list)
    partners: list[int] = field(default_factory=list)
    count: int = 0

    def seed(self) -> None:
        """The demo's dozen cases (both processes, every exception) to start from."""
        ids = seed_demo(self.dolibarr)
        self.partners.append(ids["Quartz Partners"])

    def arrive(self, n: int) -> None:
        """`n` new cases sign up today, each with a script; some referred by a partner."""
        today = self.today()
        for _ in range(n):
            self.count += 1
            script = self.rng.choice(sorted(SCRIPTS))
            options: dict[str, object] = {"signup_date": today}
            if "converts" in script and self.partners and self.rng.random() < 0.6:
                options["referred_by"] = self.rng.choice(self.partners)
            socid = self.dolibarr.add_thirdparty(
                f"Chaos {self.count} ({script})",
                email=f"case{self.count}@chaos.example",
                country_code=self.rng.choice(("DE", "FR", "NO", "US")),
                array_options=options,
                tags=FIRST_TAGS[script],
            )
            self.arrivals.append(Arrival(socid, script, today))
            if script == "partner, joins":
                self.partners.append(socid)

    def live(self) -> int:
        """Carry out every script step that is due by today; return how many happened."""
        today, happened = self.today(), 0
        for a in self.arrivals:
            steps = SCRIPTS[a.script]
            while a.done < len(steps) and a.day + timedelta(days=steps[a.done][0]) <= today:
                steps[a.done][1](self.dolibarr, a.socid, today)
                a.done += 1
                happened += 1
        return happened

    def today(self) -> date:
        return datetime.fromtimestamp(self.dolibarr.now, UTC).date()
