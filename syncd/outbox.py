"""Effectively-once delivery: claim, send, record, mark — and recover after a crash.

Every action is in the outbox (key unique forever) before anything is sent.
One action moves through these steps, each committed before the next:

1. claim: planned → sending (`claimed_at`), committed before any remote call;
2. send: the connector call; on success `sent_at` and the result are stored;
3. record: an agenda event carrying the key on the case's Dolibarr timeline;
4. mark: sending → done.

An action the executor reports `Skipped` (its Mautic contact opted out of
email) is not done: it becomes `skipped` with the reason, nothing recorded,
and its rule's next plan after `recheck_skipped` asks again, so the email
goes out if the person subscribes again while the rule still wants it.

A crash between any two steps leaves the row `sending`. `recover` runs before
every drain: with `sent_at` set it only records and marks; without it, the
remote side is asked (`Executor.reconcile`): proven done → recorded and done,
proven not done → planned again, unknown → held for a person. Nothing is ever
resent blindly. This module decides nothing about what to send.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loguru import logger

from syncd.errors import AuthError, OutcomeUnknown, PermanentError, RemoteError, TransientError
from syncd.executor import Executor, Outcome, Skipped
from syncd.store import OutboxRow, Status, Store
from syncd.timeline import catch_up


@dataclass(frozen=True)
class OutboxPolicy:
    max_attempts: int = 8
    first_backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=6)
    recheck_skipped: timedelta = timedelta(hours=1)  # a skipped action waits this long

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        if retry_after is not None:
            return timedelta(seconds=retry_after)
        return min(self.first_backoff * (1 << min(30, max(0, attempts - 1))), self.max_backoff)


@dataclass
class DrainStats:
    done: int = 0
    failed: int = 0
    held: int = 0
    retrying: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    # system → what it said, e.g. "matrix" → "401 credentials refused"
    refused: dict[str, str] = field(default_factory=dict)
    # system → why it is down this cycle, e.g. "mautic" → "Mautic at …: connection refused"
    down: dict[str, str] = field(default_factory=dict)
    waiting: int = 0  # actions left planned, untouched, because a system they need is down
    failed_by: Counter[str] = field(default_factory=Counter)  # system → actions failed

    def add(self, other: DrainStats) -> None:
        self.done += other.done
        self.failed += other.failed
        self.held += other.held
        self.retrying += other.retrying
        self.skipped += other.skipped
        self.problems += other.problems
        self.refused |= other.refused
        self.down |= other.down
        self.waiting += other.waiting
        self.failed_by += other.failed_by

    @property
    def degraded(self) -> bool:
        """Something needs a person, or waits on a system: not an `ok` cycle."""
        return bool(self.failed or self.held or self.refused or self.down)

    def failures(self) -> str:
        """Why actions failed: the refusals, else how many per system ("freescout: 2")."""
        if self.refused:
            return self.refusals()
        return "; ".join(f"{system}: {n}" for system, n in sorted(self.failed_by.items()))

    def outages(self) -> str:
        """`Mautic at https://…: connection refused`, one per system down, or ""."""
        return "; ".join(why for _system, why in sorted(self.down.items()))

    def refusals(self) -> str:
        """`mautic: 401 credentials refused; matrix: …`, or "" when none."""
        return "; ".join(f"{system}: {said}" for system, said in sorted(self.refused.items()))


def recover(store: Store, executor: Executor, now: datetime) -> DrainStats:
    """Settle every action a previous run left `sending`."""
    stats = DrainStats()
    for row in store.with_status(Status.SENDING):
        log = logger.bind(case=row.case_id, rule=row.rule, key=row.key)
        if row.sent_at is not None:
            # Sent: recording is retried every cycle until it lands; never held, never resent.
            _record_and_mark(store, executor, row, now, stats, look_first=True)
            continue
        try:
            _recover_one(store, executor, row, now, stats)
        except TransientError as exc:
            log.warning("action {} still unsettled ({}); next cycle tries again", row.key, exc)
        except AuthError as exc:
            _refused(store, row, now, stats, exc, row.claimed_at)
        except RemoteError as exc:
            store.move(row, Status.HELD, now, last_error=f"could not reconcile: {exc}")
            stats.held += 1
            log.error("action {} held: could not reconcile ({})", row.key, exc)
    return stats


def _recover_one(
    store: Store, executor: Executor, row: OutboxRow, now: datetime, stats: DrainStats
) -> None:
    log = logger.bind(case=row.case_id, rule=row.rule, key=row.key)
    outcome = executor.reconcile(row, now)
    if outcome is Outcome.DONE:
        log.info("action {} found done on the remote side", row.key)
        row = store.move(row, Status.SENDING, now, sent_at=now, result="found done remotely")
        _record_and_mark(store, executor, row, now, stats, look_first=True)
    elif outcome is Outcome.NOT_DONE:
        store.move(row, Status.PLANNED, now, next_attempt_at=now)
        log.info("action {} proven not done; it will be sent", row.key)
    else:
        reason = "outcome unknown after a stop; not resent (check, then retry or release)"
        store.move(row, Status.HELD, now, last_error=reason)
        stats.held += 1
        log.warning("action {} held: {}", row.key, reason)


def cancel_unwanted(store: Store, wanted: Callable[[OutboxRow], str | None], now: datetime) -> int:
    """Cancel every waiting action its case no longer wants; returns how many.

    An action waits for its retry, or was put back by recovery: it is sent
    only while the current cycle still plans it. `wanted` answers None for a
    wanted one, else the reason it is not (deleted, paused, past its window).
    """
    cancelled = 0
    for row in store.iter_status(Status.PLANNED):
        reason = wanted(row)
        if reason is None:
            continue
        store.move(row, Status.CANCELLED, now, last_error=reason)
        cancelled += 1
        logger.bind(case=row.case_id, rule=row.rule, key=row.key).info(
            "action {} cancelled: {}", row.key, reason
        )
    return cancelled


def drain(
    store: Store,
    executor: Executor,
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
    policy: OutboxPolicy | None = None,
    waiting: Container[int] = (),
    down: Mapping[str, str] | None = None,
) -> DrainStats:
    """Send every due action, one at a time, checking the stop flag between actions.

    Actions of the cases in `waiting` (whose data is in error this cycle) are
    neither sent nor dropped: they wait until the case can be read again, and
    are then sent only if it still wants them. `down` (kept up to date while
    the drain goes on) names the systems that are down: an action needing one
    is left as it is, planned and unclaimed, for the next cycle.
    """
    policy = policy or OutboxPolicy()
    stats = DrainStats()
    down = down if down is not None else {}
    _read_timeline_first(store, executor, now, waiting, stats)
    try:
        notices = [
            row
            for row in _due(store, now, waiting, "matrix.notify")
            if executor.digest_room(row) is not None
        ]
        digests, gathered = _gather(store, executor, notices, now, stats)
        for row in _due(store, now, waiting):
            if should_stop():
                break
            if row.key in gathered and row.key not in digests:
                continue
            if needs(row) & down.keys():
                stats.waiting += len(digests.get(row.key, [row]))
                continue
            if row.key in digests:
                send_digest(store, executor, digests[row.key], now, policy, stats)
            else:
                send_one(store, executor, row, now, policy, stats)
    finally:
        executor.timeline_read(())  # the next cycle's recovery asks the timeline itself
    return stats


def _due(
    store: Store, now: datetime, waiting: Container[int], kind: str | None = None
) -> Iterator[OutboxRow]:
    """The due actions (of one `kind`), in order, read as the drain reaches them
    (`Store.iter_due`)."""
    return (row for row in store.iter_due(now, kind) if row.case_id not in waiting)


def _read_timeline_first(
    store: Store, executor: Executor, now: datetime, waiting: Container[int], stats: DrainStats
) -> None:
    """Take in the timeline once for all the due actions that would look for their event.

    Where due actions would each look for their `[syncd]` event (an agenda
    event about to be created, an earlier attempt to settle, every action of
    a new database's first day), one read of the events beyond the database's
    mark serves the drain: what it shows done is marked done, so no longer
    due, and every other due action is known to have no event until it is
    attempted again (`Executor.timeline_read`). Should the read fail, each
    action asks for itself, as before.
    """
    if not any(executor.asks_timeline(row) for row in _due(store, now, waiting)):
        return
    due = [key for key, case_id in store.due_keys(now) if case_id not in waiting]
    try:
        found = catch_up(store, executor, now)
    except RemoteError as exc:
        logger.warning("timeline not read ahead ({}): each action asks for itself", exc)
        return
    left = [key for key in due if key not in found]
    stats.done += len(due) - len(left)  # found done: nothing to send
    executor.timeline_read(left)


def needs(row: OutboxRow) -> set[str]:
    """The systems an action needs: its own (`mautic.send_email`) and Dolibarr, which
    records it."""
    return {row.kind.split(".", 1)[0], "dolibarr"}


def _gather(
    store: Store, executor: Executor, due: Sequence[OutboxRow], now: datetime, stats: DrainStats
) -> tuple[dict[str, list[OutboxRow]], set[str]]:
    """The digests to send, by their first row's key, and every key they took care of.

    A notice an earlier attempt (or a lost run, on a database's first day) may have
    posted is asked about first; found done or held, it leaves the digest.
    """
    digests: dict[str, list[OutboxRow]] = {}
    gathered: set[str] = set()
    try:
        groups = executor.digests(due, now)
    except RemoteError as exc:  # the Matrix device cannot be told: each notice goes alone
        logger.warning("no digest this time: {}", exc)
        return digests, gathered
    for group in groups:
        kept = [
            row
            for row in group
            if row.claimed_at is None or _clear_to_resend(store, executor, row, now, stats)
        ]
        settled = {row.key for row in group} - {row.key for row in kept}
        if len(kept) > 1:
            digests[kept[0].key] = kept
            gathered |= {row.key for row in kept}
        gathered |= settled
    return digests, gathered


def send_digest(
    store: Store,
    executor: Executor,
    rows: Sequence[OutboxRow],
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
) -> None:
    """Several notices for one room as one Matrix notice, each still its own action.

    The same four steps as `send_one`, each committed for all the rows at once:
    1. claim them together, each row naming the digest it goes out in;
    2. send the digest (its own transaction id, listing every item's key);
    3.–4. store `sent_at` on all of them, then record and mark each.
    After a crash between 1 and 3, each row is looked for in the room's history
    (its key is among the digest's items); it is never resent as part of another
    digest, whose transaction id would differ (`Executor.digests`).
    """
    digest = executor.digest_key(rows)
    before = {row.key: row.claimed_at for row in rows}  # an earlier attempt that may have landed
    device = _device(store, executor, rows[0], now, stats)
    if device is False:
        return
    rows = store.move_all(  # 1.
        rows,
        Status.SENDING,
        now,
        lambda r: {
            "claimed_at": now,
            "attempts": r.attempts + 1,
            "device": device,
            "digest": digest,
        },
    )
    try:
        with logger.contextualize(key=digest):
            result = executor.send_digest(rows, digest)  # 2.
    except RemoteError as exc:
        _digest_not_sent(store, rows, before, now, policy, stats, exc)
        return
    rows = store.move_all(rows, Status.SENDING, now, lambda _r: {"sent_at": now, "result": result})
    for row in rows:
        _record_and_mark(store, executor, row, now, stats)  # 3., 4.
    logger.bind(key=digest).info("digest {} done: {}", digest, result)


def _digest_not_sent(
    store: Store,
    rows: Sequence[OutboxRow],
    before: Mapping[str, datetime | None],
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
    exc: RemoteError,
) -> None:
    """Each item as `send_one` would treat its own error. A 429 did not land (`before`:
    what an earlier attempt left); anything else transient may have."""
    for row in rows:
        if isinstance(exc, AuthError):
            _refused(store, row, now, stats, exc, before[row.key])
        elif isinstance(exc, PermanentError):
            _fail(store, row, now, stats, str(exc))
        else:
            wait = exc.retry_after if isinstance(exc, TransientError) else None
            landed = before[row.key] if exc.status == 429 else row.claimed_at
            _retry_later(store, row, now, policy, stats, str(exc), wait, landed)


def send_one(
    store: Store,
    executor: Executor,
    row: OutboxRow,
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
) -> None:
    log = logger.bind(case=row.case_id, rule=row.rule, key=row.key)
    landed_since = row.claimed_at  # set: an earlier attempt may have reached the remote
    if landed_since is not None and not _clear_to_resend(store, executor, row, now, stats):
        return
    device = _device(store, executor, row, now, stats)
    if device is False:
        return
    row = store.move(  # 1.
        row,
        Status.SENDING,
        now,
        claimed_at=landed_since or now,
        attempts=row.attempts + 1,
        device=device,
        digest=None,
    )
    try:
        # Connectors' own log lines (a Mautic lookup's) carry the action's case and key.
        with logger.contextualize(case=row.case_id, rule=row.rule, key=row.key):
            result = executor.execute(row, now)  # 2.
    except OutcomeUnknown as exc:
        log.warning("action {}: outcome unknown ({}); asking the remote side", row.key, exc)
        _settle_unknown(store, executor, row, now, policy, stats, str(exc))
        return
    except TransientError as exc:
        # Refused by a rate limiter before anything ran (429): this attempt did not land.
        landed = landed_since if exc.status == 429 else row.claimed_at
        _retry_later(store, row, now, policy, stats, str(exc), exc.retry_after, landed)
        return
    except AuthError as exc:
        _refused(store, row, now, stats, exc, landed_since)
        return
    except PermanentError as exc:
        _fail(store, row, now, stats, str(exc))
        return
    if isinstance(result, Skipped):
        _skip(store, row, now, policy, stats, result.reason, landed_since)
        return
    row = store.move(row, Status.SENDING, now, sent_at=now, result=result)
    _record_and_mark(store, executor, row, now, stats)
    log.info("action {} done: {}", row.key, result)


def _device(
    store: Store, executor: Executor, row: OutboxRow, now: datetime, stats: DrainStats
) -> str | bool | None:
    """The device to claim `row` with (a Matrix notice's), None for other kinds, or False
    when it cannot be known now: nothing is claimed, the action waits or fails."""
    try:
        return executor.device_for(row)
    except AuthError as exc:
        _refused(store, row, now, stats, exc, row.claimed_at)
    except RemoteError as exc:
        logger.bind(case=row.case_id, rule=row.rule, key=row.key).warning(
            "action {} waits: cannot tell the Matrix device ({})", row.key, exc
        )
    return False


def _skip(
    store: Store,
    row: OutboxRow,
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
    reason: str,
    landed_since: datetime | None,
) -> None:
    """Nothing was sent: `skipped`, asked about again from `recheck_skipped` on.

    Not an attempt that failed (the count goes back), and `claimed_at` keeps only
    what an earlier attempt left.
    """
    later = now + policy.recheck_skipped
    store.move(
        row,
        Status.SKIPPED,
        now,
        last_error=reason,
        next_attempt_at=later,
        claimed_at=landed_since,
        attempts=row.attempts - 1,
    )
    stats.skipped += 1
    logger.bind(case=row.case_id, rule=row.rule, key=row.key).info(
        "action {} skipped: {}; asked again from {} while its rule plans it",
        row.key,
        reason,
        later.isoformat(),
    )


def _clear_to_resend(
    store: Store, executor: Executor, row: OutboxRow, now: datetime, stats: DrainStats
) -> bool:
    """Whether an action an earlier attempt may have carried out can be sent again.

    Its answer was lost or unreadable, or a 5xx came back: the remote side is
    asked first (from `claimed_at`, that first attempt). A Matrix notice past
    the homeserver's transaction memory, for one, is held, not posted twice.
    """
    log = logger.bind(case=row.case_id, rule=row.rule, key=row.key)
    try:
        outcome = executor.reconcile(row, now)
    except TransientError as exc:
        log.warning("action {} waits: cannot ask whether it was done ({})", row.key, exc)
        return False
    except AuthError as exc:
        _refused(store, row, now, stats, exc, row.claimed_at)
        return False
    except RemoteError as exc:
        outcome, reason = Outcome.UNKNOWN, f"could not reconcile: {exc}"
    else:
        reason = "an earlier attempt may have been carried out; not resent (check, then release)"
    if outcome is Outcome.NOT_DONE:
        return True
    if outcome is Outcome.DONE:
        row = store.move(row, Status.SENDING, now, sent_at=now, result="found done remotely")
        _record_and_mark(store, executor, row, now, stats, look_first=True)
        log.info("action {} found done on the remote side", row.key)
        return False
    store.move(row, Status.HELD, now, last_error=reason)
    stats.held += 1
    stats.problems.append(f"{row.key}: held, outcome unknown")
    log.warning("action {} held: {}", row.key, reason)
    return False


def _record_and_mark(
    store: Store,
    executor: Executor,
    row: OutboxRow,
    now: datetime,
    stats: DrainStats,
    *,
    look_first: bool = False,
) -> None:
    """Steps 3 and 4 for an action known to be done (`sent_at` stored).

    `look_first`: an earlier attempt may have recorded it (its answer lost), so
    the timeline is asked before recording again.
    """
    try:
        if not (look_first and executor.is_recorded(row)):
            executor.record(row, now)  # 3.
    except RemoteError as exc:
        # Sent but not recorded: stays `sending` with sent_at; the next recover() records it.
        logger.bind(key=row.key).warning("action {} sent, not yet recorded: {}", row.key, exc)
        return
    store.move(row, Status.DONE, now)  # 4.
    stats.done += 1


def _settle_unknown(
    store: Store,
    executor: Executor,
    row: OutboxRow,
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
    error: str,
) -> None:
    try:
        outcome = executor.reconcile(row, now)
    except TransientError as exc:
        # The remote cannot be asked now: the row stays `sending`; recover() asks again.
        logger.bind(key=row.key).warning("action {} unsettled: {}", row.key, exc)
        return
    except AuthError as exc:
        _refused(store, row, now, stats, exc, row.claimed_at)
        return
    except RemoteError as exc:
        outcome = Outcome.UNKNOWN
        error = f"{error}; reconciliation failed: {exc}"
    if outcome is Outcome.DONE:
        row = store.move(row, Status.SENDING, now, sent_at=now, result="found done after: " + error)
        _record_and_mark(store, executor, row, now, stats, look_first=True)
    elif outcome is Outcome.NOT_DONE:
        _retry_later(store, row, now, policy, stats, error, None, row.claimed_at)
    else:
        store.move(row, Status.HELD, now, last_error=f"outcome unknown: {error}")
        stats.held += 1
        stats.problems.append(f"{row.key}: held, outcome unknown")


def _fail(store: Store, row: OutboxRow, now: datetime, stats: DrainStats, error: str) -> None:
    store.move(row, Status.FAILED, now, last_error=error)
    stats.failed += 1
    stats.failed_by[row.kind.split(".", 1)[0]] += 1
    stats.problems.append(f"{row.key}: {error}")
    logger.bind(case=row.case_id, rule=row.rule, key=row.key).error(
        "action {} failed: {}", row.key, error
    )


def _refused(
    store: Store,
    row: OutboxRow,
    now: datetime,
    stats: DrainStats,
    exc: AuthError,
    landed_since: datetime | None,
) -> None:
    """A system refused syncd's credentials: a configuration error, not worth retrying.

    The action fails at once (no back-off for hours against a wrong password) and is
    planned again when syncd starts or reloads with, presumably, mended credentials.
    `claimed_at` keeps an earlier attempt that may have landed, so it is asked about
    then (`landed_since`); this attempt itself was refused before anything ran.
    """
    store.move(
        row, Status.FAILED, now, last_error=str(exc), refused=exc.system, claimed_at=landed_since
    )
    stats.failed += 1
    stats.refused[exc.system] = f"{exc.status or ''} credentials refused".strip()
    stats.problems.append(f"{row.key}: {exc}")
    logger.bind(case=row.case_id, rule=row.rule, key=row.key).error(
        "action {} failed: {} refused syncd's credentials ({}); planned again once syncd "
        "restarts or reloads",
        row.key,
        exc.system,
        exc,
    )


def _retry_later(
    store: Store,
    row: OutboxRow,
    now: datetime,
    policy: OutboxPolicy,
    stats: DrainStats,
    error: str,
    retry_after: float | None,
    landed_since: datetime | None = None,
) -> None:
    """Back to `planned`; `landed_since` keeps when an attempt that may have landed began."""
    log = logger.bind(case=row.case_id, rule=row.rule, key=row.key)
    if row.attempts >= policy.max_attempts:
        store.move(row, Status.FAILED, now, last_error=f"gave up after {row.attempts}: {error}")
        stats.failed += 1
        stats.failed_by[row.kind.split(".", 1)[0]] += 1
        stats.problems.append(f"{row.key}: failed after {row.attempts} attempts: {error}")
        log.error("action {} failed after {} attempts: {}", row.key, row.attempts, error)
        return
    later = now + policy.backoff(row.attempts, retry_after)
    store.move(
        row,
        Status.PLANNED,
        now,
        last_error=error,
        next_attempt_at=later,
        claimed_at=landed_since,
    )
    stats.retrying += 1
    log.warning("action {} will be retried at {}: {}", row.key, later.isoformat(), error)
