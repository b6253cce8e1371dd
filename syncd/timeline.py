"""What Dolibarr's timeline tells a state database that is not the one syncd had.

Each action carried out leaves a `[syncd] KEY` agenda event on its case (the
step write-back included; a field set or a tag added needs none). A database
that is new, emptied, restored from an old backup or replaced takes these in
before syncd acts, so it resends nothing done; its step history is rebuilt
from the step write-backs; and for a day it asks the remote side about every
new action before sending, in case a lost run sent it and failed to record it.
Each drain that would look for actions' events reads the events beyond the
database's mark once for all of them (`catch_up`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from loguru import logger

from syncd.executor import Executor, Recorded
from syncd.model import step_of_key
from syncd.store import Store

RECOVERY_WINDOW = timedelta(days=1)  # actions planned this soon after a recovery are asked about
RECOVERY_LOOKBACK = timedelta(days=30)  # how far back a lost run's sends are looked for


def sync_timeline(store: Store, executor: Executor, now: datetime, *, full: bool = False) -> int:
    """Mark done every action the Dolibarr timeline shows done and the database does not.

    Read from the last event seen on (all of it for a new, lost or replaced
    database): what keeps a state database that is new, restored from an old
    backup or deleted from resending what was already sent. Returns how many
    actions it marked done.
    """
    after = 0 if full else store.timeline_mark()
    found = list(executor.recorded_keys(after_id=after))
    if after == 0 and (full or store.recovered_at() is None):
        # New or rebuilt: what a lost run sent but never recorded is asked about (below).
        # A database that took the timeline in and has recorded nothing since (its mark
        # still 0) is not new again at its next start.
        store.set_recovered_at(now)
        rebuild_step_history(store, found)
    if not found:
        store.set_timeline_mark(after)
    return _take_in(store, found, now)


def catch_up(store: Store, executor: Executor, now: datetime) -> set[str]:
    """Take in the `[syncd]` events beyond the database's mark; the keys they carry.

    Every key up to the mark is known done, so what this reads is mostly
    syncd's own writes since the last read: a page or so. Unlike
    `sync_timeline`, not a new database's take-in (no step history, no
    recovery window).
    """
    found = list(executor.recorded_keys(after_id=store.timeline_mark()))
    marked = _take_in(store, found, now)
    if marked:
        logger.info("{} action(s) Dolibarr's timeline shows done: marked done", marked)
    return {r.key for r in found}


def _take_in(store: Store, found: Sequence[Recorded], now: datetime) -> int:
    """Mark done what the events found show, and move the mark past them."""
    if not found:
        return 0
    marked = store.mark_done_from_remote([r.key for r in found], now)
    store.set_timeline_mark(max(r.event_id for r in found))
    return marked


def rebuild_step_history(store: Store, found: Sequence[Recorded]) -> int:
    """Step history from the `[syncd] step_writeback:…` events, for cases that have none.

    Each such event says a case was in a step at the event's time; the first
    one of a case is where syncd first met it, as in a history it kept itself.
    """
    seen = []
    for record in found:
        place = step_of_key(record.key)
        if place is not None and record.at is not None:
            seen.append((place[0], place[1], record.at))
    entries: list[tuple[int, str, datetime]] = []
    last: dict[int, str] = {}
    for case_id, step, at in sorted(seen, key=lambda e: e[2]):
        if last.get(case_id) != step:  # written again in the same step is no move
            entries.append((case_id, step, at))
            last[case_id] = step
    written = store.record_step_entries(entries)
    if written:
        logger.info("step history: {} entries rebuilt from Dolibarr's timeline", written)
    return written


def recovery_lookback(store: Store, now: datetime) -> datetime | None:
    """For actions planned in a database's first day: since when a lost run may have done them.

    An action sent whose `[syncd] KEY` never reached the timeline (Dolibarr
    failed the recording, then the database was lost) is planned again by
    its rule; asking FreeScout and Mautic since this moment keeps the
    customer from getting it twice. On a first install this costs a lookup
    per message for a day, and finds nothing.
    """
    recovered = store.recovered_at()
    if recovered is None or now - recovered > RECOVERY_WINDOW:
        return None
    return recovered - RECOVERY_LOOKBACK
