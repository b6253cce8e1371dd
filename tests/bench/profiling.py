"""A profiled cycle, boiled down to what a reader needs: where its time goes.

Role: run one callable under `cProfile` (its default clock: wall time, so waiting
for the fake shows as socket reads; a CPU clock costs a system call per event and
slows the cycle several times over), and keep only plain figures: the phases of
`run_cycle` (its direct callees), what the planning phase spends on, and the
top functions by cumulative and by own time. Names are `module.function`.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Func = tuple[str, int, str]  # (file, line, function), as pstats keys them


@dataclass(frozen=True)
class Entry:
    name: str
    calls: int
    own: float  # seconds in the function itself
    cumulative: float  # seconds in it and everything it called


@dataclass(frozen=True)
class Profile:
    scenario: str
    total: float  # seconds of the whole profiled cycle
    phases: list[tuple[str, float]]  # run_cycle's callees, cumulative seconds, largest first
    planning: list[tuple[str, float]]  # the plan phase's callees, the same way
    deeper: list[tuple[str, list[tuple[str, float]]]]  # the callees of planning's largest two
    cumulative: list[Entry]
    own: list[Entry]


def profile(scenario: str, work: Callable[[], object], top: int = 15) -> Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        work()
    finally:
        profiler.disable()
    raw: dict[Func, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cycle = _find(raw, "cycle.py", "run_cycle")
    plan = _find(raw, "cycle.py", "plan")
    entries = [
        Entry(name(f), v[1], v[2], v[3]) for f, v in raw.items() if f != cycle and not _own(f)
    ]
    root = cycle or plan
    total = raw[root][3] if root else sum(v[2] for f, v in raw.items() if not _own(f))
    return Profile(
        scenario,
        total,
        callees(raw, cycle),
        callees(raw, plan),
        deeper(raw, plan),
        sorted(entries, key=lambda e: -e.cumulative)[:top],
        sorted(entries, key=lambda e: -e.own)[:top],
    )


def _find(raw: dict[Func, Any], file_end: str, function: str) -> Func | None:
    for func in raw:
        if func[2] == function and func[0].endswith(file_end):
            return func
    return None


def callees(raw: dict[Func, Any], parent: Func | None) -> list[tuple[str, float]]:
    """Time each function spent when called from `parent`, largest first."""
    if parent is None:
        return []
    found = [(_named(raw, f), v[4][parent][3]) for f, v in raw.items() if parent in v[4]]
    return sorted(found, key=lambda item: -item[1])


def deeper(raw: dict[Func, Any], parent: Func | None) -> list[tuple[str, list[tuple[str, float]]]]:
    """One level further down the two largest callees of `parent` (through comprehensions)."""
    if parent is None:
        return []
    below = sorted(
        ((v[4][parent][3], f) for f, v in raw.items() if parent in v[4]), key=lambda i: -i[0]
    )
    found = []
    for _time, func in below[:2]:
        if func[2].startswith("<"):  # a comprehension: look at what it calls
            inner = [(v[4][func][3], f) for f, v in raw.items() if func in v[4]]
            func = max(inner)[1] if inner else func
        found.append((name(func), callees(raw, func)[:5]))
    return found


def _named(raw: dict[Func, Any], func: Func) -> str:
    """A comprehension named by its main callee: `cycle.<listcomp>:101 → cycle._report`."""
    if not func[2].startswith("<"):
        return name(func)
    inner = [(v[4][func][3], f) for f, v in raw.items() if func in v[4]]
    return f"{name(func)} → {name(max(inner)[1])}" if inner else name(func)


def name(func: Func) -> str:
    file, line, function = func
    if file == "~":  # a built-in: pstats writes `<method 'execute' of ...>`
        return function.strip("<>")
    if function.startswith("<"):  # a comprehension or lambda: where it is says what it is
        return f"{Path(file).stem}.{function}:{line}"
    return f"{Path(file).stem}.{function}"


def _own(func: Func) -> bool:
    """The bench's own frames around the measured work."""
    return func[0].startswith(_OWN_FILES)


_OWN_FILES = str(Path(__file__).parent)
