"""The chaos run: the real `syncd run` daemon, killed at random moments under random faults.

Role: serve the four fakes on 127.0.0.1, grow a world of cases over simulated days,
and for each run apply a seeded fault plan, start `syncd run`, let it work for a
random moment and kill it (SIGKILL mostly, sometimes SIGTERM). Then, with the
faults gone, run quiet `syncd run --once` cycles until nothing is left to do and
judge the fakes' records (`tests.chaos.invariants`). Everything random comes from
one seed, printed with every finding: a replay has the same world, fault plans and
kill plans, and kills at the same points as closely as the machine's timing allows.
`runs.txt` beside the logs says when each run was and which faults it met.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.fakes.base import FakeBase
from connectors.fakes.faults import FAULT_KINDS, FaultPlan
from tests.chaos.invariants import Verdict, integrity, judge
from tests.chaos.world import ChaosWorld
from tests.e2e.world import Served, rows, served

CLIENT_TIMEOUT = 0.5  # seconds: [dolibarr] timeout, used by every client
STALL = 1.2  # seconds a stalled connection stays silent: past the client's timeout
DAEMON_ENV = {
    "SYNCD_DAEMON_POLL_INTERVAL": "1",
    "SYNCD_DOLIBARR_TIMEOUT": str(CLIENT_TIMEOUT),
    "SYNCD_DAEMON_LOG_LEVEL": "INFO",
}
MAX_QUIET_CYCLES = 40
_CYCLE = re.compile(r"(\d+) new actions, (\d+) done")
_STATUS_DONE = re.compile(r"^outbox:.*\bdone (\d+)", re.MULTILINE)


@dataclass
class Tally:
    runs: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # struck, by kind
    state_losses: int = 0
    quiet_cycles: int = 0
    problems: list[str] = field(default_factory=list)  # odd exits, stuck processes


@dataclass
class Report:
    seed: int
    tally: Tally
    verdict: Verdict
    integrity: str
    status_done: int | None
    state_loss: bool
    elapsed: float

    @property
    def agrees(self) -> bool:
        """`syncd status`'s done count = keys on the Dolibarr timeline, less the held ones.

        Not checked after a state loss: the new database forgot what the old one did.
        """
        v = self.verdict
        recorded = v.recorded - v.held_on_timeline + v.unrecorded_done
        return self.state_loss or self.status_done == recorded

    @property
    def ok(self) -> bool:
        return self.verdict.ok and self.integrity == "ok" and self.agrees

    def findings(self) -> list[str]:
        lines = [f"duplicated: {d}" for d in self.verdict.duplicated]
        lines += [f"lost: {d}" for d in self.verdict.lost]
        if self.integrity != "ok":
            lines.append(f"state db integrity_check: {self.integrity}")
        if not self.agrees:
            lines.append(
                f"syncd status says {self.status_done} done; the Dolibarr timeline holds "
                f"{self.verdict.recorded} keys, {self.verdict.held_on_timeline} of them held"
            )
        return lines

    def notes(self) -> list[str]:
        """Worth a look, though neither a duplicate nor a loss."""
        v = self.verdict
        lines = [f"held, though it was done (the fakes show it): {k}" for k in v.held_done]
        return lines + v.mismatches + self.tally.problems


def run_chaos(
    folder: Path,
    runs: int,
    seed: int,
    *,
    state_loss: bool = False,
    hours_per_run: float = 4.0,
    max_faults: int = 4,
    say: Callable[[str], None] = lambda _line: None,
) -> Report:
    started = time.monotonic()
    rng = random.Random(seed)
    tally = Tally()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    with served(folder, stall=STALL) as w:
        world = ChaosWorld(w.dolibarr, random.Random(rng.randrange(2**32)))
        world.seed()
        world.arrive(3)
        for n in range(runs):
            if n:
                w.advance(hours=_gap(rng, hours_per_run))
            _grow(world, rng)
            plan = FaultPlan.random(rng.randrange(2**32), count=(1, max_faults))
            _one_run(w, plan, rng, folder / "logs" / f"run{n:04}.log", tally)
            lost = _lose_state(w, rng, tally) if state_loss and rng.random() < 0.05 else ""
            _journal(folder, f"run{n:04} at {w.now.isoformat()}: {plan.describe()}{lost}")
            if (n + 1) % 20 == 0:
                say(f"  {n + 1} runs, faults struck {sum(tally.faults.values())}")
        _clear_faults(w)
        _quiet(w, tally)
        verdict = judge(_db(w), w.dolibarr, w.mautic, w.freescout, w.matrix)
        status = w.syncd("status")
        done = _STATUS_DONE.search(status.stdout)
        return Report(
            seed,
            tally,
            verdict,
            integrity(_db(w)),
            int(done[1]) if done else None,
            state_loss,
            time.monotonic() - started,
        )


def _gap(rng: random.Random, hours_per_run: float) -> float:
    """Simulated hours between two runs; now and then the daemon stays down for days."""
    if rng.random() < 0.05:
        return rng.uniform(24, 72)
    return rng.uniform(0, 2 * hours_per_run)


def _grow(world: ChaosWorld, rng: random.Random) -> None:
    with world.dolibarr._lock:  # a killed daemon's last request may still be answered
        world.arrive(rng.choice((0, 0, 1, 1, 2)))
        world.live()


def _one_run(w: Served, plan: FaultPlan, rng: random.Random, log: Path, tally: Tally) -> None:
    fakes = _fakes(w)
    _clear_faults(w)
    plan.apply(fakes)
    proc = w.start("run", stderr=log, **DAEMON_ENV)
    _let_it_work(proc, log, rng)
    sig = signal.SIGKILL if rng.random() < 0.8 else signal.SIGTERM
    tally.runs += 1
    if proc.poll() is not None:
        tally.problems.append(f"{log.name}: syncd ended by itself (exit {proc.returncode})")
    else:
        _stop(proc, sig, log.name, tally)
    tally.faults.update(plan.struck())


def _stop(proc: subprocess.Popen[str], sig: signal.Signals, name: str, tally: Tally) -> None:
    proc.send_signal(sig)
    tally.kills[sig.name] += 1
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
        tally.problems.append(f"{name}: still running 20 s after {sig.name}")
    if sig is signal.SIGTERM and code != 0:
        tally.problems.append(f"{name}: exit {code} after SIGTERM")


def _let_it_work(proc: subprocess.Popen[str], log: Path, rng: random.Random) -> None:
    """Wait for the moment to kill: a random time, or just after the k-th action it logs.

    Most actions take milliseconds, so a purely timed kill rarely lands mid-drain; the
    second way aims at the drain. The seed fixes which way and k, not the exact instant.
    """
    if rng.random() < 0.4:
        time.sleep(rng.uniform(0.2, 1.6) if rng.random() < 0.85 else rng.uniform(1.6, 4.0))
        return
    # Draw everything first: how the wait ends must not change what the seed draws next.
    wanted, extra, idle = rng.randint(1, 8), rng.uniform(0.0, 0.03), rng.uniform(0.0, 0.5)
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline and proc.poll() is None:
        text = log.read_text(errors="replace")
        if text.count("action ") >= wanted:
            break
        if "cycle ok" in text:  # fewer actions than wanted: kill in the idle cycles after
            extra = idle
            break
        time.sleep(0.005)
    time.sleep(extra)


def _journal(folder: Path, line: str) -> None:
    """One line per run in runs.txt beside the logs: when it ran, under which faults."""
    with (folder / "runs.txt").open("a") as journal:
        journal.write(line + "\n")


def _lose_state(w: Served, rng: random.Random, tally: Tally) -> str:
    """The state database vanishes (deleted, or truncated to 0 bytes) between runs."""
    db = _db(w)
    truncate = rng.random() < 0.5
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            if truncate and path == db:
                path.write_bytes(b"")
            else:
                os.unlink(path)
    tally.state_losses += 1
    return "; then the state db was " + ("truncated" if truncate else "deleted")


def _quiet(w: Served, tally: Tally) -> None:
    """Fault-free `run --once` cycles, two hours apart, until nothing is left to do."""
    for _ in range(MAX_QUIET_CYCLES):
        w.advance(hours=2)
        done = w.syncd("run", "--once", **DAEMON_ENV)
        tally.quiet_cycles += 1
        if done.returncode != 0:
            tally.problems.append(f"quiet cycle exit {done.returncode}: {done.stderr[-300:]}")
        cycle = _CYCLE.search(done.stdout)
        waiting = rows(_db(w), "select count(*) from outbox where status in ('planned', 'sending')")
        if cycle and cycle[1] == cycle[2] == "0" and waiting == [(0,)]:
            return
    tally.problems.append(f"still work left after {MAX_QUIET_CYCLES} quiet cycles")


def _fakes(w: Served) -> dict[str, FakeBase]:
    return {
        "dolibarr": w.dolibarr,
        "mautic": w.mautic,
        "freescout": w.freescout,
        "matrix": w.matrix,
    }


def _clear_faults(w: Served) -> None:
    for fake in _fakes(w).values():
        fake.clear_faults()


def _db(w: Served) -> Path:
    return w.folder / "syncd-demo.db"


def table(report: Report) -> str:
    """The figures as Markdown: one summary row, then faults struck by kind."""
    t, v = report.tally, report.verdict
    actions = sum(v.counts.values())
    kills = f"{sum(t.kills.values())} ({t.kills['SIGKILL']} SIGKILL, {t.kills['SIGTERM']} SIGTERM)"
    lines = [
        "| seed | runs | kills | faults struck | actions | done | held | failed | cancelled "
        "| duplicated | lost |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {report.seed} | {t.runs} | {kills} | {sum(t.faults.values())} | {actions} "
        f"| {v.counts['done']} | {v.counts['held']} | {v.counts['failed']} "
        f"| {v.counts['cancelled']} "
        f"| {len(v.duplicated)} | {len(v.lost)} |",
        "",
        "| fault kind | struck |",
        "|---|---|",
        *(f"| {kind} | {t.faults[kind]} |" for kind in FAULT_KINDS),
        "",
        "| action kind | actions | done | held | failed | cancelled |",
        "|---|---|---|---|---|---|",
        *_kind_rows(v.by_kind),
    ]
    return "\n".join(lines)


def _kind_rows(by_kind: Counter[tuple[str, str]]) -> list[str]:
    lines = []
    for kind in sorted({kind for kind, _ in by_kind}):
        total = sum(n for (k, _), n in by_kind.items() if k == kind)
        name = kind or "(rebuilt from the timeline)"
        lines.append(
            f"| {name} | {total} | {by_kind[kind, 'done']} | {by_kind[kind, 'held']} "
            f"| {by_kind[kind, 'failed']} | {by_kind[kind, 'cancelled']} |"
        )
    return lines
