"""The planner's memory in the state database, so that `run --once` plans what the daemon would.

The daemon keeps its `Planner` in memory from cycle to cycle; a `run --once`
process (cron, a systemd timer) starts from the state database alone. This
module writes the memory there and takes it back: each case's partner, the
keys of its last plan and whether it entered a step (table `planner_cases`,
written case by case, as the cases are planned), and the day, the basis and
the moment of the last plan (the `planner` row of `meta`).

What it must never do is claim a plan that was not made. So:

1. The memory is written in the transaction that enqueues the plan's actions
   and records its steps, and names the cycle record that follows it (its id
   and start). Until `Store.save_cycle` has recorded that cycle, with the
   mirror and cursors the plan was made from, the memory is not believed: a
   crash in between makes the next process plan every case.
2. A process takes the memory when it starts: the `planner` row is deleted
   before anything else is written (a timeline taken in, actions planned
   again), and written back only with its own first plan. A crash in between
   leaves no memory, and the next process plans every case.
3. The memory is believed only for the mirror it was made from (the same
   third parties, as many rows of each kind) and the same basis: rules, their
   parameters, the code, the fields and tags read, the zone and the currency.

It never decides what to plan (`syncd.planner`) and never reads Dolibarr.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from loguru import logger

from syncd.config import Config
from syncd.engine import RuleSet
from syncd.mirror import RELATED_KINDS, Mirror
from syncd.planner import Basis, Planner
from syncd.store import Store

META_KEY = "planner"


def basis(config: Config, ruleset: RuleSet, currency: str | None) -> Basis:
    """A fingerprint of what every plan depends on besides the cases' data.

    The rules and their parameters, the code that plans (syncd's own modules
    and each rule's), what the config says to read (fields, tags, zone, the
    commission rate's unit) and the company currency. Within one daemon only
    the rules' parameters (new `SYNCD_*` constants) and the currency change.
    """
    rules = [
        (
            entry.name,
            entry.enabled,
            entry.rule.process,
            sorted(entry.rule.needs),
            entry.rule.required_with,
            repr(entry.params),
        )
        for entry in ruleset.rules
    ]
    sources = tuple(sorted({entry.rule.decide.__code__.co_filename for entry in ruleset.rules}))
    d = config.dolibarr
    parts = (
        _code(sources),
        sorted(ruleset.systems),
        rules,
        currency,
        d.timezone,
        d.commission_rate_unit,
        sorted(config.fields.items()),
        sorted(config.tags.items()),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@cache
def _code(rule_sources: tuple[str, ...]) -> str:
    """A digest of syncd's modules and the rules' files, read once per process."""
    digest = hashlib.sha256()
    own = sorted(str(p) for p in Path(__file__).parent.glob("*.py"))
    for name in [*own, *rule_sources]:
        digest.update(name.encode())
        try:
            digest.update(Path(name).read_bytes())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


@contextmanager
def kept(store: Store, planner: Planner, mirror: Mirror) -> Iterator[None]:
    """Around the enqueue of a plan: the planner's memory of it, in the same transaction.

    Nothing is written when the database already holds the memory (an idle cycle).
    """
    if planner.stored:
        yield
        return
    with store.db.atomic():
        yield
        _write(store, planner, mirror)
    planner.saved()


def take(store: Store, mirror: Mirror) -> Planner | None:
    """The memory the last process left, taken out of the database; None when there is
    none that can be believed for this mirror (the next plan covers every case)."""
    stored = store.meta(META_KEY)
    if stored is None:
        return None
    drop(store)
    try:
        planner, why_not = _read(store, json.loads(stored), mirror)
    except (ValueError, TypeError, KeyError) as exc:  # written by another version, or by hand
        planner, why_not = None, f"it cannot be read ({exc})"
    if planner is None:
        logger.debug("planner memory not used: {}; every case is planned", why_not)
    return planner


def drop(store: Store) -> None:
    """No memory is believed any more (written again with the next plan)."""
    with store.db.atomic():
        store.db.execute("delete from meta where key = ?", [META_KEY])


def history_size(store: Store) -> int:
    """How many step entries the database holds (a timeline taken in may add some)."""
    (count,) = store.db.execute("select count(*) from step_history").fetchone()
    return int(count)


def _write(store: Store, planner: Planner, mirror: Mirror) -> None:
    db = store.db
    if planner.rewrite:
        db.execute("delete from planner_cases")
        changed = set(planner.keys)
    else:
        changed = planner.unsaved
        gone = sorted(changed - planner.keys.keys())
        db.conn.executemany("delete from planner_cases where case_id = ?", [(i,) for i in gone])
    db.conn.executemany(
        "insert or replace into planner_cases (case_id, partner, keys, moved) values (?, ?, ?, ?)",
        (
            (
                socid,
                planner.partner_of.get(socid),
                json.dumps(planner.keys[socid]),
                int(socid in planner.moved),
            )
            for socid in sorted(changed & planner.keys.keys())
        ),
    )
    (cycle,) = db.execute("select coalesce(max(id), 0) + 1 from cycles").fetchone()
    memory = {
        "day": planner.day.isoformat() if planner.day else None,
        "basis": planner.basis,
        "last": planner.last.isoformat() if planner.last else None,
        "cycle": int(cycle),  # the id `save_cycle` gives the record of this cycle
        "rows": _rows(mirror),
    }
    db.table("meta").upsert({"key": META_KEY, "value": json.dumps(memory)}, pk="key")


def _read(store: Store, memory: dict[str, Any], mirror: Mirror) -> tuple[Planner | None, str]:
    """The stored memory, when the cycle it names was recorded and the mirror is its own."""
    last = datetime.fromisoformat(memory["last"]) if memory.get("last") else None
    found = store.db.execute(
        "select ok, started_at from cycles where id = ?", [memory.get("cycle")]
    ).fetchone()
    if last is None or found is None or not found[0] or datetime.fromisoformat(found[1]) != last:
        return None, "the cycle that made it was not recorded"
    if memory.get("rows") != _rows(mirror):
        return None, "the mirror is not the one it was made from"
    planner = Planner(
        day=date.fromisoformat(memory["day"]), basis=memory["basis"], last=last, rewrite=False
    )
    sql = "select case_id, partner, keys, moved from planner_cases"
    for socid, partner, keys, moved in store.db.execute(sql).fetchall():
        planner.keys[socid] = tuple(json.loads(keys))
        if partner is not None:
            planner.partner_of[socid] = partner
            planner.customers_of.setdefault(partner, set()).add(socid)
        if moved:
            planner.moved.add(socid)
    if planner.keys.keys() != mirror.thirdparties.keys():
        return None, "its cases are not the mirror's"
    return planner, ""


def _rows(mirror: Mirror) -> list[int]:
    """How many rows of each kind the mirror holds."""
    return [len(mirror.thirdparties), *(len(mirror.related[kind]) for kind in RELATED_KINDS)]
