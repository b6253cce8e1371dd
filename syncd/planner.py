"""Which cases a cycle plans: what changed, what it touches, and what is due.

Planning every case every cycle costs what the CRM weighs, not what changed.
A case's plan depends on its own rows, on the cases it is linked to (a
customer on the partner its `referred_by` names, a partner on the customers
naming it), on its step history, and on time. Time enters every rule and the
step inference through the local date only (`Rule` contract in
`docs/design.md`), so without a change a case's plan stays the same until the
next midnight in Dolibarr's zone. The daemon therefore plans, each cycle:

- the cases whose rows changed or that were deleted, and their linked cases
  (before and after the change);
- the cases that moved into a step in the previous cycle (their
  `entered_step` turns false);
- the cases with a skipped action due to be asked about again;
- every case, when the date changed, the rules or their parameters changed,
  the company currency changed, or Dolibarr's timeline told the state
  database something it did not know (nothing is known then).

What it remembers of each case is small: the partner it names and the keys
of the actions its last plan held. It also knows what of that the state
database does not hold yet (`syncd.planmemory` keeps it there, so that a
`run --once` process plans what the daemon would). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from syncd.model import CaseReport

Basis = str  # a fingerprint of what every plan depends on besides the data (planmemory.basis)


@dataclass
class Planner:
    day: date | None = None
    basis: Basis | None = None
    partner_of: dict[int, int] = field(default_factory=dict)  # customer → partner it names
    customers_of: dict[int, set[int]] = field(default_factory=dict)  # partner → customers
    keys: dict[int, tuple[str, ...]] = field(default_factory=dict)  # case → planned keys
    moved: set[int] = field(default_factory=set)  # entered a step in the last plan
    last: datetime | None = None  # when the last plan was made
    # What the state database does not hold yet: whether it holds this memory at all,
    # whether all of it is to be written again, and the cases whose entry changed.
    stored: bool = False
    rewrite: bool = True
    unsaved: set[int] = field(default_factory=set)

    def scope(
        self,
        today: date,
        basis: Basis,
        changed: Collection[int],
        deleted: Collection[int],
        due: Collection[int],
        names_partner: Callable[[int], int | None],
    ) -> set[int] | None:
        """The cases to plan now; None for all of them.

        `names_partner(socid)` is the partner a changed case names now (its
        new `referred_by`), so the partner it moved to is planned too.
        """
        if self.day != today or self.basis != basis:
            return None
        touched = set(changed) | set(deleted)
        wanted = touched | self.moved | set(due)
        for socid in touched:
            wanted |= self.customers_of.get(socid, set())
            for partner in (self.partner_of.get(socid), names_partner(socid)):
                if partner is not None:
                    wanted.add(partner)
        return wanted

    def remember(
        self,
        now: datetime,
        today: date,
        basis: Basis,
        reports: Iterable[CaseReport],
        partners: Mapping[int, int | None],
        deleted: Collection[int],
        scope: Collection[int] | None,
    ) -> None:
        """Keep what the plan of the cases `scope` (None: every case) just made says.

        A plan of nothing (an idle cycle) leaves the stored memory as good as it
        was: only `last` and `moved` move on, and an older `last` or a larger
        `moved` only makes the next plan cover more.
        """
        if scope is None:
            self.partner_of.clear()
            self.customers_of.clear()
            self.keys.clear()
            self.rewrite, self.unsaved = True, set()
        if scope is None or scope:
            self.stored = False
        self.day, self.basis, self.last = today, basis, now
        self.moved = set()
        for socid in deleted:
            self._link(socid, None)
            self.keys.pop(socid, None)
            self.unsaved.add(socid)
        for report in reports:
            self._link(report.case_id, partners.get(report.case_id))
            self.keys[report.case_id] = tuple(a.key for a in report.actions)
            if report.entered_step:
                self.moved.add(report.case_id)
            self.unsaved.add(report.case_id)

    def forget(self) -> None:
        """Plan everything next time."""
        self.day = None

    def saved(self) -> None:
        """The state database holds this memory now."""
        self.stored, self.rewrite = True, False
        self.unsaved.clear()

    def planned_count(self) -> int:
        return sum(len(keys) for keys in self.keys.values())

    def _link(self, socid: int, partner: int | None) -> None:
        old = self.partner_of.pop(socid, None)
        if old is not None:
            customers = self.customers_of.get(old, set())
            customers.discard(socid)
            if not customers:
                self.customers_of.pop(old, None)
        if partner is not None:
            self.partner_of[socid] = partner
            self.customers_of.setdefault(partner, set()).add(socid)
