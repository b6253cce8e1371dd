"""A seeded fault plan: which faults strike which endpoints of the four fakes, from one seed.

Role: `FaultPlan.random(seed)` picks fault kinds, endpoints and counts with its own
`random.Random(seed)`, so a failing chaos run replays exactly from its seed; `apply`
hands each planned fault to its fake as data, and `struck` says how many of them the
fakes actually used. Like the fakes, this module never sleeps, never reads the clock
and never speaks HTTP.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.fakes.base import FakeBase, Fault

# The write endpoints syncd uses, per system (method, path prefix as the fake sees it).
WRITE_ENDPOINTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "dolibarr": (("POST", "/agendaevents"), ("PUT", "/thirdparties")),
    "mautic": (
        ("POST", "/api/contacts/new"),
        ("POST", "/api/emails"),
        ("POST", "/api/segments"),
    ),
    "freescout": (("POST", "/api/conversations"),),
    "matrix": (("PUT", "/_matrix/client/v3/rooms"),),
}
# Reads that reconciliation and polling lean on; only the kinds in READ_KINDS strike them.
READ_ENDPOINTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "dolibarr": (("GET", "/agendaevents"), ("GET", "/thirdparties")),
    "mautic": (("GET", "/api/contacts"), ("GET", "/api/stats")),
    "freescout": (("GET", "/api/conversations"),),
}

FAULT_KINDS = (
    "5xx",
    "5xx after apply",
    "429",
    "stall",
    "stall after apply",
    "reset",
    "reset after apply",
    "truncated 200",
    "non-JSON 200",
    "cut 200",
)
READ_KINDS = ("5xx", "429", "stall", "reset", "truncated 200", "non-JSON 200")


def inject(fake: FakeBase, kind: str, method: str, path_prefix: str, times: int) -> Fault:
    """Give `fake` one fault of `kind`; return it, so its use can be counted later."""
    if kind == "5xx":
        fake.fail(method, path_prefix, status=503, times=times)
    elif kind == "5xx after apply":
        fake.fail(method, path_prefix, status=502, times=times, after_apply=True)
    elif kind == "429":
        fake.throttle(method, path_prefix, retry_after=1, times=times)
    elif kind in ("stall", "stall after apply"):
        fake.timeout(method, path_prefix, times=times, after_apply=kind.endswith("apply"))
    elif kind in ("reset", "reset after apply"):
        fake.drop(method, path_prefix, times=times, after_apply=kind.endswith("apply"))
    elif kind == "truncated 200":
        fake.malformed(method, path_prefix, times=times)
    elif kind == "non-JSON 200":
        fake.not_json(method, path_prefix, times=times)
    elif kind == "cut 200":
        fake.cut(method, path_prefix, times=times)
    else:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    return fake.faults[-1]


@dataclass(frozen=True)
class PlannedFault:
    system: str
    kind: str
    method: str
    path_prefix: str
    times: int

    def __str__(self) -> str:
        return f"{self.system} {self.method} {self.path_prefix}: {self.kind} ×{self.times}"


@dataclass
class FaultPlan:
    """Faults for one run, and (once applied) the fakes' fault objects to count their use."""

    seed: int
    faults: tuple[PlannedFault, ...]
    _applied: list[tuple[PlannedFault, Fault]] = field(default_factory=list, repr=False)

    @classmethod
    def random(
        cls,
        seed: int,
        *,
        count: tuple[int, int] = (1, 4),
        max_times: int = 2,
        kinds: Sequence[str] = FAULT_KINDS,
        read_share: float = 0.2,
    ) -> FaultPlan:
        """Between count[0] and count[1] faults, a `read_share` of them on reads."""
        rng = random.Random(seed)
        faults = []
        for _ in range(rng.randint(*count)):
            on_read = rng.random() < read_share
            table = READ_ENDPOINTS if on_read else WRITE_ENDPOINTS
            allowed = [k for k in kinds if k in READ_KINDS] if on_read else list(kinds)
            if not allowed:
                continue
            system = rng.choice(sorted(table))
            method, prefix = rng.choice(table[system])
            kind = rng.choice(allowed)
            faults.append(PlannedFault(system, kind, method, prefix, rng.randint(1, max_times)))
        return cls(seed, tuple(faults))

    def apply(self, fakes: Mapping[str, FakeBase]) -> None:
        """Give each fake its faults (on top of any it has)."""
        for planned in self.faults:
            fault = inject(
                fakes[planned.system],
                planned.kind,
                planned.method,
                planned.path_prefix,
                planned.times,
            )
            self._applied.append((planned, fault))

    def struck(self) -> Counter[str]:
        """How many times each kind struck so far (a fault not yet met counts 0)."""
        used: Counter[str] = Counter()
        for planned, fault in self._applied:
            used[planned.kind] += planned.times - (fault.remaining or 0)
        return used

    def describe(self) -> str:
        return f"seed {self.seed}: " + ("; ".join(map(str, self.faults)) or "no faults")
