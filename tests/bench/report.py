"""The benchmark's report: markdown tables, the profile in words, and issue 13's targets.

Role: turn measured figures (`scenarios.SizeResult`) into the text `make bench`
prints and writes to docs/performance.md. Every sentence is computed from the
figures of this run, so the file never says more than was measured. It
measures nothing itself.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tests.bench.profiling import Profile
from tests.bench.scenarios import (
    CHANGED,
    FULL_PLAN,
    IDLE_GAP,
    PAGE_SIZE,
    PHASES,
    WITHIN,
    Sample,
    SizeResult,
)

SCENARIOS = (
    "cold",
    "after cold's writes",
    "next day",
    "idle",
    "1 % changed",
    "after own writes",
    "run --once",
    "dry run",
    "naive N+1 poller",
)
NAIVE = "naive N+1 poller"
TARGET_SIZE = 50_000
MB_LIMIT = 250.0
CPU_LIMIT = 1.0
PLAN_RATE = 20_000.0
NAIVE_RATIO = 20.0
SHOWN_PLANNING = 0.05  # seconds of planning under the profiler worth splitting in words


def pick(samples: Sequence[Sample], scenario: str) -> Sample | None:
    """The scenario's sample; for a repeated one, the run with the median syncd CPU."""
    found = sorted((s for s in samples if s.scenario == scenario), key=lambda s: s.cpu)
    return found[(len(found) - 1) // 2] if found else None


def rows(result: SizeResult) -> list[Sample]:
    return [s for s in (pick(result.samples, name) for name in SCENARIOS) if s is not None]


def render(results: Sequence[SizeResult], rounds: int) -> str:
    parts = [
        "## Figures (syncd with only `[dolibarr]` configured)",
        setup_text(results, rounds),
        time_table(results),
        "### Requests by endpoint",
        endpoint_table(results),
        "### syncd CPU by phase of the cycle",
        phase_table(results),
        acted_text(results),
        "## Findings",
        *[profile_text(p, *measured_for(results, p)) for p in profiles(results)],
        "### Issue 13's targets",
        targets_text(results),
        notes_text(results),
        growth_text(results),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def setup_text(results: Sequence[SizeResult], rounds: int) -> str:
    seeded = "; ".join(
        f"{r.size:,}: "
        + ", ".join(f"{n:,} {what}" for what, n in r.seeded.items() if what != "cases")
        for r in results
    )
    changed = results[-1].changed if results else {}
    mix = ", ".join(f"{n} {kind}" for kind, n in changed.items())
    return "\n".join(
        [
            "How it was run (`make bench`, `tests/bench/`):",
            "",
            "- syncd as the daemon runs it: `build_runtime` once, then `run_cycle` on the same "
            "runtime, in the bench process, with a config holding only `[dolibarr]` and a state "
            "database in a temporary folder (rules that need Mautic, FreeScout or Matrix skip: "
            "this measures the Dolibarr side alone). Page size "
            f"{PAGE_SIZE}, {rounds} round(s) of idle / 1 % changed / after own writes, the median "
            "(by syncd CPU) shown.",
            "- The fake Dolibarr served over HTTP on 127.0.0.1 by a process of its own, so "
            "syncd's CPU and memory are measured alone; its own CPU is the *fake CPU* column. "
            "Where a database would use an index (contacts and invoices by owner, one sorted "
            "selection for all the pages of a list) or scan in C (`label LIKE`), the bench's "
            "fake takes a shortcut that changes no answer (`tests/bench/server.py`). Wall time "
            "holds syncd's CPU, the fake's, loopback round trips and SQLite's syncs to disk, "
            f"on {os.cpu_count()} cores shared with other work; Python "
            f"{platform.python_version()}.",
            f"- Seeded per size (besides the third parties): {seeded}.",
            "- *cold*: the first cycle on an empty state database (it also writes). "
            "*after cold's writes*: the next cycle, reading syncd's own writes back. "
            "*next day*: a day later, when the day's timers fall due and the new database's "
            "careful first day is over. "
            f"*idle*: {IDLE_GAP / 60:.0f} minutes after two cycles that acted on nothing (a "
            "cycle reads back the writes of the one before, and, as its bookmark knows "
            "Dolibarr's clock only from the newest row it has seen, so does the next), so no "
            "row is left in the window it reads. "
            f"*1 % changed*: {CHANGED:.0%} of the cases changed ({mix}). "
            "*after own writes*: the cycle after the 1 % cycle's writes. "
            "*run --once*, *dry run*: `syncd run --once` and `syncd --dry-run` as child "
            "processes on the same state database after an idle period (CPU and peak RSS from "
            "the child's rusage; a `run --once` process loads the stored mirror). "
            "*naive N+1 poller*: every id, then per third party GET itself, its categories, "
            "its contacts, its invoices.",
            "- *syncd CPU*: the cycle's own thread (`time.thread_time`). *peak RSS*: the "
            "process's high-water mark during the scenario (the naive poller runs in the bench "
            "process: its memory is not shown). *plan cases/s*: cases planned by the cycle's "
            "planning phase (`cycle.plan`) per CPU second: the local work; *planned cases* is "
            "how many cases the cycle planned (empty: none). The id sweep that "
            "finds deleted third parties (every `sweep_every` = 60 cycles, one page per "
            f"{PAGE_SIZE} ids) falls in none of these cycles.",
        ]
    )


def time_table(results: Sequence[SizeResult]) -> str:
    head = (
        "| size | scenario | requests | GET | writes | KB received | actions done "
        "| requests ÷ naive's | wall s | wall ÷ naive's | syncd CPU s | fake CPU s | peak RSS MB "
        "| planned cases | plan cases/s |"
    )
    lines = [head, "|" + "---|" * 15]
    for result in results:
        naive = pick(result.samples, NAIVE)
        for s in rows(result):
            asked = _ratio(total(s), total(naive)) if naive and s is not naive else ""
            waited = _ratio(s.wall, naive.wall) if naive and s is not naive else ""
            lines.append(
                f"| {result.size:,} | {s.scenario} | {total(s):,} | {s.reads:,} | {s.writes:,} "
                f"| {s.received_kb:,.0f} | {s.done:,} | {asked} | {s.wall:.2f} | {waited} "
                f"| {s.cpu:.2f} | {s.fake_cpu:.2f} | {_rss_cell(s)} | {_n(s.planned)} "
                f"| {_rate(s)} |"
            )
    return "\n".join(lines)


def _rss_cell(s: Sample) -> str:
    return "" if s.scenario == NAIVE else f"{s.rss_mb:.0f}"


def _ratio(ours: float, naive: float) -> str:
    """syncd's figure as a share of the naive poller's: `0.35 %`, `72 %`."""
    if naive <= 0:
        return ""
    share = 100 * ours / naive
    return f"{share:.2g} %" if share < 10 else f"{share:,.0f} %"


def total(s: Sample) -> int:
    return s.reads + s.writes


def _n(value: int) -> str:
    return f"{value:,}" if value else ""


def _rate(s: Sample) -> str:
    return f"{s.planned / s.plan_cpu:,.0f}" if s.planned and s.plan_cpu > 0 else ""


def endpoint_table(results: Sequence[SizeResult]) -> str:
    chosen = [(r.size, s) for r in results for s in rows(r)]
    routes = sorted({route for _, s in chosen for route in s.requests}, key=_route_order)
    lines = [
        "| size | scenario | " + " | ".join(f"`{route}`" for route in routes) + " |",
        "|" + "---|" * (len(routes) + 2),
    ]
    for size, s in chosen:
        cells = " | ".join(_n(s.requests.get(route, 0)) for route in routes)
        lines.append(f"| {size:,} | {s.scenario} | {cells} |")
    return "\n".join(lines)


PHASE_NAMES = (*PHASES, "save_cycle")


def phase_table(results: Sequence[SizeResult]) -> str:
    """Each cycle's thread CPU split by the phase of `run_cycle` it was spent in."""
    names = [p for p in PHASE_NAMES if any(p in s.phases for r in results for s in r.samples)]
    within = "; ".join(f"`{a}` is part of `{b}`" for a, b in WITHIN.items() if b in names)
    lines = [
        "Thread CPU seconds in each phase of `run_cycle` (timed around the phase functions, "
        f"no profiler); *other* is the rest of the cycle{'; ' + within if within else ''}.",
        "",
        "| size | scenario | cycle | " + " | ".join(f"`{p}`" for p in names) + " | other |",
        "|" + "---|" * (len(names) + 4),
    ]
    for result in results:
        for s in rows(result):
            if not s.phases:
                continue
            cells = " | ".join(f"{s.phases[p]:.2f}" if p in s.phases else "" for p in names)
            other = s.cpu - sum(top_phases(s).values())
            lines.append(
                f"| {result.size:,} | {s.scenario} | {s.cpu:.2f} | {cells} | {other:.2f} |"
            )
    return "\n".join(lines)


def _route_order(route: str) -> tuple[int, str]:
    method, path = route.split(" ", 1)
    return (0 if method == "GET" else 1, path)


def profiles(results: Sequence[SizeResult]) -> list[Profile]:
    return [p for r in results for p in r.profiles]


def measured_for(results: Sequence[SizeResult], wanted: Profile) -> tuple[int, Sample | None]:
    """The size a profile was taken at, and the unprofiled sample of the same scenario there."""
    result = next(r for r in results if wanted in r.profiles)
    return result.size, pick(result.samples, wanted.scenario)


def profile_text(p: Profile, size: int, measured: Sample | None) -> str:
    """Where a cycle's time goes: its phases (unprofiled), its planning, its costliest functions."""
    what = p.scenario if p.scenario == FULL_PLAN else f"{p.scenario} cycle"
    lines = [f"### Where the time goes: {what} at {size:,}", ""]
    if measured is not None and measured.phases:
        lines += [
            f"Measured without a profiler, the {p.scenario} cycle took {measured.cpu:.2f} s "
            f"of syncd CPU and {measured.wall:.2f} s of wall time; by phase (CPU, then wall): "
            + _cpu_and_wall(measured)
            + ".",
            "",
        ]
    lines.append(
        f"Under cProfile (wall clock, slowed by the profiler) it took {p.total:.2f} s."
        + (" By phase of `run_cycle`: " + _shares(p.phases, p.total) + "." if p.phases else "")
    )
    planned = sum(t for _, t in p.planning)
    if planned >= SHOWN_PLANNING:  # a plan of a handful of cases has nothing to say
        lines += [
            "",
            f"Planning ({planned:.2f} s under the profiler) splits into: "
            + _shares(p.planning, planned)
            + ".",
        ]
        for parent, below in p.deeper:
            whole = sum(t for _, t in below)
            if below:
                lines += ["", f"Within `{parent}`: " + _shares(below, whole) + "."]
    lines += [
        "",
        "Costliest functions by own time (excluding what they call): "
        + "; ".join(f"`{e.name}` {e.own:.2f} s in {e.calls:,} calls" for e in p.own[:6])
        + ".",
        "",
        "| function (top by cumulative time) | calls | own s | cumulative s |",
        "|---|---|---|---|",
        *[f"| `{e.name}` | {e.calls:,} | {e.own:.3f} | {e.cumulative:.3f} |" for e in p.cumulative],
    ]
    return "\n".join(lines)


def top_phases(s: Sample) -> dict[str, float]:
    """The phases `run_cycle` called itself: not one timed inside another timed phase."""
    return {p: t for p, t in s.phases.items() if WITHIN.get(p) not in s.phases}


def _cpu_and_wall(s: Sample) -> str:
    ordered = sorted(top_phases(s).items(), key=lambda item: -item[1])
    return ", ".join(
        f"`{name}` {cpu:.2f} s ({cpu / s.cpu:.0%}) / {s.phase_wall.get(name, 0.0):.2f} s"
        for name, cpu in ordered
        if s.cpu > 0 and cpu / s.cpu >= 0.01
    )


def notes_text(results: Sequence[SizeResult]) -> str:
    """Figures of the largest size that the targets do not cover: writes, a process's start."""
    if not results:
        return ""
    result = results[-1]
    lines = [f"### Also measured at {result.size:,}", ""]
    cold = pick(result.samples, "cold")
    if cold is not None and cold.done:
        lines.append(
            f"- The cold cycle did {cold.done:,} actions with {cold.writes:,} writes "
            f"({cold.writes / cold.done:.2f} per action) and {cold.reads:,} GET requests, of "
            f"which {cold.requests.get('GET /agendaevents', 0):,} `GET /agendaevents`."
        )
    for name in ("run --once", "dry run"):
        s = pick(result.samples, name)
        if s is not None:
            lines.append(
                f"- `{name}` as a process of its own: {s.wall:.2f} s wall, {s.cpu:.2f} s CPU, "
                f"{s.rss_mb:.0f} MB peak RSS; its requests: {_routes(s)}."
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def acted_text(results: Sequence[SizeResult]) -> str:
    """Which rules acted in each cycle: what the writes in the tables were for."""
    lines = ["### What the cycles did", ""]
    for result in results:
        for s in rows(result):
            if s.acted:
                done = ", ".join(f"{rule} {n:,}" for rule, n in sorted(s.acted.items()))
                lines.append(f"- {result.size:,}, {s.scenario}: {done}.")
    return "\n".join(lines) if len(lines) > 2 else ""


def _shares(parts: Iterable[tuple[str, float]], whole: float) -> str:
    shown = [(name, t) for name, t in parts if whole > 0 and t / whole >= 0.01]
    return ", ".join(f"`{name}` {t:.2f} s ({t / whole:.0%})" for name, t in shown) or "nothing"


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: cannot tell from this run
    cause: str = ""


def targets_text(results: Sequence[SizeResult]) -> str:
    if not results:
        return ""
    largest = results[-1]
    where = (
        f"at {largest.size:,}"
        if largest.size >= TARGET_SIZE
        else f"at {largest.size:,}, projected to {TARGET_SIZE:,} along the straight line "
        "through the two largest sizes"
    )
    lines = [
        f"Issue 13 states its targets at {TARGET_SIZE:,} third parties; figures here are {where}.",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    verdicts = judge(results)
    for v in verdicts:
        met = "?" if v.met is None else ("yes" if v.met else "**no**")
        lines.append(f"| {v.target} | {v.measured} | {met} |")
    causes = [f"- **{v.target}**: {v.cause}" for v in verdicts if v.cause and v.met is False]
    if causes:
        lines += ["", "Measured causes of the shortfalls:", "", *causes]
    return "\n".join(lines)


def judge(results: Sequence[SizeResult]) -> list[Verdict]:
    largest = results[-1]
    return [
        _idle_requests(largest),
        _cpu_target("idle", "idle cycle CPU < 1 s", results),
        _cpu_target("1 % changed", "1 % changed CPU < 1 s", results),
        _changed_requests(results),
        _naive_ratio(largest),
        _plan_rate(results),
        _rss_target(results),
    ]


def _idle_requests(result: SizeResult) -> Verdict:
    idle = pick(result.samples, "idle")
    limit = 4 + result.watched_tags
    target = f"idle cycle ≤ 4 + watched tags ({limit}) requests"
    if idle is None:
        return Verdict(target, "not run", None)
    return Verdict(
        target,
        f"{total(idle)} at {result.size:,}",
        total(idle) <= limit,
        f"the idle cycle made {_routes(idle)}",
    )


def _cpu_target(scenario: str, target: str, results: Sequence[SizeResult]) -> Verdict:
    value, how = at_target(results, scenario, lambda s: s.cpu)
    if value is None:
        return Verdict(target, "not run", None)
    cause = f"the cycle's CPU grows with the number of cases ({how})"
    measured = pick(results[-1].samples, scenario)
    if measured is not None and measured.phases:
        split = sorted(top_phases(measured).items(), key=lambda item: -item[1])[:4]
        cause += f"; at {results[-1].size:,} it went to " + _shares(split, measured.cpu)
    return Verdict(target, f"{value:.2f} s {how}", value < CPU_LIMIT, cause)


def _changed_requests(results: Sequence[SizeResult]) -> Verdict:
    """1 % of the cases changes: requests should follow the changed rows, far below n."""
    target = "1 % changed: requests proportional to the changed rows"
    points = [(r.size, s) for r in results if (s := pick(r.samples, "1 % changed")) is not None]
    if not points:
        return Verdict(target, "not run", None)
    size, last = points[-1]
    measured = f"{total(last):,} ({last.reads:,} GET, {last.writes:,} writes) at {size:,}"
    if len(points) < 2:
        return Verdict(target, measured, None)
    (n1, first) = points[-2]
    k = exponent(n1, total(first), size, total(last))
    measured += f"; {total(first):,} at {n1:,}: growing as n^{k:.2f}"
    return Verdict(target, measured, k <= 1.0, f"the 1 % cycle made {_routes(last)}")


def _naive_ratio(result: SizeResult) -> Verdict:
    """The cold read is the dry run's: everything read into an empty mirror, nothing written."""
    read, naive = pick(result.samples, "dry run"), pick(result.samples, NAIVE)
    cold = pick(result.samples, "cold")
    target = "cold read ≥ 20× fewer requests than the naive poller"
    if read is None or naive is None or not read.reads:
        return Verdict(target, "not run", None)
    ratio = total(naive) / read.reads
    measured = f"{ratio:,.0f}× at {result.size:,} ({total(naive):,} vs {read.reads:,} GET)"
    if cold is not None:
        measured += (
            f"; the cold cycle, which also acts: {total(naive) / total(cold):,.1f}× "
            f"({cold.reads:,} GET, {cold.writes:,} writes)"
        )
    return Verdict(target, measured, ratio >= NAIVE_RATIO, "the cold read made " + _routes(read))


def _routes(s: Sample) -> str:
    ordered = sorted(s.requests.items(), key=lambda item: -item[1])
    return ", ".join(f"`{route}` {n:,}" for route, n in ordered)


def _plan_rate(results: Sequence[SizeResult]) -> Verdict:
    """Cases per CPU second over the cycles whose plan took in every case (the median)."""
    target = "local work ≥ 20,000 cases/s"
    result = results[-1]
    rates = sorted(
        s.planned / s.plan_cpu
        for s in result.samples
        if s.planned >= result.size and s.plan_cpu > 0
    )
    if not rates:
        return Verdict(target, "not run", None)
    rate = rates[(len(rates) - 1) // 2]
    return Verdict(
        target,
        f"{rate:,.0f} cases/s at {result.size:,} (median of the {len(rates)} cycles that "
        "planned every case)",
        rate >= PLAN_RATE,
        f"planning one case takes {1000 / rate:.3f} ms of CPU" + _planning_split(results),
    )


def _planning_split(results: Sequence[SizeResult]) -> str:
    """Where planning every case goes, from the profile of the largest plan."""
    for p in sorted(profiles(results), key=lambda p: -sum(t for _, t in p.planning)):
        if p.planning:
            whole = sum(t for _, t in p.planning)
            return f"; under the profiler ({p.scenario}) it splits into " + _shares(
                p.planning, whole
            )
    return ""


def _rss_target(results: Sequence[SizeResult]) -> Verdict:
    target = "peak RSS < 250 MB in every command"
    largest = results[-1]
    worst = max(
        (s for s in rows(largest) if s.scenario != NAIVE), key=lambda s: s.rss_mb, default=None
    )
    if worst is None:
        return Verdict(target, "not run", None)
    value, how = at_target(results, worst.scenario, lambda s: s.rss_mb)
    assert value is not None
    return Verdict(
        target,
        f"{value:.0f} MB {how} ({worst.scenario})",
        value < MB_LIMIT,
        f"memory grows with the number of cases ({how}); the largest is {worst.scenario}",
    )


def at_target(
    results: Sequence[SizeResult], scenario: str, value: Callable[[Sample], float]
) -> tuple[float | None, str]:
    """The value at TARGET_SIZE: measured, or projected from the two largest sizes.

    The projection is a straight line through both (a fixed part and a part per
    case, as memory and CPU have), never below the larger size's value.
    """
    points = [(r.size, s) for r in results if (s := pick(r.samples, scenario)) is not None]
    if not points:
        return None, ""
    size, last = points[-1]
    if size >= TARGET_SIZE:
        return value(last), f"at {size:,}"
    if len(points) < 2:
        return value(last), f"at {size:,} (one size only: not projected)"
    (n1, first), (n2, second) = points[-2], points[-1]
    per_case = max(0.0, (value(second) - value(first)) / (n2 - n1))
    projected = value(second) + per_case * (TARGET_SIZE - n2)
    return projected, (
        f"projected from {value(first):.2f} at {n1:,} and {value(second):.2f} at {n2:,}: "
        f"+{per_case * 1000:.3f} per 1,000 cases"
    )


def exponent(n1: int, v1: float, n2: int, v2: float) -> float:
    """k in v ∝ n^k between two sizes: 1 grows with the cases, 0 does not."""
    if v1 <= 0 or v2 <= 0 or n1 == n2:
        return 0.0
    return math.log(v2 / v1) / math.log(n2 / n1)


def growth_text(results: Sequence[SizeResult]) -> str:
    """Does a cycle cost what changed, or the size of the CRM? The exponent says."""
    if len(results) < 2:
        return ""
    n1, n2 = results[-2].size, results[-1].size
    lines = [
        "### Cost against the size of the CRM",
        "",
        f"How each figure grows from {n1:,} to {n2:,} third parties, as n^k: k ≈ 1 grows with "
        "the cases, k ≈ 0 with what changed only (1 % changed is a fixed share, so it grows "
        "with n either way; compare it with idle).",
        "",
        "| scenario | syncd CPU k | requests k | peak RSS k |",
        "|---|---|---|---|",
    ]
    for name in SCENARIOS:
        a, b = pick(results[-2].samples, name), pick(results[-1].samples, name)
        if a is None or b is None:
            continue
        lines.append(
            f"| {name} | {exponent(n1, a.cpu, n2, b.cpu):.2f} "
            f"| {exponent(n1, total(a), n2, total(b)):.2f} "
            f"| {exponent(n1, a.rss_mb, n2, b.rss_mb):.2f} |"
        )
    return "\n".join(lines)
