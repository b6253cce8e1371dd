"""Wiring and the poll loop: config → connectors → runtime → cycles.

Role: build the connectors a configuration names, hand them to the cycle, and
run cycles once or every `poll_interval`. A cycle that fails on a remote fault
is logged and the next one runs on time: the daemon never dies of a remote
fault. This and `cli.py` are the only places that read the real clock.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import schedule
from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.freescout import FreescoutClient, FreescoutSettings
from connectors.http import Breakers, RetryPolicy
from connectors.matrix import MatrixClient, MatrixSettings, txn_id_for
from connectors.mautic import MauticClient, MauticSettings
from syncd.config import Config, load_config, unknown_variables
from syncd.constants import environment_only, merge_sections
from syncd.cycle import CycleResult, Plan, Runtime, read_and_plan, run_cycle
from syncd.engine import RuleSet, load_rules
from syncd.errors import ConfigError, SyncdError, TransientError
from syncd.executor import Executor, Targets
from syncd.logs import mask_secrets, setup_logging
from syncd.messages import with_templates
from syncd.mirror import Mirror
from syncd.poll import Progress
from syncd.recipients import earlier_messages
from syncd.store import Store, read_messages, read_step_places
from syncd.systemd import Notifier

WAIT_SLICE = 1.0  # seconds: how often a long wait checks the stop flag and pings the watchdog
LONGEST_PAUSE = 900.0  # seconds: the most a failing Dolibarr waits between two cycles


def clock(config: Config) -> datetime:
    """The time now, or the pinned `[daemon] now` (tests and the demo)."""
    return config.daemon.now or datetime.now(UTC)


def dolibarr_client(config: Config, policy: RetryPolicy | None = None) -> DolibarrClient:
    d = config.dolibarr
    settings = DolibarrSettings(d.url, d.api_key, d.timezone, d.page_size, d.timeout)
    return DolibarrClient(settings, policy)


def build_executor(
    config: Config,
    dolibarr: DolibarrClient,
    category_ids: dict[str, int],
    policy: RetryPolicy | None = None,
) -> Executor:
    timeout = config.dolibarr.timeout
    m, f, x = config.mautic, config.freescout, config.matrix
    mautic = (
        MauticClient(
            MauticSettings(m.url, m.username, m.password, m.client_id, m.client_secret, timeout),
            policy,
        )
        if m
        else None
    )
    freescout = FreescoutClient(FreescoutSettings(f.url, f.api_key, timeout), policy) if f else None
    matrix = (
        MatrixClient(MatrixSettings(x.homeserver, x.access_token, timeout), policy) if x else None
    )
    rooms = {"sales": x.room_sales, "success": x.room_success} if x else {}
    targets = Targets(
        field_codes=config.fields,
        category_ids=category_ids,
        rooms=rooms,
        freescout_user_id=f.user_id if f else None,
        digest_after=x.digest_after if x else 0,
    )
    return Executor(
        dolibarr, targets, mautic=mautic, freescout=freescout, matrix=matrix, txn_id=txn_id_for
    )


def build_runtime(
    config: Config, ruleset: RuleSet, policy: RetryPolicy | None = None, *, once: bool = False
) -> Runtime:
    """`policy` lets the daemon make retry back-offs end early on SIGTERM. Every client
    shares one set of circuit breakers, which the cycle resets and reads. `once`: for
    `run --once`, which plans from the planner memory the last process stored."""
    breakers = Breakers()
    policy = dataclasses.replace(policy or RetryPolicy(), breakers=breakers)
    store = Store(config.daemon.state_db)
    mirror = store.load_mirror()
    dolibarr = dolibarr_client(config, policy)
    executor = build_executor(config, dolibarr, mirror.category_ids, policy)
    rules = [entry.rule for entry in ruleset.rules]
    rt = Runtime(store, dolibarr, executor, config, ruleset, mirror, rules, breakers=breakers)
    rt.resume_plan = once
    # A pinned clock stands still, so the time between reads is measured on it too.
    rt.monotonic = None if config.daemon.now else time.monotonic
    return rt


def run_once(
    rt: Runtime,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> CycleResult:
    return run_cycle(rt, clock(rt.config), should_stop, progress)


class Daemon:
    """`syncd run`: a cycle every poll_interval until SIGTERM, reloading on SIGHUP.

    Signal handlers only set flags; the loop acts on them between actions, so
    the action in flight always finishes and is recorded. Sleeping happens in
    short slices that check the flags and ping the systemd watchdog.
    """

    def __init__(
        self,
        config_path: str,
        loaded: tuple[Config, RuleSet],
        notifier: Notifier | None = None,
    ) -> None:
        """`loaded` is the config and rules already read from `config_path`."""
        self.config_path = config_path
        self.notifier = notifier or Notifier.from_env()
        self.stopping = False
        self.stop_event = threading.Event()
        self.reload_requested = False
        self.cycles = 0
        self.failures = 0  # cycles failed in a row
        self.paused_until = 0.0  # monotonic: after failed cycles, none before this
        # Retry back-offs wait on the stop event: SIGTERM never waits out a Retry-After.
        self.policy = RetryPolicy(sleep=self._backoff)
        self.rt = build_runtime(*loaded, self.policy)
        self.scheduler = schedule.Scheduler()
        self._last_ping = 0.0

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)

    def run(self) -> None:
        """The loop; returns once stopped (the caller exits 0)."""
        self._schedule()
        self.notifier.ready()
        logger.info("syncd started: polling every {}s", self.rt.config.daemon.poll_interval)
        self.cycle()
        while not self.stopping:
            if self.reload_requested:
                self.reload()
            self.scheduler.run_pending()
            self._idle(min(1.0, max(0.05, self.scheduler.idle_seconds or 1.0)))
        self.notifier.stopping()
        self.rt.store.close()
        logger.info("syncd stopped")

    def cycle(self) -> None:
        """One cycle; any failure is logged with its cause and the loop goes on.

        After a failed cycle (Dolibarr down, most often) the next ones wait longer
        each time, twice the poll interval, then four times, up to LONGEST_PAUSE:
        one line per try, not a burst every poll.
        """
        if time.monotonic() < self.paused_until:
            return
        self.cycles += 1
        try:
            # A long read of Dolibarr pings the watchdog with each hundred third parties.
            result = run_once(self.rt, self.should_stop, lambda _what, _n: self._ping())
        except Exception as exc:  # a remote fault must never end the daemon
            self.failures += 1
            pause = self._pause()
            self.paused_until = time.monotonic() + pause
            logger.opt(exception=not isinstance(exc, SyncdError)).error(
                "cycle {} failed: {}; next try in {:.0f} s", self.cycles, exc, pause
            )
            self.notifier.status(f"cycle {self.cycles} failed: {exc}"[:200])
            return
        if self.failures:
            logger.info("cycle {} ran again after {} failed", self.cycles, self.failures)
        self.failures, self.paused_until = 0, 0.0
        stats = result.stats
        why = stats.refusals() or stats.outages() or stats.failures()
        said = f"degraded ({why})" if stats.degraded else "ok"
        self.notifier.status(
            f"cycle {self.cycles} {said}: {stats.done} actions, {stats.held} held, "
            f"{stats.failed} failed"[:200]
        )

    def _pause(self) -> float:
        """The time to the next try after `failures` failed cycles in a row."""
        interval = float(self.rt.config.daemon.poll_interval)
        return max(interval, min(interval * 2.0 ** (self.failures - 1), LONGEST_PAUSE))

    def should_stop(self) -> bool:
        """Asked between actions: also the moment to tell the watchdog we are alive."""
        self._ping()
        return self.stopping

    def reload(self) -> None:
        """Re-read the config and rules; a broken new config is refused, the old stays."""
        self.reload_requested = False
        self.notifier.reloading()
        try:
            config, ruleset = load(self.config_path)
            self._check_same_state_db(config)
            rt = build_runtime(config, ruleset, self.policy)
        except SyncdError as exc:
            logger.error("reload refused, the previous configuration stays in force: {}", exc)
        else:
            self.rt.store.close()
            self.rt = rt
            self._schedule()
            logger.info("configuration reloaded from {}", self.config_path)
        self.notifier.ready()

    def _check_same_state_db(self, config: Config) -> None:
        """The state database (and its lock) cannot move under a running daemon."""
        old, new = self.rt.config.daemon.state_db, config.daemon.state_db
        if Path(old).resolve() != Path(new).resolve():
            raise SyncdError(f"state_db cannot change on reload ({old} → {new}): restart syncd")

    def _schedule(self) -> None:
        self.scheduler.clear()
        self.scheduler.every(self.rt.config.daemon.poll_interval).seconds.do(self.cycle)

    def _idle(self, seconds: float) -> None:
        self._ping()
        self.stop_event.wait(seconds)

    def _ping(self) -> None:
        interval = self.notifier.watchdog_interval()
        now = time.monotonic()
        if interval is not None and now - self._last_ping >= min(interval, 5.0):
            self.notifier.watchdog()
            self._last_ping = now

    def _backoff(self, seconds: float) -> None:
        """Every wait a retry asks for (a 429's Retry-After of up to 300 s, a back-off).

        In slices that keep pinging the watchdog (WatchdogSec is shorter than the
        longest wait), and cut short by SIGTERM: the call then ends as unsettled,
        without the attempts left, and the outbox asks before sending it again.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.stop_event.is_set():
            self._ping()
            self.stop_event.wait(min(left, WAIT_SLICE))
        if self.stop_event.is_set():
            raise TransientError("syncd", "wait", f"stopping: a {seconds:.0f} s wait was cut short")

    def _on_stop(self, signum: int, _frame: object) -> None:
        logger.info(
            "{} received: finishing the action in flight, then stopping",
            signal.Signals(signum).name,
        )
        self.stopping = True
        self.stop_event.set()

    def _on_reload(self, _signum: int, _frame: object) -> None:
        self.reload_requested = True


def load_masked(config_path: str, *, local: bool = False) -> Config:
    """The configuration, its secrets masked from now on wherever `mask` is used.

    `local`: for commands that use only the state database; credentials may be absent.
    """
    config = load_config(config_path, local=local)
    mask_secrets(config.secrets)
    return config


def load(config_path: str) -> tuple[Config, RuleSet]:
    """Config and rules, with logging set up from the config; unknown `SYNCD_*` are warned of."""
    config = load_masked(config_path)
    setup_logging(config.daemon.log_level, config.daemon.log_format, config.secrets)
    rules = load_rules(config.daemon.rules_dir)
    keys = {rule.name: [f.name for f in dataclasses.fields(rule.params)] for rule in rules}
    warnings = unknown_variables(config.environ, keys)
    company = config.company
    sections = with_templates(
        rules,
        environment_only(rules, config.rules, config.environ),
        company.templates_dir,
        company.name,
        config.systems,
        f"{config.path}: [company] name",
    )
    config = dataclasses.replace(config, rules=MappingProxyType(sections))
    ruleset = RuleSet.build(
        rules, config.rules, config.rules_source, config.systems, config.rule_origin
    )
    for warning in warnings:
        logger.warning(warning)
    return config, ruleset


def audit_plan(
    config: Config,
    ruleset: RuleSet,
    progress: Progress | None = None,
    reasons: Collection[int] | None = None,
) -> Plan:
    """Read Dolibarr with GET requests only into a fresh mirror and plan every case.

    Each case's step history, and the messages already sent, come from the state
    database, read-only, when there is one.
    """
    now = config.daemon.now or datetime.now(UTC)
    places = read_step_places(config.daemon.state_db)
    earlier = earlier_messages(read_messages(config.daemon.state_db) or [])
    reader = dolibarr_client(config)
    mirror = Mirror()
    return read_and_plan(reader, mirror, config, ruleset, now, progress, places, earlier, reasons)


# For a one-off question (`syncd check`): one attempt, the answer as it is.
SINGLE_ATTEMPT = RetryPolicy(attempts=1)


def mautic_client(config: Config, policy: RetryPolicy | None = None) -> MauticClient | None:
    m = config.mautic
    if m is None:
        return None
    settings = MauticSettings(
        m.url, m.username, m.password, m.client_id, m.client_secret, config.dolibarr.timeout
    )
    return MauticClient(settings, policy)


def freescout_client(config: Config, policy: RetryPolicy | None = None) -> FreescoutClient | None:
    f = config.freescout
    if f is None:
        return None
    settings = FreescoutSettings(f.url, f.api_key, config.dolibarr.timeout)
    return FreescoutClient(settings, policy)


def matrix_client(config: Config, policy: RetryPolicy | None = None) -> MatrixClient | None:
    x = config.matrix
    if x is None:
        return None
    settings = MatrixSettings(x.homeserver, x.access_token, config.dolibarr.timeout)
    return MatrixClient(settings, policy)


def rules_in_force(config: Config, ruleset: RuleSet) -> tuple[RuleSet, list[str], str | None]:
    """The rules with Dolibarr's `SYNCD_*` constants applied, as a cycle would apply them;
    the constants used; and why none were, when Dolibarr could not say or a value is bad."""
    rules = [entry.rule for entry in ruleset.rules]
    try:
        constants = dolibarr_client(config, RetryPolicy(attempts=2)).setup_constants()
    except SyncdError as exc:
        return ruleset, [], f"Dolibarr's SYNCD_* constants not read ({exc}); shown without them"
    sections, used = merge_sections(rules, config.rules, constants, config.environ)

    def source(name: str) -> str:
        return f"Dolibarr constants or {config.rules_source(name)}"

    try:
        return RuleSet.build(rules, sections, source, config.systems), used, None
    except ConfigError as exc:
        return ruleset, [], "Dolibarr SYNCD_* constants ignored: " + "; ".join(exc.problems)
