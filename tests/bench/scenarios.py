"""The benchmark's scenarios: syncd run as the daemon runs it, measured cycle by cycle.

Role: for one size, start the fake Dolibarr in a process of its own
(`server`), build syncd's runtime as the daemon does (`build_runtime` once,
then `run_cycle` again and again on the same runtime) from a config with only
`[dolibarr]` and a state database in a temporary folder, and measure each
scenario: requests by endpoint, wall time, syncd's CPU (the cycle's thread, or
a child process's rusage), the fake's CPU, peak RSS and the planning phase.
It measures and returns figures; it never prints a table or judges a target.

The clock is simulated: syncd's `now`, its monotonic clock for the poll's
bookmarks, and the fake's clock all move together, by `advance`.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TypeVar
from unittest import mock

import requests

from syncd import cycle
from syncd.cycle import run_cycle
from syncd.daemon import build_runtime, load
from syncd.store import Status
from tests.bench.profiling import Profile, profile
from tests.bench.server import FakeProcess
from tests.bench.world import START

IDLE_GAP = 600.0  # seconds between cycles: twice the overlap window, so nothing is left in it
CHANGE_LEAD = 400.0  # changes are made this long before their cycle: read by it, not by the next
SEED_AGE = 3600.0  # the seeded rows' age at the first cycle: none is inside its overlap window
NEXT_DAY = 86400.0 + IDLE_GAP  # past a new database's careful first day (RECOVERY_WINDOW)
CHANGED = 0.01
PAGE_SIZE = 100  # the config's default
T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    """One measured scenario."""

    scenario: str
    requests: dict[str, int]  # by endpoint, `GET /contacts`
    wall: float
    cpu: float  # syncd's: the cycle's thread, or the child process's user + system time
    fake_cpu: float  # the fake Dolibarr's process, all threads
    rss_mb: float  # peak resident memory while it ran
    received_kb: float  # response bodies
    planned: int = 0  # cases the cycle planned
    phases: dict[str, float] = field(default_factory=dict)  # a cycle's CPU seconds by phase
    done: int = 0  # actions done
    phase_wall: dict[str, float] = field(default_factory=dict)  # a cycle's wall seconds by phase
    acted: dict[str, int] = field(default_factory=dict)  # actions done, by rule

    @property
    def plan_cpu(self) -> float:
        return self.phases.get("plan", 0.0)

    @property
    def reads(self) -> int:
        return sum(n for route, n in self.requests.items() if route.startswith("GET "))

    @property
    def writes(self) -> int:
        return sum(n for route, n in self.requests.items() if not route.startswith("GET "))


@dataclass(frozen=True)
class SizeResult:
    size: int
    seeded: dict[str, int]
    watched_tags: int
    changed: dict[str, int]  # the last round's 1 % mix, by kind
    samples: list[Sample]
    profiles: list[Profile] = field(default_factory=list)


@dataclass
class Work:
    """What a measured piece of work reports beyond what `measure` sees itself."""

    planned: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    done: int = 0
    phase_wall: dict[str, float] = field(default_factory=dict)
    cpu: float | None = None  # for a child process: its own CPU time
    rss_mb: float | None = None  # for a child process: its own peak


def run_size(size: int, rounds: int, with_profile: bool, progress: bool = True) -> SizeResult:
    """Every scenario at one size, in order; meant to run in a fresh process."""
    with TemporaryDirectory(prefix="syncd-bench-") as tmp, FakeProcess(START.timestamp()) as fake:
        bench = Bench(fake, Path(tmp), progress)
        seeded = bench.say(f"seeding {size} third parties", lambda: fake.seed(size))
        bench.advance(SEED_AGE)
        samples = [bench.cycle("cold")]
        bench.advance(IDLE_GAP)
        samples.append(bench.cycle("after cold's writes"))
        bench.advance(NEXT_DAY)
        samples.append(bench.cycle("next day"))
        changed: dict[str, int] = {}
        for round_no in range(rounds):
            bench.settle()
            samples.append(bench.cycle("idle"))
            changed = bench.change(round_no)
            samples.append(bench.cycle("1 % changed"))
            bench.advance(IDLE_GAP)
            samples.append(bench.cycle("after own writes"))
        profiles = bench.profiles(rounds) if with_profile else []
        bench.settle()
        samples.append(bench.process("run --once", "run", "--once"))
        samples.append(bench.process("dry run", "--dry-run"))
        samples.append(bench.naive())
        tags = len(bench.rt.mirror.category_ids)
        bench.close()
    return SizeResult(size, seeded, tags, changed, samples, profiles)


class Bench:
    """One runtime kept between cycles, as the daemon keeps it, and its simulated clock."""

    def __init__(self, fake: FakeProcess, folder: Path, progress: bool) -> None:
        self.fake = fake
        self.folder = folder
        self.now = START
        self.progress = progress
        self.config = folder / "bench.ini"
        self.config.write_text(
            f"[dolibarr]\nurl = {fake.url}\napi_key = {fake.api_key}\ntimezone = Europe/Paris\n"
            f"page_size = {PAGE_SIZE}\n\n[daemon]\nstate_db = {folder / 'syncd.db'}\n"
            "log_level = ERROR\n"
        )
        self.config.chmod(0o600)
        self.rt = build_runtime(*load(str(self.config)))
        self.rt.monotonic = lambda: self.now.timestamp()

    def say(self, what: str, work: Callable[[], T]) -> T:
        if self.progress:
            print(f"bench: {what}…", file=sys.stderr, flush=True)
        return work()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.fake.advance(seconds)

    def change(self, round_no: int) -> dict[str, int]:
        """Change 1 % of the cases, then let time pass until the next cycle."""
        self.advance(IDLE_GAP - CHANGE_LEAD)
        changed = self.fake.change(CHANGED, round_no)
        self.advance(CHANGE_LEAD)
        return changed

    def cycle(self, scenario: str) -> Sample:
        def work() -> Work:
            with timed_phases(self.rt.store) as spent:
                result = run_cycle(self.rt, self.now)
            return Work(spent.planned, spent.cpu, result.stats.done, spent.wall)

        sample = self.say(scenario, lambda: measure(self.fake, scenario, work))
        return replace(sample, acted=self.acted())

    def acted(self) -> dict[str, int]:
        """Actions the last cycle did, by rule (read after the measurement)."""
        done = self.rt.store.with_status(Status.DONE)
        return dict(Counter(row.rule for row in done if row.updated_at == self.now))

    def settle(self, most: int = 8) -> None:
        """Unmeasured cycles until two in a row act on nothing, then the time to the next.

        A cycle reads from where the previous read began, less the overlap, in
        Dolibarr's clock as syncd knows it: from the newest modification time it
        has seen. After a cycle that wrote, the next one reads those writes back,
        and so does the one after it (the newest row it had seen was older than
        its read); after two quiet cycles, nothing is left to read.
        """
        quiet = 0
        for _ in range(most):
            self.advance(IDLE_GAP)
            stats = run_cycle(self.rt, self.now).stats
            acted = stats.done or stats.failed or stats.held or stats.skipped
            quiet = 0 if acted else quiet + 1
            if quiet == 2:
                break
        self.advance(IDLE_GAP)

    def profiles(self, rounds: int) -> list[Profile]:
        """An idle and a 1 %-changed cycle under cProfile (not among the timed samples)."""
        self.settle()
        idle = self.say("profiling idle", lambda: profile("idle", self._run))
        self.change(rounds)
        changed = self.say("profiling 1 % changed", lambda: profile("1 % changed", self._run))
        everything = self.say(
            "profiling a plan of every case", lambda: profile(FULL_PLAN, self._plan)
        )
        return [idle, changed, everything]

    def _plan(self) -> None:
        """The local work alone: every case planned from the mirror (no I/O, nothing kept)."""
        cycle.plan(self.rt.mirror, self.rt.config, self.rt.ruleset, self.now)

    def _run(self) -> None:
        run_cycle(self.rt, self.now)

    def process(self, scenario: str, *args: str) -> Sample:
        """`syncd ARGS` in a child process on the same config and state database."""
        log = self.folder / f"{scenario.replace(' ', '_')}.log"
        usage = self.folder / "usage"

        def work() -> Work:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
            env["SYNCD_DAEMON_NOW"] = self.now.isoformat()
            syncd = [sys.executable, "-m", "syncd.cli", "--config", str(self.config), *args]
            command = [sys.executable, "-S", "-c", _MEASURED, str(usage), *syncd]
            with log.open("w") as out:
                code = subprocess.call(command, stdout=out, stderr=out, env=env)
            if code != 0:
                tail = log.read_text()[-2000:]
                raise RuntimeError(f"syncd {' '.join(args)} exited {code}: {tail}")
            rss_kb, cpu = usage.read_text().split()
            return Work(cpu=float(cpu), rss_mb=int(rss_kb) / 1024)

        return self.say(scenario, lambda: measure(self.fake, scenario, work))

    def naive(self) -> Sample:
        url, key = self.fake.url, self.fake.api_key
        scenario = "naive N+1 poller"
        return self.say(scenario, lambda: measure(self.fake, scenario, lambda: naive(url, key)))

    def close(self) -> None:
        self.rt.store.close()


def measure(fake: FakeProcess, scenario: str, work: Callable[[], Work]) -> Sample:
    fake.requests()  # clears the log
    fake_cpu, sent = fake.cpu(), fake.bytes_out()
    reset_peak_rss()
    wall, cpu = time.perf_counter(), time.thread_time()
    done = work()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    rss = peak_rss_mb()
    return Sample(
        scenario,
        fake.requests(),
        wall,
        cpu if done.cpu is None else done.cpu,
        fake.cpu() - fake_cpu,
        rss if done.rss_mb is None else done.rss_mb,
        (fake.bytes_out() - sent) / 1024,
        done.planned,
        done.phases,
        done.done,
        done.phase_wall,
    )


# The phases of `run_cycle` timed in every measured cycle, by their names in
# `syncd.cycle` (a name that is gone is skipped), and the store's `save_cycle`.
# `plan` is timed inside `decide` (what changed and what is due) where there is one.
PHASES = ("settle_state", "recover", "check_server", "read", "decide", "plan", "queue", "drain")
WITHIN = {"plan": "decide"}
FULL_PLAN = "plan of every case"  # the profile of the local work alone


@dataclass
class Phases:
    cpu: dict[str, float] = field(default_factory=dict)  # thread CPU seconds, by phase
    wall: dict[str, float] = field(default_factory=dict)
    planned: int = 0  # cases in the plans `cycle.plan` returned


@contextmanager
def timed_phases(store: object) -> Iterator[Phases]:
    """Time each phase of a real cycle with the thread's CPU clock, without a profiler."""
    spent = Phases()
    with ExitStack() as patches:
        for name in PHASES:
            original = getattr(cycle, name, None)
            if callable(original):
                patches.enter_context(mock.patch.object(cycle, name, _timed(name, original, spent)))
        saving = getattr(store, "save_cycle", None)
        if callable(saving):
            patches.enter_context(
                mock.patch.object(store, "save_cycle", _timed("save_cycle", saving, spent))
            )
        yield spent


def _timed(name: str, function: Callable[..., T], spent: Phases) -> Callable[..., T]:
    def timed(*args: object, **kwargs: object) -> T:
        began, wall = time.thread_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent.cpu[name] = spent.cpu.get(name, 0.0) + time.thread_time() - began
            spent.wall[name] = spent.wall.get(name, 0.0) + time.perf_counter() - wall

    def counted(*args: object, **kwargs: object) -> T:
        result = timed(*args, **kwargs)
        spent.planned += len(getattr(result, "reports", ()))
        return result

    return counted if name == "plan" else timed


def naive(url: str, api_key: str) -> Work:
    """The N+1 poller: every id, then per third party itself, its tags, contacts, invoices."""
    session = requests.Session()
    session.headers["DOLAPIKEY"] = api_key
    base = f"{url}/api/index.php"
    ids: list[int] = []
    for page in range(1_000_000):
        params: dict[str, str | int] = {"properties": "id", "limit": PAGE_SIZE, "page": page}
        answer = session.get(f"{base}/thirdparties", params=params)
        if answer.status_code == 404:  # past the last page
            break
        answer.raise_for_status()
        ids += [int(row["id"]) for row in answer.json()]
        if len(answer.json()) < PAGE_SIZE:
            break
    for socid in ids:
        session.get(f"{base}/thirdparties/{socid}").raise_for_status()
        session.get(f"{base}/thirdparties/{socid}/categories").raise_for_status()
        for kind in ("contacts", "invoices"):
            session.get(f"{base}/{kind}", params={"thirdparty_ids": socid}).raise_for_status()
    session.close()
    return Work(planned=len(ids))


# Runs a command and writes its peak RSS (kB) and CPU seconds to a file. A child
# forked from the bench would report the bench's own peak as its ru_maxrss (Linux
# carries the high-water mark across fork and exec); forked from this small
# process, it reports its own.
_MEASURED = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(code)
"""
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_rss() -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); else keep the old one."""
    with suppress(OSError):
        _CLEAR_REFS.write_text("5")


def peak_rss_mb() -> float:
    """Peak resident memory since `reset_peak_rss`, or of the process's life where it cannot."""
    try:
        found = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        found = None
    if found:
        return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
