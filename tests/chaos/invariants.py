""" "Nothing sent twice, nothing lost", judged from the fakes' own records.

Role: count every effect each fake holds, per the key it carries (Mautic emails per
contact and template, FreeScout conversations per marker, Matrix notices per key, a
digest's per item, Dolibarr agenda events per `[syncd] KEY` label, private-note lines per `[KEY]`
marker); then hold the state database's outbox against those counts. It reads the
state database with plain `sqlite3` and never writes to it or to a fake.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from syncd.config import DEFAULT_TAG_LABELS
from syncd.executor import needs_record

EVENT_PREFIX = "[syncd] "
_FREESCOUT_MARKER = re.compile(r"<!-- syncd:(.*?) -->")
_NOTE_MARKER = re.compile(r"^\[([^\]\s]+)\]")


@dataclass
class Effects:
    """What the four fakes hold, counted per key (or per what stands for one)."""

    emails: Counter[tuple[str, int]] = field(default_factory=Counter)  # (address, template)
    conversations: Counter[str] = field(default_factory=Counter)  # marker
    matrix: Counter[str] = field(default_factory=Counter)  # action key (a digest's: each item's)
    events: Counter[str] = field(default_factory=Counter)  # key in `[syncd] KEY …`
    notes: Counter[tuple[int, str]] = field(default_factory=Counter)  # (socid, marker)

    def duplicates(self) -> list[str]:
        found = []
        for name, counter in vars(self).items():
            found += [f"{name} {key}: {n}×" for key, n in sorted(counter.items()) if n > 1]
        return found

    def total(self) -> int:
        return sum(sum(c.values()) for c in vars(self).values())


def effects(
    dolibarr: FakeDolibarr, mautic: FakeMautic, freescout: FreescoutFake, matrix: FakeMatrix
) -> Effects:
    e = Effects()
    # By address, not contact id: two contacts for one address must not hide a second email.
    e.emails.update((s.to.lower(), s.email_id) for s in mautic.sent())
    for conv in freescout.conversations.values():
        markers = {m for t in conv.threads for m in _FREESCOUT_MARKER.findall(t.body)}
        e.conversations.update(markers)
    for room in matrix.rooms.values():
        for ev in room.events:
            e.matrix.update(_notice_keys(ev.content) or [ev.txn_id or ev.event_id])
    for event in dolibarr.events.values():
        if event.label.startswith(EVENT_PREFIX):
            e.events[event.label[len(EVENT_PREFIX) :].split(" ", 1)[0]] += 1
    for tp in dolibarr.thirdparties.values():
        for line in str(tp.fields.get("note_private") or "").splitlines():
            marker = _NOTE_MARKER.match(line.strip())
            if marker:
                e.notes[(tp.id, marker[1])] += 1
    return e


def _notice_keys(content: Mapping[str, Any]) -> list[str]:
    """The action keys a notice carries: its own, or a digest's items (matrix.md §8)."""
    items = content.get("org.syncd.keys")
    if isinstance(items, list):
        return [str(key) for key in items]
    key = content.get("org.syncd.key")
    return [str(key)] if key else []


@dataclass(frozen=True)
class Row:
    key: str
    kind: str
    status: str
    case_id: int
    target: str
    payload: dict[str, Any]
    result: str


def outbox(db: Path) -> list[Row]:
    if not db.exists() or db.stat().st_size == 0:
        return []
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select key, kind, status, case_id, coalesce(target, ''), payload,"
            " coalesce(result, '') from outbox"
        ).fetchall()
    return [Row(k, kind, s, c, t, json.loads(p), r) for k, kind, s, c, t, p, r in rows]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def missing_effect(row: Row, e: Effects, dolibarr: FakeDolibarr) -> str | None:
    """Why a `done` row's effect is not in the fakes, or None when it is there."""
    if needs_record(row.kind, row.key) and e.events[row.key] == 0:
        return "done, but no [syncd] agenda event carries its key"
    return missing_own_effect(row, e, dolibarr)


def missing_own_effect(row: Row, e: Effects, dolibarr: FakeDolibarr) -> str | None:
    """Why the action's own effect (email, message, notice, note, tag) is not there."""
    if row.kind == "dolibarr.agenda_event":
        return None if e.events[row.key] else "no agenda event with its label"
    if row.kind == "matrix.notify":
        return None if e.matrix[row.key] else "no Matrix notice carrying its key"
    if row.kind == "freescout.message":
        return None if e.conversations[row.key] else "no FreeScout conversation with its marker"
    if row.kind == "dolibarr.note":
        socid = int(row.payload["socid"])
        return None if e.notes[(socid, row.key)] else "no private-note line with its marker"
    if row.kind == "mautic.send_email" and not row.result.startswith("skipped"):
        address = str(row.payload.get("email") or row.target).lower()
        if not e.emails[(address, int(row.payload["template_id"]))]:
            return "no Mautic email to the address with its template"
    if row.kind == "dolibarr.tag":
        socid = int(row.payload["socid"])
        label = DEFAULT_TAG_LABELS.get(str(row.payload["tag"]), str(row.payload["tag"]))
        if socid not in dolibarr.members.get(dolibarr.category_id(label), set()):
            return f"third party not tagged {label}"
    return None


# Kinds whose effect can be seen apart from the timeline (fields and segments cannot be
# told from an earlier identical write).
_OWN_EFFECTS = frozenset(
    {
        "dolibarr.agenda_event",
        "matrix.notify",
        "freescout.message",
        "dolibarr.note",
        "mautic.send_email",
    }
)


@dataclass
class Verdict:
    duplicated: list[str]
    lost: list[str]
    counts: Counter[str]  # outbox rows per status
    by_kind: Counter[tuple[str, str]]  # outbox rows per (kind, status)
    recorded: int  # distinct keys on the Dolibarr timeline
    held_on_timeline: int  # held rows whose key is on the timeline all the same
    held_done: list[str]  # held, yet it was done (its effect or its key is in the fakes)
    mismatches: list[str]  # on the timeline, but the outbox says neither done nor held
    unrecorded_done: int = 0  # done, and by design never on the timeline (a field, a tag)

    @property
    def ok(self) -> bool:
        return not self.duplicated and not self.lost


def judge(
    db: Path,
    dolibarr: FakeDolibarr,
    mautic: FakeMautic,
    freescout: FreescoutFake,
    matrix: FakeMatrix,
) -> Verdict:
    e = effects(dolibarr, mautic, freescout, matrix)
    rows = outbox(db)
    counts = Counter(r.status for r in rows)
    lost = [
        f"{r.key} ({r.kind}) left {r.status}" for r in rows if r.status in ("planned", "sending")
    ]
    for row in rows:
        if row.status == "done":
            why = missing_effect(row, e, dolibarr)
            if why:
                lost.append(f"{row.key} ({row.kind}) {why}")
    status = {r.key: r.status for r in rows}
    on_timeline = sorted(e.events)
    held = [r for r in rows if r.status == "held"]
    held_on_timeline = sum(1 for r in held if e.events[r.key])
    held_done = [
        r.key
        for r in held
        if e.events[r.key] or (r.kind in _OWN_EFFECTS and not missing_own_effect(r, e, dolibarr))
    ]
    odd = [
        f"{key}: on the timeline, but {status.get(key, 'not in the outbox')}"
        for key in on_timeline
        if status.get(key) not in ("done", "held")
    ]
    by_kind = Counter((r.kind, r.status) for r in rows)
    unrecorded = sum(
        1
        for r in rows
        if r.status == "done"
        and r.kind != "dolibarr.agenda_event"
        and not needs_record(r.kind, r.key)
    )
    return Verdict(
        e.duplicates(),
        lost,
        counts,
        by_kind,
        len(on_timeline),
        held_on_timeline,
        held_done,
        odd,
        unrecorded,
    )
