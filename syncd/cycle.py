"""One cycle of syncd, phase by phase: read, build, infer, evaluate.

I/O stays at the edges (the reader); the middle is pure. `now` is a parameter:
nothing below this module reads the clock. A case with bad data becomes an
error in its report and the cycle goes on with the others.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loguru import logger

from syncd import planmemory, steps
from syncd.casebuild import build_cases, related_rows
from syncd.config import Config
from syncd.constants import merge_sections
from syncd.engine import RuleSet, error_report, evaluate
from syncd.errors import AuthError, CaseDataError, ConfigError, RemoteError, shown_text
from syncd.executor import Executor
from syncd.fields import referred_by
from syncd.mirror import Mirror
from syncd.model import Action, Case, CaseReport, Rule, Track, join_steps, step_in
from syncd.outbox import (
    DrainStats,
    cancel_unwanted,
    drain,
    recover,
)
from syncd.planner import Planner
from syncd.poll import PollResult, PollSettings, Progress, Reader, poll
from syncd.recipients import Identity, earlier_messages, one_email_each, recipients
from syncd.store import OutboxRow, StepPlace, Store
from syncd.timeline import recovery_lookback, sync_timeline


@dataclass(frozen=True)
class Plan:
    """A cycle's reports: of every case, or of the cases in `scope` (the daemon plans
    what changed and what is due; `syncd.planner`)."""

    generated_at: datetime
    reports: list[CaseReport]
    scope: frozenset[int] | None = None
    partners: Mapping[int, int | None] = field(default_factory=dict)  # the partner each names


Earlier = Mapping[Identity, int] | Callable[[Collection[str]], Mapping[Identity, int]]


def poll_settings(config: Config) -> PollSettings:
    return PollSettings(
        tag_labels=dict(config.tags),
        overlap=timedelta(seconds=config.dolibarr.overlap_seconds),
        sweep_every=config.dolibarr.sweep_every,
    )


def read_and_plan(
    reader: Reader,
    mirror: Mirror,
    config: Config,
    ruleset: RuleSet,
    now: datetime,
    progress: Progress | None = None,
    places: Mapping[int, StepPlace] | None = None,
    earlier: Mapping[Identity, int] | None = None,
    reasons: Collection[int] | None = None,
) -> Plan:
    """Poll Dolibarr into the mirror, then plan every case from it."""
    poll(reader, mirror, poll_settings(config), now, progress)
    return plan(mirror, config, ruleset, now, places, earlier, reasons=reasons)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while planning (`plan`), then as it was.

    Planning makes no reference cycles, but it keeps much of what it allocates
    (a slice's cases, every report) until it ends, and the collector, run every
    700 new objects, scanned those and the whole heap again and again: ~13 % of
    planning's CPU at 10,000 cases (`make bench`). Reference counting frees the
    rest as before; a cycle made meanwhile (an error kept with its traceback)
    waits for the first collection after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@collector_paused()
def plan(
    mirror: Mirror,
    config: Config,
    ruleset: RuleSet,
    now: datetime,
    places: Mapping[int, StepPlace] | None = None,
    earlier: Earlier | None = None,
    only: Collection[int] | None = None,
    customers_of: Mapping[int, Collection[int]] | None = None,
    reasons: Collection[int] | None = None,
) -> Plan:
    """Every case's report, or those of the cases `only`. `places` is each case's step
    as last recorded (step history); `earlier` the messages already sent or waiting,
    by recipient (or a function giving them for some addresses), so that one person
    never gets the same message for two cases. `reasons`: the cases whose skip reasons
    are kept (None: all); the others keep the names of the rules skipped, which is what
    a cycle and the default audit need, in a fraction of the memory."""
    zone = ZoneInfo(config.dolibarr.timezone)
    local_now = now.astimezone(zone)
    unit = config.dolibarr.commission_rate_unit
    settings = steps.StepSettings.from_params(ruleset.params_of(steps.SETTINGS_RULE))
    known = places or {}
    grouped = None
    if only is None:  # every case, a slice at a time: their cases are not all held at once
        customers_of = referral_index(mirror, config.fields)
        grouped = related_rows(mirror)  # one pass over the rows, not one per slice
        ids = sorted(mirror.thirdparties)
        slices = [ids[start : start + PLAN_SLICE] for start in range(0, len(ids), PLAN_SLICE)]
    else:  # one slice: a changed customer is read with the partner it names now
        slices = [sorted(only)]
    reports: list[CaseReport] = []
    partners: dict[int, int | None] = {}
    for chunk in slices:
        built = build_cases(mirror, config.fields, zone, unit, chunk, customers_of, grouped)
        for case in built.cases:
            place, explain = known.get(case.id), reasons is None or case.id in reasons
            reports.append(_report(case, local_now, ruleset, config.tags, settings, place, explain))
        for row, exc in built.errors:
            reports.append(
                error_report(row.id, shown_text(row.ref), shown_text(row.name), str(exc))
            )
        partners.update({case.id: case.fields.referred_by for case in built.cases})
    if callable(earlier):
        earlier = earlier(recipients(reports))
    reports = one_email_each(reports, earlier or {})
    scope = None if only is None else frozenset(r.case_id for r in reports)
    return Plan(now, reports, scope, partners)


PLAN_SLICE = 2000  # cases built at once when planning every case


def referral_index(mirror: Mirror, codes: Mapping[str, str]) -> dict[int, set[int]]:
    """partner → the customers whose `referred_by` names it, read from the raw fields."""
    index: dict[int, set[int]] = {}
    for socid, row in mirror.thirdparties.items():
        partner = referred_by(socid, row.array_options, codes)
        if partner is not None:
            index.setdefault(partner, set()).add(socid)
    return index


def _report(
    case: Case,
    now: datetime,
    ruleset: RuleSet,
    labels: Mapping[str, str],
    settings: steps.StepSettings,
    place: StepPlace | None,
    explain: bool = True,
) -> CaseReport:
    try:
        tracks = steps.infer_tracks(case, now, labels, settings)
    except CaseDataError as exc:
        return error_report(case.id, case.ref, case.name, str(exc))
    return evaluate(placed(case, tracks, place, now), now, ruleset, explain)


def placed(case: Case, tracks: Sequence[Track], place: StepPlace | None, now: datetime) -> Case:
    """The case in its inferred `tracks` (`steps.in_tracks`), with when it entered its
    step (UTC): from the history, or now for a move. The case is built once.

    A case syncd meets for the first time, or has only its first record of,
    has no known entry time: years-old records must not look as if they had
    just arrived. In two processes, each process's step has its own entry
    time, read from that process's part of the recorded steps, so a trial
    whose customer step moves on stays as long in partner qualification.
    """
    if place is None:
        return steps.in_tracks(case, tracks)
    tracks = [_placed_track(track, place, now) for track in tracks]
    if len(tracks) == 1:
        return steps.in_tracks(case, tracks)
    joined = join_steps([track.step for track in tracks])  # `none` in no process
    return steps.in_tracks(case, tracks, _entry(place, joined, lambda step: step, now))


def _placed_track(track: Track, place: StepPlace, now: datetime) -> Track:
    since, entered = _entry(place, track.step, partial(step_in, process=track.process), now)
    if (since, entered) == (track.step_since, track.entered_step):
        return track  # met in this step: when it got there is not known (most old records)
    return replace(track, step_since=since, entered_step=entered)


def _entry(
    place: StepPlace, step: str, part: Callable[[str], str], now: datetime
) -> tuple[datetime | None, bool]:
    """When `step` was entered and whether that is now; `part` reads it in each record."""
    history = place.history
    if part(history[-1][0]) != step:
        return now.astimezone(UTC), True
    start = len(history) - 1
    while start > 0 and part(history[start - 1][0]) == step:
        start -= 1
    return (history[start][1] if start > 0 else None), False


class Outages(Protocol):
    """Which systems are down this cycle (the connectors' circuit breakers)."""

    @property
    def down(self) -> dict[str, str]: ...

    def reset(self) -> None: ...


@dataclass
class NoOutages:
    """No system down, ever: a runtime without circuit breakers."""

    down: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        self.down.clear()


@dataclass
class Runtime:
    """What a cycle works with; built once by the CLI or the daemon."""

    store: Store
    reader: Reader
    executor: Executor
    config: Config
    ruleset: RuleSet
    mirror: Mirror
    rules: list[Rule[Any]] = field(default_factory=list)
    case_errors: dict[int, str] = field(default_factory=dict)  # last logged, per case
    case_refs: dict[int, str] = field(default_factory=dict)  # the ref of each case in error
    case_warnings: dict[int, str] = field(default_factory=dict)  # last logged, per case
    constants: dict[str, str] | None = None  # last SYNCD_* constants read from Dolibarr
    planner: Planner = field(default_factory=Planner)  # what the last plans covered
    resume_plan: bool = False  # start from the planner memory the last process stored (--once)
    all_reasons: bool = False  # keep every skip reason in a cycle's plan, not only the needed
    # Measures the time between reads for the poll's bookmarks (poll.Bookmarks);
    # None: the cycle's `now` does (a pinned clock, tests).
    monotonic: Callable[[], float] | None = None
    started: bool = False  # its first cycle ran (the start-up checks are done)
    # The systems down this cycle; shared with the connectors (`RetryPolicy.breakers`).
    breakers: Outages = field(default_factory=NoOutages)


def refresh_constants(rt: Runtime, environ: Mapping[str, str]) -> None:
    """Re-read the `SYNCD_*` setup constants and rebuild the rules' parameters from them.

    Read at start and with each id sweep, not every cycle, so an idle cycle stays
    at its handful of requests. A bad value is logged, naming the constant, and
    the parameters in force stay.
    """
    constants = rt.reader.setup_constants()
    if constants == rt.constants:
        return
    sections, used = merge_sections(rt.rules, rt.config.rules, constants, environ)

    def source(name: str) -> str:
        return f"Dolibarr constants or {rt.config.rules_source(name)}"

    try:
        rt.ruleset = RuleSet.build(rt.rules, sections, source, rt.config.systems)
    except ConfigError as exc:
        logger.error("Dolibarr SYNCD_* constants ignored: {}", "; ".join(exc.problems))
    else:
        if used:
            logger.info("rule parameters from Dolibarr constants: {}", ", ".join(used))
    rt.constants = constants


@dataclass(frozen=True)
class CycleResult:
    plan: Plan
    enqueued: int
    stats: DrainStats
    cases: int = 0  # every case the mirror holds (the plan may cover only some)


def run_cycle(
    rt: Runtime,
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> CycleResult:
    """One cycle, phase by phase; a RemoteError while reading is recorded and re-raised."""
    stats = DrainStats()
    rt.breakers.reset()  # a system down last cycle is asked again
    try:
        if not rt.started:
            start(rt, now, stats)  # credentials maybe mended, room aliases, the Matrix device
        settle_state(rt, now)  # the database is the one we had and knows what was done
        stats.add(recover(rt.store, rt.executor, now))  # settle what a stop left in flight
        if rt.constants is None or sweep_due(rt):  # at start, then with each id sweep
            check_server(rt, now)  # its clock, and the parameters people set there
        polled = read(rt, now, progress)  # Dolibarr into the mirror (I/O)
    except Exception as exc:
        down = "; ".join(why for _system, why in sorted(rt.breakers.down.items()))
        rt.store.record_failed_cycle(now, now, str(exc), down or None)
        raise
    result = decide(rt, now, polled)  # what changed, and what is due
    log_case_errors(rt, result)
    enqueued = queue(rt, result, now)  # new actions in, dropped ones cancelled
    if not should_stop():
        waiting = set(rt.case_errors)
        stats.add(drain(rt.store, rt.executor, now, should_stop, None, waiting, rt.breakers.down))
    stats.down |= rt.breakers.down  # also what recovery or recording found down
    rt.store.save_cycle(
        rt.mirror, steps_of(result), now, now, cycle_stats(rt, stats), bad_cases(rt)
    )
    line = cycle_line(len(rt.mirror.thirdparties), enqueued, stats)
    (logger.error if stats.degraded else logger.info)(line)
    return CycleResult(result, enqueued, stats, len(rt.mirror.thirdparties))


def cycle_line(cases: int, enqueued: int, stats: DrainStats) -> str:
    """`cycle ok: …` when nothing failed, was held or waits on a system that is down;
    else `cycle degraded: … 4 failed (mautic: 401 credentials refused) …`."""
    failed = f"{stats.failed} failed"
    if stats.failed or stats.refused:
        failed += f" ({stats.failures()})"
    head = "cycle degraded" if stats.degraded else "cycle ok"
    line = (
        f"{head}: {cases} cases, {enqueued} new actions, {stats.done} done, {failed}, "
        f"{stats.held} held, {stats.retrying} to retry"
        + (f", {stats.skipped} skipped" if stats.skipped else "")
    )
    if stats.down:
        line += f", {stats.waiting} waiting (down: {stats.outages()})"
    return line


def start(rt: Runtime, now: datetime, stats: DrainStats) -> None:
    """Once per runtime (a start or a reload): what a new configuration may have changed.

    The planner memory the last process stored is taken (`run --once` plans from
    it) or dropped; actions failed on refused credentials are planned again (a
    person mended them, then restarted or reloaded); the executor resolves room
    aliases and learns which Matrix device its token is.
    """
    resume_plan(rt)
    replanned = rt.store.replan_refused(now)
    if replanned:
        logger.info("{} action(s) failed on refused credentials are planned again", replanned)
        rt.planner.forget()  # other cases' messages to the same people may be wanted no more
    rt.started = True
    try:
        rt.executor.prepare()
    except AuthError as exc:
        logger.error("{} refused syncd's credentials at start: {}", exc.system, exc)
        stats.refused[exc.system] = f"{exc.status or ''} credentials refused".strip()
    except RemoteError as exc:
        logger.warning("{} not ready at start (asked again when needed): {}", exc.system, exc)


def resume_plan(rt: Runtime) -> None:
    """`run --once`: plan from the memory the last process stored, and the cases it left in
    error (their actions wait); the daemon plans every case in its first cycle."""
    if not rt.resume_plan:
        planmemory.drop(rt.store)
        return
    stored = planmemory.take(rt.store, rt.mirror)
    if stored is None:
        return
    rt.planner = stored
    for case_id, ref, error in rt.store.case_errors():
        rt.case_errors[case_id] = error
        rt.case_refs[case_id] = ref


CLOCK_TOLERANCE = timedelta(minutes=1)


def read(rt: Runtime, now: datetime, progress: Progress | None) -> PollResult:
    return poll(rt.reader, rt.mirror, poll_settings(rt.config), now, progress, rt.monotonic)


def decide(rt: Runtime, now: datetime, polled: PollResult) -> Plan:
    """Plan the cases that changed, are linked to a change or are due (`syncd.planner`);
    every case when that is not known."""
    today = now.astimezone(ZoneInfo(rt.config.dolibarr.timezone)).date()
    basis = planmemory.basis(rt.config, rt.ruleset, rt.mirror.company_currency)
    due = rt.store.rechecks_due(rt.planner.last, now) if rt.planner.last else set()
    scope = rt.planner.scope(
        today, basis, polled.changed, polled.deleted, due, partner_named(rt)
    )

    def earlier(addresses: Collection[str]) -> Mapping[Identity, int]:
        return earlier_messages(rt.store.messages(addresses))

    places = rt.store.step_places(scope)
    customers = rt.planner.customers_of
    # A skip reason is kept where an action waits: it is the reason a cancel gives.
    waiting = None if rt.all_reasons else rt.store.cases_waiting()
    result = plan(
        rt.mirror, rt.config, rt.ruleset, now, places, earlier, scope, customers, waiting
    )
    rt.planner.remember(now, today, basis, result.reports, result.partners, polled.deleted, scope)
    logger.debug(
        "planned {} of {} cases: {}",
        len(result.reports),
        len(rt.mirror.thirdparties),
        "every case" if scope is None else "what changed and what is due",
    )
    return result


def partner_named(rt: Runtime) -> Callable[[int], int | None]:
    """The partner a case's `referred_by` names now; None when none, or unreadable."""

    def named(socid: int) -> int | None:
        row = rt.mirror.thirdparties.get(socid)
        if row is None:
            return None
        return referred_by(socid, row.array_options, rt.config.fields)

    return named


def check_server(rt: Runtime, now: datetime) -> None:
    """At start and with each id sweep: Dolibarr's clock, then its SYNCD_* constants."""
    check_clock(rt.reader, now)
    if rt.rules:
        refresh_constants(rt, rt.config.environ or os.environ)


def queue(rt: Runtime, result: Plan, now: datetime) -> int:
    """Enqueue the plan (asking first after a lost database) and cancel what it dropped."""
    lookback = recovery_lookback(rt.store, now)
    with planmemory.kept(rt.store, rt.planner, rt.mirror):  # one transaction
        enqueued = rt.store.enqueue(planned_actions(result), now, lookback, steps_of(result))
    cancel_unwanted(rt.store, still_wanted(result, rt.mirror.thirdparties), now)
    return enqueued


def check_clock(reader: Reader, now: datetime) -> timedelta | None:
    """Dolibarr's clock less syncd's, logged as a warning past a minute either way.

    Modification times and date filters are the server's; a clock that is not
    ours shifts every timer and cursor by the difference.
    """
    theirs = reader.server_clock()
    if theirs is None:
        return None
    offset = theirs - now
    if abs(offset) > CLOCK_TOLERANCE:
        way = "ahead of" if offset > timedelta(0) else "behind"
        logger.warning(
            "Dolibarr's clock is {:.0f} s {} syncd's: check NTP on both hosts",
            abs(offset.total_seconds()),
            way,
        )
    return offset


def settle_state(rt: Runtime, now: datetime) -> None:
    """Before acting: the state file is still ours, and has taken in Dolibarr's timeline.

    A new, emptied, restored or replaced database would otherwise resend every
    action it does not know; the `[syncd] KEY` events on the timeline say which
    were done.
    """
    changed = rt.store.check_file()
    if changed:
        logger.error(changed)
        forget_plan(rt)  # another file: its step history and actions are not what was planned
    if not rt.store.needs_timeline_sync:
        return
    first = rt.store.timeline_mark() == 0
    history = planmemory.history_size(rt.store) if first else 0
    marked = sync_timeline(rt.store, rt.executor, now)
    if marked or (first and planmemory.history_size(rt.store) != history):
        rt.planner.forget()  # done actions or step history changed: plan everything
    if marked:
        logger.warning(
            "state database {} did not know {} action(s) Dolibarr's timeline shows done: "
            "marked done, not resent",
            rt.store.path,
            marked,
        )
    elif first:
        logger.info("state database {}: nothing to take in from the timeline", rt.store.path)


def rebuild_state(rt: Runtime, now: datetime) -> int:
    """`syncd rebuild-state`: take in every `[syncd]` event of the timeline, from the first."""
    forget_plan(rt)
    return sync_timeline(rt.store, rt.executor, now, full=True)


def forget_plan(rt: Runtime) -> None:
    """Plan every case next, and believe no stored memory until then."""
    planmemory.drop(rt.store)
    rt.planner.forget()


def log_case_errors(rt: Runtime, result: Plan) -> None:
    """Log a case's bad data when it appears or changes, not every cycle; and when fixed.

    The cases this plan did not cover keep what was known of them.
    """
    known = set(rt.case_errors) | set(rt.case_warnings)
    covered = known if result.scope is None else set(result.scope)
    covered |= {case_id for case_id in known if case_id not in rt.mirror.thirdparties}
    now_errors = {r.case_id: "; ".join(r.errors) for r in result.reports if r.errors}
    for case_id, error in now_errors.items():
        if rt.case_errors.get(case_id) != error:
            logger.bind(case=case_id).error("case {} skipped: {}", case_id, error)
    for case_id in (covered & rt.case_errors.keys()) - now_errors.keys():
        if case_id in rt.mirror.thirdparties:
            logger.bind(case=case_id).info("case {} is readable again", case_id)
        rt.case_errors.pop(case_id, None)
        rt.case_refs.pop(case_id, None)
    rt.case_errors.update(now_errors)
    rt.case_refs.update({r.case_id: r.ref for r in result.reports if r.errors})
    warnings = {r.case_id: "; ".join(r.warnings) for r in result.reports if r.warnings}
    for case_id, warning in warnings.items():
        if rt.case_warnings.get(case_id) != warning:
            logger.bind(case=case_id).warning("case {}: {}", case_id, warning)
    for case_id in (covered & rt.case_warnings.keys()) - warnings.keys():
        rt.case_warnings.pop(case_id, None)
    rt.case_warnings.update(warnings)


def sweep_due(rt: Runtime) -> bool:
    return rt.mirror.polls % rt.config.dolibarr.sweep_every == 0


def still_wanted(result: Plan, alive: Collection[int]) -> Callable[[OutboxRow], str | None]:
    """Why a waiting action is no longer wanted, from this cycle's plan; None while it is.

    A case the plan did not cover (nothing of it changed) still wants what it wanted.
    """
    planned = {action.key for report in result.reports for action in report.actions}
    reports = {report.case_id: report for report in result.reports}

    def why_not(row: OutboxRow) -> str | None:
        if row.key in planned:
            return None
        if result.scope is not None and row.case_id not in result.scope and row.case_id in alive:
            return None
        report = reports.get(row.case_id)
        if report is None:
            return f"case {row.case_id} is no longer in Dolibarr"
        if report.errors:
            return None  # its data cannot be read now: the action waits, it is not dropped
        reason = dict(report.skipped).get(row.rule) or f"the case is in step {report.step} now"
        return f"no longer planned: {reason}"

    return why_not


def planned_actions(result: Plan) -> Iterator[tuple[int, Action]]:
    for report in result.reports:
        for action in report.actions:
            yield report.case_id, action


def bad_cases(rt: Runtime) -> list[tuple[int, str, str]]:
    """(id, ref, error) of every case whose data is in error now."""
    return [(i, rt.case_refs.get(i, ""), error) for i, error in sorted(rt.case_errors.items())]


def steps_of(result: Plan) -> list[tuple[int, str]]:
    return [(r.case_id, r.step) for r in result.reports if not r.errors]


def cycle_stats(rt: Runtime, stats: DrainStats) -> dict[str, int | str | None]:
    return {
        "ok": 1,
        "cases": len(rt.mirror.thirdparties),
        "planned": rt.planner.planned_count(),
        "done": stats.done,
        "failed": stats.failed,
        "held": stats.held,
        "refused": stats.refusals() or None,
        "down": stats.outages() or None,
        "waiting": stats.waiting,
    }
