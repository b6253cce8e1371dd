"""syncd's own state in SQLite: cursors, the case mirror, step history, the outbox, cycles.

The schema comes from named migrations (sqlite-utils `Migrations`), each in its
own transaction, so an older database opens with a newer syncd. Every state
change is one `db.atomic()` block. This module knows no remote API: it stores
rows of `syncd.poll` and `syncd.model` types only.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from syncd import logs
from syncd.errors import StateError, SyncdError
from syncd.mirror import RELATED_KINDS, ROW_TYPES, Mirror, compact
from syncd.model import Action

T = TypeVar("T")

migrations = Migrations("syncd")


@migrations()
def m001_initial(db: Database) -> None:
    db.table("cursors").create({"kind": str, "at": str}, pk="kind", not_null={"at"})
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("mirror_rows").create(
        {"kind": str, "id": int, "socid": int, "data": str},
        pk=("kind", "id"),
        not_null={"data"},
    )
    db.table("mirror_members").create({"tag": str, "socid": int}, pk=("tag", "socid"))
    db.table("mirror_categories").create({"tag": str, "category_id": int}, pk="tag")
    db.table("step_history").create(
        {"case_id": int, "step": str, "entered_at": str},
        pk=("case_id", "entered_at"),
        not_null={"step"},
    )
    db.table("outbox").create(
        {
            "key": str,
            "rule": str,
            "case_id": int,
            "kind": str,
            "target": str,
            "payload": str,
            "because": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "result": str,
            "created_at": str,
            "updated_at": str,
            "next_attempt_at": str,
            "claimed_at": str,
            "sent_at": str,
        },
        pk="key",
        not_null={"rule", "case_id", "kind", "payload", "status", "attempts", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("outbox").create_index(["status", "next_attempt_at"])
    db.table("cycles").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "ok": int,
            "cases": int,
            "planned": int,
            "done": int,
            "failed": int,
            "held": int,
            "error": str,
        },
        pk="id",
    )


@migrations()
def m002_case_errors(db: Database) -> None:
    # The cases whose Dolibarr data could not be read in the last cycle, for `status`.
    db.table("case_errors").create(
        {"case_id": int, "ref": str, "error": str}, pk="case_id", not_null={"error"}
    )


@migrations()
def m003_server_cursors(db: Database) -> None:
    # Cursors were syncd's own clock; they are now bookmarks in Dolibarr's clock
    # (poll.Bookmarks). An old one may be ahead of Dolibarr's clock and skip
    # changes, so the first poll after the upgrade reads everything once; the
    # mirror it compares with is kept, so only real changes count.
    db.execute("DELETE FROM cursors")


@migrations()
def m004_invoice_types(db: Database) -> None:
    # Invoices are now read with their type, closing and currencies (QUIRKS.md,
    # "Invoices: the paid signal"). Rows mirrored without them cannot tell a credit
    # note from an invoice: forget them and read every invoice again.
    db.execute("delete from mirror_rows where kind = 'invoices'")
    db.execute("delete from cursors where kind = 'invoices'")


@migrations()
def m005_claims_and_refusals(db: Database) -> None:
    # `device`: the Matrix device (of the access token) that claimed the action; a
    # transaction id dedupes per device only, so a new token must look in the room.
    # `digest`: the key of the digest notice it went out in, to find that again.
    # `refused`: the system that refused syncd's credentials; tried again at start.
    db.table("outbox").add_column("device", str)
    db.table("outbox").add_column("digest", str)
    db.table("outbox").add_column("refused", str)
    # The systems that refused credentials in a cycle, for `status`.
    db.table("cycles").add_column("refused", str)


@migrations()
def m006_outages(db: Database) -> None:
    # `down`: the systems found down in a cycle (why, one per system), for `status`;
    # `waiting`: the actions that cycle left planned because a system they need was down.
    db.table("cycles").add_column("down", str)
    db.table("cycles").add_column("waiting", int)


@migrations()
def m007_planner_memory(db: Database) -> None:
    # What the daemon's planner remembers of each case (syncd.planmemory), so that a
    # `run --once` process plans only what changed: the partner the case names, the
    # keys of its last plan, and whether it entered a step in it. The rest of the
    # memory (its day, basis, cycle) is the `planner` row of `meta`. A migration that
    # drops or rewrites mirror rows must delete that row: the memory describes them.
    db.table("planner_cases").create(
        {"case_id": int, "partner": int, "keys": str, "moved": int},
        pk="case_id",
        not_null={"keys", "moved"},
    )


class Status(StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    HELD = "held"
    CANCELLED = "cancelled"  # no longer wanted by its case; planned again if it is
    # Not sent, for a reason that may pass (the person opted out of email); asked about
    # again from `next_attempt_at` while its rule still plans it. Never done.
    SKIPPED = "skipped"


# The one place that says which status may follow which.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # → failed: its earlier attempt cannot be asked about, the credentials being refused.
    Status.PLANNED: frozenset(
        {Status.SENDING, Status.DONE, Status.HELD, Status.CANCELLED, Status.FAILED}
    ),
    Status.SENDING: frozenset(
        {Status.SENDING, Status.DONE, Status.PLANNED, Status.FAILED, Status.HELD, Status.SKIPPED}
    ),
    Status.FAILED: frozenset({Status.PLANNED, Status.DONE}),
    Status.HELD: frozenset({Status.PLANNED, Status.DONE}),
    Status.DONE: frozenset(),
    Status.CANCELLED: frozenset({Status.PLANNED, Status.DONE}),
    Status.SKIPPED: frozenset({Status.PLANNED, Status.DONE}),
}


class TransitionError(SyncdError):
    """A status change the outbox does not allow (or a row that moved meanwhile)."""


@dataclass(frozen=True)
class ActionQuery:
    """Which actions `syncd actions`, `history` and `retry --failed` pick."""

    case_id: int | None = None
    rules: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()  # the first part of an action's kind (`mautic`)
    statuses: tuple[Status, ...] = ()
    since: datetime | None = None  # changed at or after
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], list[Any]()
        if self.case_id is not None:
            clauses.append("case_id = ?")
            params.append(self.case_id)
        for column, values in (("rule", self.rules), ("status", self.statuses)):
            if values:
                clauses.append(f"{column} in ({', '.join('?' for _ in values)})")
                params += [str(v) for v in values]
        if self.systems:
            clauses.append(f"({' or '.join('kind like ?' for _ in self.systems)})")
            params += [f"{system}.%" for system in self.systems]
        if self.since is not None:
            clauses.append("updated_at >= ?")
            params.append(_iso(self.since))
        return " and ".join(clauses), params


@dataclass(frozen=True)
class OutboxRow:
    key: str
    rule: str
    case_id: int
    kind: str
    target: str
    payload: dict[str, Any]
    because: str
    status: Status
    attempts: int
    last_error: str | None
    result: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    claimed_at: datetime | None
    sent_at: datetime | None
    device: str | None = None  # the Matrix device that claimed it (txnIds dedupe per device)
    digest: str | None = None  # the digest notice it was last sent in
    refused: str | None = None  # the system that refused syncd's credentials


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _row(record: dict[str, Any]) -> OutboxRow:
    return OutboxRow(
        key=record["key"],
        rule=record["rule"],
        case_id=record["case_id"],
        kind=record["kind"],
        target=record["target"] or "",
        payload=json.loads(record["payload"]),
        because=record["because"] or "",
        status=Status(record["status"]),
        attempts=record["attempts"],
        last_error=record["last_error"],
        result=record["result"],
        created_at=_dt(record["created_at"]) or datetime.min.replace(tzinfo=UTC),
        updated_at=_dt(record["updated_at"]) or datetime.min.replace(tzinfo=UTC),
        next_attempt_at=_dt(record["next_attempt_at"]),
        claimed_at=_dt(record["claimed_at"]),
        sent_at=_dt(record["sent_at"]),
        device=record.get("device"),
        digest=record.get("digest"),
        refused=record.get("refused"),
    )


def open_database(path: Path) -> Database:
    """The database at `path`, created if missing, checked and migrated.

    Its files (the database, `-wal`, `-shm`) are readable by our user only:
    remote error texts are stored in it. Whatever SQLite says about the file
    (not a database, damaged, unreadable, in a read-only folder) becomes a
    `StateError` naming it, before anything is read or sent.
    """
    umask = os.umask(0o077)  # SQLite makes -wal and -shm later with the database's mode
    db: Database | None = None
    try:
        db = Database(path)
        db.execute("PRAGMA journal_mode=WAL")
        _check_integrity(db)
        migrations.apply(db)
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        damaged = not isinstance(exc, sqlite3.OperationalError)
        raise StateError(path, str(exc), damaged=damaged) from None
    finally:
        os.umask(umask)
    return db


def _check_integrity(db: Database) -> None:
    found = db.execute("PRAGMA quick_check").fetchone()
    if found is None or found[0] != "ok":
        raise sqlite3.DatabaseError(f"damaged ({found[0] if found else 'no answer'})")


class Store:
    """The state database. One instance per process; WAL so readers never block it.

    `needs_timeline_sync` is true for a store just opened or switched to another
    file: before acting on it, a cycle brings in what Dolibarr's timeline shows
    done (`timeline.sync_timeline`), so a database that is new, restored from an
    old backup or replaced never resends what was sent.
    """

    def __init__(self, path: Path | str, mask: Callable[[str], str] = logs.mask) -> None:
        """`mask` hides configured secrets in the remote texts kept (errors, results)."""
        self.path = Path(path)
        self.mask = mask
        self.db = self._open()
        self.needs_timeline_sync = True
        self.rewrite_mirror = False  # True: the file does not hold the mirror in memory

    def _open(self) -> Database:
        db = open_database(self.path)
        self._identity = _file_identity(self.path)
        return db

    def check_file(self) -> str | None:
        """None while the file at `path` is the one open; else what happened, once mended.

        A file deleted under a running daemon is written back from the open copy
        (nothing is lost); a file replaced by another (or emptied) is opened
        instead, and the timeline is read again before anything is sent.
        """
        identity = _file_identity(self.path)
        if identity is not None and identity == self._identity:
            return None
        self.needs_timeline_sync = True
        if identity is None:
            self._write_back()
            self.db = self._open()
            return f"state database {self.path} was deleted while syncd ran; written back"
        self.db.close()
        self.db = self._open()
        self.rewrite_mirror = True  # the new file does not hold our mirror
        return f"state database {self.path} was replaced while syncd ran; now using the new file"

    def _write_back(self) -> None:
        """Copy the open (deleted) database to a side file, close it, then move the copy in.

        In this order: closing the old connection removes its `-wal` and `-shm`
        files, which must not be taken for the new file's.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        side = self.path.with_name(self.path.name + ".restore")
        side.unlink(missing_ok=True)
        side.touch(mode=0o600)
        target = sqlite3.connect(side)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
        self.db.close()
        os.replace(side, self.path)

    @classmethod
    def open_readonly(cls, path: Path | str) -> Store | None:
        """The store if its file exists, else None (status and dry runs create nothing)."""
        return cls(path) if Path(path).exists() else None

    def close(self) -> None:
        self.db.close()

    # -- outbox ------------------------------------------------------------------------

    def enqueue(
        self,
        planned: Iterable[tuple[int, Action]],
        now: datetime,
        landed_since: datetime | None = None,
        steps: Sequence[tuple[int, str]] = (),
    ) -> int:
        """Insert new actions; a key seen before is ignored, unless it was cancelled, or
        skipped and due to be asked about again: planned again. Returns how many are new
        (or revived from cancelled).

        `landed_since` (stored as `claimed_at`) says an attempt made since then
        may already have carried them out: they are reconciled before sending.
        `steps` are the cases' steps as planned: a move into a step is recorded
        in the same transaction as the actions planned on it, so an action
        keyed on the moment of entering is planned with the same key again
        after a crash, never with a second one.
        """
        stamp, landed = _iso(now), _iso(landed_since)
        with self.db.atomic():
            self._record_steps(steps, now)
            before = self.db.table("outbox").count
            keys: list[str] = []
            for batch in _chunks(planned, ENQUEUE_BATCH):
                rows = [_outbox_record(case_id, a, stamp, landed) for case_id, a in batch]
                self.db.table("outbox").insert_all(rows, ignore=True)
                keys += [a.key for _case_id, a in batch]
            revived = self._revive(keys, now)
            self._recheck(keys, now)
            return self.db.table("outbox").count - before + revived

    def _revive(self, keys: Sequence[str], now: datetime) -> int:
        """A cancelled action its case wants again is planned again (inside enqueue's block)."""
        sql = (
            "update outbox set status = ?, updated_at = ?, next_attempt_at = ?, "
            "last_error = null where status = ? and key in ({marks})"
        )
        return self._update_keys(sql, [Status.PLANNED, now, now, Status.CANCELLED], keys)

    def _recheck(self, keys: Sequence[str], now: datetime) -> int:
        """A skipped action still planned is planned again once its time to ask comes;
        its reason stays until the next attempt settles it (inside enqueue's block)."""
        sql = (
            "update outbox set status = ?, updated_at = ? "
            "where status = ? and next_attempt_at <= ? and key in ({marks})"
        )
        return self._update_keys(sql, [Status.PLANNED, now, Status.SKIPPED, now], keys)

    def _update_keys(self, sql: str, params: Sequence[Any], keys: Sequence[str]) -> int:
        values = [_iso(v) if isinstance(v, datetime) else str(v) for v in params]
        changed = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            changed += self.db.execute(sql.format(marks=marks), [*values, *chunk]).rowcount
        return changed

    def cases_waiting(self) -> set[int]:
        """Cases with an action planned and not yet sent."""
        sql = "select distinct case_id from outbox where status = ?"
        return {int(c) for (c,) in self.db.execute(sql, [Status.PLANNED.value]).fetchall()}

    def rechecks_due(self, since: datetime, now: datetime) -> set[int]:
        """Cases with a skipped action whose time to be asked about again came since `since`."""
        sql = (
            "select distinct case_id from outbox where status = ? "
            "and next_attempt_at > ? and next_attempt_at <= ?"
        )
        rows = self.db.execute(sql, [Status.SKIPPED.value, _iso(since), _iso(now)]).fetchall()
        return {int(case_id) for (case_id,) in rows}

    def get(self, key: str) -> OutboxRow | None:
        found = list(self.db.table("outbox").rows_where("key = ?", [key]))
        return _row(found[0]) if found else None

    def due(self, now: datetime) -> list[OutboxRow]:
        records = self.db.table("outbox").rows_where(
            _DUE, [Status.PLANNED.value, _iso(now)], order_by="created_at, key"
        )
        return [_row(r) for r in records]

    def due_keys(self, now: datetime) -> list[tuple[str, int]]:
        """(key, case id) of each action `due` would read, in its order."""
        sql = f"select key, case_id from outbox where {_DUE} order by created_at, key"
        found = self.db.execute(sql, [Status.PLANNED.value, _iso(now)])
        return [(str(key), int(case_id)) for key, case_id in found]

    def iter_due(self, now: datetime, kind: str | None = None) -> Iterator[OutboxRow]:
        """`due` (of one `kind`, when given), read a batch at a time, for a drain that
        sends them one by one.

        A row is read when its batch comes: one moved meanwhile (sent in a
        digest, settled, released by a person) is left out as it then stands.
        """
        params: list[Any] = [Status.PLANNED.value, _iso(now)]
        if kind is None:
            return self._iter_where(_DUE, params)
        return self._iter_where(f"{_DUE} and kind = ?", [*params, kind])

    def iter_status(self, status: Status) -> Iterator[OutboxRow]:
        """`with_status`, read a batch at a time (as `iter_due`)."""
        return self._iter_where("status = ?", [status.value])

    def _iter_where(self, where: str, params: Sequence[Any]) -> Iterator[OutboxRow]:
        """The rows `where` picks, by `created_at, key`: their keys first, then each batch
        of rows read when its turn comes, and only those `where` still picks.

        A cold cycle drains one action per case: read at once, the rows would
        weigh as much as the mirror. No cursor stays open while the caller writes.
        """
        sql = f"select key from outbox where {where} order by created_at, key"
        keys = [str(key) for (key,) in self.db.execute(sql, params)]
        for batch in _chunks(keys, READ_BATCH):
            marks = ", ".join("?" for _ in batch)
            found = {
                record["key"]: record
                for record in self.db.table("outbox").rows_where(
                    f"({where}) and key in ({marks})", [*params, *batch]
                )
            }
            yield from (_row(found[key]) for key in batch if key in found)

    def with_status(self, *statuses: Status) -> list[OutboxRow]:
        marks = ", ".join("?" for _ in statuses)
        records = self.db.table("outbox").rows_where(
            f"status in ({marks})", [s.value for s in statuses], order_by="created_at, key"
        )
        return [_row(r) for r in records]

    def messages(self, addresses: Collection[str] | None = None) -> list[MessageRow]:
        """Every message sent or waiting: (case, kind, rule, address, payload); to the
        `addresses` only (compared without case or surrounding blanks), when given."""
        if addresses is None:
            return _message_rows(self.db.execute(_MESSAGES_SQL).fetchall())
        wanted = {a.strip().casefold() for a in addresses}
        if not wanted:
            return []
        if not all(a.isascii() for a in wanted):  # SQLite's lower() knows ASCII only
            rows = self.db.execute(_MESSAGES_SQL).fetchall()
            return _message_rows(r for r in rows if str(r[3] or "").strip().casefold() in wanted)
        found: list[Sequence[Any]] = []
        for chunk in _chunks(sorted(wanted)):
            marks = ", ".join("?" for _ in chunk)
            sql = _MESSAGES_SQL.replace(
                "order by", f"and lower(trim(target)) in ({marks}) order by"
            )
            found += self.db.execute(sql, chunk).fetchall()
        return _message_rows(sorted(found, key=lambda r: (r[5], r[6])))

    def find_actions(self, chosen: ActionQuery) -> tuple[list[OutboxRow], dict[str, int]]:
        """The actions `chosen` picks, oldest first (the latest `limit` of them), and how
        many it picks per status, whatever the limit."""
        where, params = chosen.where()
        sql = f"select * from outbox where {where} order by updated_at desc, key desc"
        if chosen.limit is not None:
            sql += f" limit {int(chosen.limit)}"
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = [_row(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
        counted = self.db.execute(
            f"select status, count(*) from outbox where {where} group by status", params
        ).fetchall()
        return rows[::-1], {str(status): int(n) for status, n in counted}

    def retry_failed(self, chosen: ActionQuery, now: datetime) -> list[OutboxRow]:
        """Every failed action `chosen` picks planned again, to be sent in the next cycle.

        A person mended what failed them (a credential, a template). `claimed_at`
        stays: an attempt that may have landed is asked about before a resend.
        """
        where, params = replace(chosen, statuses=(Status.FAILED,), limit=None).where()
        with self.db.atomic():
            records = list(self.db.table("outbox").rows_where(where, params))
            self.db.execute(
                "update outbox set status = ?, updated_at = ?, next_attempt_at = null, "
                f"attempts = 0, refused = null where {where}",
                [Status.PLANNED.value, _iso(now), *params],
            )
        return [_row(r) for r in records]

    def case_named(self, wanted: str) -> tuple[int, str, str] | None:
        """(id, ref, name) of the case whose id or ref (any case) is `wanted`, as last read."""
        sql = (
            "select id, json_extract(data, '$.ref'), json_extract(data, '$.name') "
            "from mirror_rows where kind = 'thirdparties' and (cast(id as text) = ? "
            "or lower(json_extract(data, '$.ref')) = lower(?))"
        )
        found = self.db.execute(sql, [wanted.strip(), wanted.strip()]).fetchone()
        if found is not None:
            return int(found[0]), str(found[1] or ""), str(found[2] or "")
        if wanted.strip().isdigit():  # deleted from Dolibarr, or never mirrored: its actions
            return int(wanted), "", ""
        return None

    def counts(self) -> dict[str, int]:
        sql = "select status, count(*) from outbox group by status"
        return {status: count for status, count in self.db.execute(sql).fetchall()}

    def replan_refused(self, now: datetime) -> int:
        """Actions failed because a system refused syncd's credentials are planned again.

        Called when a configuration is (re)loaded: a person fixed the credentials
        and restarted or reloaded syncd. `claimed_at` stays, so an attempt that
        may have landed is still asked about first. Returns how many.
        """
        sql = (
            "update outbox set status = ?, updated_at = ?, next_attempt_at = ?, attempts = 0, "
            "refused = null where status = ? and refused is not null"
        )
        with self.db.atomic():
            values = [Status.PLANNED.value, _iso(now), _iso(now), Status.FAILED.value]
            return self.db.execute(sql, values).rowcount

    def move(self, row: OutboxRow, to: Status, now: datetime, **changes: Any) -> OutboxRow:
        """Change a row's status if the transition is allowed and nobody moved it meanwhile.

        The UPDATE is conditional on the status we read (claim, then check the
        row count), so two writers can never both claim one action.
        """
        if to not in TRANSITIONS[row.status]:
            raise TransitionError(f"action {row.key}: {row.status} → {to} is not allowed")
        values = {"status": to.value, "updated_at": _iso(now)}
        for name, value in changes.items():
            values[name] = _iso(value) if isinstance(value, datetime) else value
            if isinstance(value, str):
                values[name] = self.mask(value)  # last_error and result quote remotes
        assigns = ", ".join(f"{name} = ?" for name in values)
        with self.db.atomic():
            cursor = self.db.execute(
                f"update outbox set {assigns} where key = ? and status = ?",
                [*values.values(), row.key, row.status.value],
            )
            if cursor.rowcount != 1:
                raise TransitionError(f"action {row.key} is no longer {row.status}")
        moved = self.get(row.key)
        assert moved is not None
        return moved

    def move_all(
        self,
        rows: Sequence[OutboxRow],
        to: Status,
        now: datetime,
        changes: Callable[[OutboxRow], dict[str, Any]] = lambda _row: {},
    ) -> list[OutboxRow]:
        """`move` for several rows (each with its `changes`) in one transaction: all
        move, or none does."""
        with self.db.atomic():
            return [self.move(row, to, now, **changes(row)) for row in rows]

    def mark_done_from_remote(self, keys: Iterable[str], now: datetime) -> int:
        """Rebuild: actions Dolibarr's timeline proves done (inserted or moved to done)."""
        count = 0
        with self.db.atomic():
            for key in keys:
                existing = self.get(key)
                if existing is None:
                    self.db.table("outbox").insert(
                        {
                            "key": key,
                            "rule": key.split(":", 1)[0],
                            "case_id": _case_of(key),
                            "kind": "",
                            "target": "",
                            "payload": "{}",
                            "because": "rebuilt from the Dolibarr timeline",
                            "status": Status.DONE.value,
                            "attempts": 0,
                            "created_at": _iso(now),
                            "updated_at": _iso(now),
                            "result": "rebuilt from the Dolibarr timeline",
                        }
                    )
                    count += 1
                elif existing.status is not Status.DONE:
                    self.db.table("outbox").update(
                        key, {"status": Status.DONE.value, "updated_at": _iso(now)}
                    )
                    count += 1
        return count

    # -- mirror and cursors -----------------------------------------------------------------

    def load_mirror(self) -> Mirror:
        mirror = Mirror()
        for kind, data in self.db.execute("select kind, data from mirror_rows"):
            row = ROW_TYPES[kind](**compact(json.loads(data)))
            if kind == "thirdparties":
                mirror.thirdparties[row.id] = row
            else:
                mirror.related[kind][row.id] = row
        for record in self.db.table("mirror_members").rows:
            mirror.members.setdefault(record["tag"], set()).add(record["socid"])
        for record in self.db.table("mirror_categories").rows:
            mirror.category_ids[record["tag"]] = record["category_id"]
        for record in self.db.table("cursors").rows:
            mirror.cursors[record["kind"]] = datetime.fromisoformat(record["at"])
        mirror.polls = int(self.meta("polls") or 0)
        return mirror

    def timeline_mark(self) -> int:
        """The highest Dolibarr event id whose key this database has taken in."""
        return int(self.meta("timeline_event_id") or 0)

    def recovered_at(self) -> datetime | None:
        """When this database, new or rebuilt, last took in the whole Dolibarr timeline."""
        return _dt(self.meta("recovered_at"))

    def set_recovered_at(self, moment: datetime) -> None:
        with self.db.atomic():
            self.db.table("meta").upsert({"key": "recovered_at", "value": _iso(moment)}, pk="key")

    def set_timeline_mark(self, event_id: int) -> None:
        with self.db.atomic():
            self.db.table("meta").upsert(
                {"key": "timeline_event_id", "value": str(event_id)}, pk="key"
            )
        self.needs_timeline_sync = False

    def meta(self, key: str) -> str | None:
        found = list(self.db.table("meta").rows_where("key = ?", [key]))
        return found[0]["value"] if found else None

    def save_cycle(
        self,
        mirror: Mirror,
        steps: Sequence[tuple[int, str]],
        started_at: datetime,
        finished_at: datetime,
        stats: dict[str, Any],
        case_errors: Sequence[tuple[int, str, str]] = (),
    ) -> None:
        """Mirror, cursors, step history, the cycle record and its bad cases in one transaction.

        Cursors advance only here, with the mirror they describe: a crash before
        this re-reads the same changes, it never skips them.
        """
        with self.db.atomic():
            self._write_mirror(mirror)
            self.db.table("cursors").upsert_all(
                [{"kind": k, "at": _iso(v)} for k, v in mirror.cursors.items()], pk="kind"
            )
            self.db.table("meta").upsert({"key": "polls", "value": str(mirror.polls)}, pk="key")
            self._record_steps(steps, started_at)
            self.db.table("cycles").insert(
                {"started_at": _iso(started_at), "finished_at": _iso(finished_at), **stats}
            )
            self.db.execute("delete from case_errors")
            self.db.table("case_errors").insert_all(
                {"case_id": case_id, "ref": ref, "error": self.mask(error)}
                for case_id, ref, error in case_errors
            )
        mirror.stored()
        self.rewrite_mirror = False

    def record_failed_cycle(
        self, started_at: datetime, finished_at: datetime, error: str, down: str | None = None
    ) -> None:
        with self.db.atomic():
            self.db.table("cycles").insert(
                {
                    "started_at": _iso(started_at),
                    "finished_at": _iso(finished_at),
                    "ok": 0,
                    "error": self.mask(error),
                    "down": down,
                }
            )

    def last_cycles(self, limit: int = 5) -> list[dict[str, Any]]:
        return list(self.db.table("cycles").rows_where(order_by="id desc", limit=limit))

    def step_history(self, case_id: int) -> list[tuple[str, datetime]]:
        records = self.db.table("step_history").rows_where(
            "case_id = ?", [case_id], order_by="entered_at"
        )
        return [(r["step"], datetime.fromisoformat(r["entered_at"])) for r in records]

    def step_places(self, ids: Collection[int] | None = None) -> dict[int, StepPlace]:
        """Each case's recorded steps (its step history), oldest first; of the cases
        `ids` only, when given."""
        if ids is None:
            return _places(self.db.execute(_PLACES_SQL).fetchall())
        found: dict[int, StepPlace] = {}
        for chunk in _chunks(sorted(ids)):
            marks = ", ".join("?" for _ in chunk)
            sql = _PLACES_SQL.replace(" order by", f" where case_id in ({marks}) order by")
            found.update(_places(self.db.execute(sql, chunk).fetchall()))
        return found

    def record_step_entries(self, entries: Iterable[tuple[int, str, datetime]]) -> int:
        """Write rebuilt step history for cases that have none; returns how many rows."""
        known = set(self.current_steps())
        rows = [
            {"case_id": case_id, "step": step, "entered_at": _iso(at)}
            for case_id, step, at in entries
            if case_id not in known
        ]
        with self.db.atomic():
            before = self.db.table("step_history").count
            self.db.table("step_history").insert_all(rows, ignore=True)
            return self.db.table("step_history").count - before

    def current_steps(self) -> dict[int, str]:
        """Each case's latest recorded step."""
        sql = (
            "select case_id, step from step_history s where entered_at = "
            "(select max(entered_at) from step_history where case_id = s.case_id)"
        )
        return dict(self.db.execute(sql).fetchall())

    def case_errors(self) -> list[tuple[int, str, str]]:
        """(id, ref, error) of each case the last cycle could not read."""
        rows = self.db.table("case_errors").rows_where(order_by="case_id")
        return [(r["case_id"], r["ref"] or "", r["error"]) for r in rows]

    def cursor_positions(self) -> dict[str, str]:
        return {r["kind"]: r["at"] for r in self.db.table("cursors").rows}

    def _record_steps(self, steps: Sequence[tuple[int, str]], at: datetime) -> None:
        """A step history entry for each case whose step is not the one last recorded.

        A chunk of cases at a time: a plan of every case holds one step per case.
        """
        stamp = _iso(at)
        for chunk in _chunks(steps):
            current = self.step_places([case_id for case_id, _ in chunk])
            entered = (
                {"case_id": case_id, "step": step, "entered_at": stamp}
                for case_id, step in chunk
                if case_id not in current or current[case_id].step != step
            )
            self.db.table("step_history").insert_all(entered, ignore=True)

    def _write_mirror(self, mirror: Mirror) -> None:
        """The rows that changed since the mirror was last stored, in place.

        The whole mirror is written only into a file that does not hold it
        (one that replaced ours under a running daemon).
        """
        if self.rewrite_mirror:
            self.db.execute("delete from mirror_rows")
            self.db.execute("delete from mirror_members")
            everything = [("thirdparties", i) for i in mirror.thirdparties]
            everything += [(k, i) for k in RELATED_KINDS for i in mirror.related[k]]
            self._put_rows(mirror, everything)
            self._put_members(mirror, set(mirror.members))
        else:
            self._put_rows(mirror, mirror.dirty_rows())
            self.db.conn.executemany(
                "delete from mirror_rows where kind = ? and id = ?", list(mirror.gone_rows())
            )
            self._put_members(mirror, mirror.dirty_tags)
        self.db.execute("delete from mirror_categories")
        self.db.table("mirror_categories").insert_all(
            {"tag": tag, "category_id": cid} for tag, cid in mirror.category_ids.items()
        )

    def _put_rows(self, mirror: Mirror, keys: Iterable[tuple[str, int]]) -> None:
        self.db.conn.executemany(
            "insert or replace into mirror_rows (kind, id, socid, data) values (?, ?, ?, ?)",
            (_mirror_record(mirror, kind, row_id) for kind, row_id in keys),
        )

    def _put_members(self, mirror: Mirror, tags: set[str]) -> None:
        for tag in sorted(tags):
            self.db.execute("delete from mirror_members where tag = ?", [tag])
            self.db.conn.executemany(
                "insert into mirror_members (tag, socid) values (?, ?)",
                ((tag, socid) for socid in sorted(mirror.members.get(tag, ()))),
            )


def read_step_history(path: Path, case_id: int) -> list[tuple[str, datetime]] | None:
    """A case's steps and when it entered each, read without writing a byte.

    For `explain`, safe beside a running daemon: None when there is no state
    database, or it cannot be read as it stands.
    """
    sql = "select step, entered_at from step_history where case_id = ? order by entered_at"
    rows = _read_only(path, sql, [case_id])
    if rows is None:
        return None
    return [(str(step), datetime.fromisoformat(str(at))) for step, at in rows]


ENQUEUE_BATCH = 500  # actions turned into rows at once: a cold cycle plans one per case
_DUE = "status = ? and (next_attempt_at is null or next_attempt_at <= ?)"  # and ready
READ_BATCH = 200  # outbox rows read at once by `Store.iter_due` and `Store.iter_status`


def _outbox_record(
    case_id: int, action: Action, stamp: str | None, landed: str | None
) -> dict[str, Any]:
    """A new outbox row, planned at `stamp`; `landed`: an attempt since then may have landed."""
    return {
        "key": action.key,
        "rule": action.rule,
        "case_id": case_id,
        "kind": action.kind,
        "target": action.target,
        "payload": json.dumps(dict(action.payload), default=str),
        "because": action.because,
        "status": Status.PLANNED.value,
        "attempts": 0,
        "created_at": stamp,
        "updated_at": stamp,
        "next_attempt_at": stamp,
        "claimed_at": landed,
    }


def _chunks(values: Iterable[T], size: int = 500) -> Iterator[list[T]]:
    """`values` in lists of `size` (the last one shorter), read as they come: SQLite
    takes a bounded number of `?` per statement, and a batch is all a caller holds."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _mirror_record(mirror: Mirror, kind: str, row_id: int) -> tuple[str, int, int, str]:
    if kind == "thirdparties":
        party = mirror.thirdparties[row_id]
        values = {f.name: getattr(party, f.name) for f in fields(party)}
        values["array_options"] = dict(party.array_options)
        return kind, row_id, row_id, json.dumps(values)
    row = mirror.related[kind][row_id]
    values = {f.name: getattr(row, f.name) for f in fields(row)}
    return kind, row_id, int(row.socid), json.dumps(values)


def read_step_places(path: Path) -> dict[int, StepPlace] | None:
    """`Store.step_places`, read without writing a byte (the dry-run audit)."""
    rows = _read_only(path, _PLACES_SQL, [])
    return None if rows is None else _places(rows)


@dataclass(frozen=True, slots=True)
class StepPlace:
    """A case's recorded steps and when it entered each, oldest first.

    The first record is where syncd first met the case, so its time says when
    syncd came, not when the case got there. A case in both processes has its
    two steps joined in one record (`welcome_call / partner_qualification`);
    when each process's own step was entered is read from the run of records
    that share it (`syncd.cycle.placed`).
    """

    history: tuple[tuple[str, datetime], ...]

    @property
    def step(self) -> str:
        return self.history[-1][0]

    @property
    def entered_at(self) -> datetime:
        return self.history[-1][1]

    @property
    def moved(self) -> bool:
        """False while the latest record is the case's first one."""
        return len(self.history) > 1


_PLACES_SQL = "select case_id, step, entered_at from step_history order by case_id, entered_at"


def _places(rows: Iterable[Sequence[Any]]) -> dict[int, StepPlace]:
    """Step places from (case, step, entered at) rows. Steps are few, and the cases a
    cycle moved share its time: one object each, not one per row."""
    history: dict[int, list[tuple[str, datetime]]] = {}
    steps: dict[str, str] = {}
    moments: dict[str, datetime] = {}
    for case_id, step, at in rows:
        name, text = str(step), str(at)
        moment = moments.get(text)
        if moment is None:
            moment = moments[text] = datetime.fromisoformat(text)
        history.setdefault(int(case_id), []).append((steps.setdefault(name, name), moment))
    return {case_id: StepPlace(tuple(records)) for case_id, records in history.items()}


OutboxState = tuple[str, str | None, str | None, str | None]  # as syncd.audit reads it


def read_outbox_states(path: Path) -> dict[str, OutboxState] | None:
    """Every action's (status, updated_at, next_attempt_at, last_error), read without
    writing a byte.

    For the dry-run audit beside a running daemon; None without a readable database.
    """
    sql = "select key, status, updated_at, next_attempt_at, last_error from outbox"
    rows = _read_only(path, sql, [])
    if rows is None:
        return None
    return {str(key): (str(status), updated, due, why) for key, status, updated, due, why in rows}


# Messages sent or still waiting to be sent (a failed or cancelled one reached nobody;
# a skipped one waits: it is asked about again, and would be sent once the person opts in).
_MESSAGES_SQL = (
    "select case_id, kind, rule, target, payload, created_at, key from outbox "
    "where kind in ('mautic.send_email', 'freescout.message') "
    "and status not in ('failed', 'cancelled') order by created_at, key"
)
MessageRow = tuple[int, str, str, str, dict[str, Any]]


def _message_rows(rows: Iterable[Sequence[Any]]) -> list[MessageRow]:
    return [
        (int(case_id), str(kind), str(rule), str(target or ""), json.loads(payload or "{}"))
        for case_id, kind, rule, target, payload, *_order in rows
    ]


def read_messages(path: Path) -> list[MessageRow] | None:
    """Every message sent or waiting (case, kind, rule, address, payload), read without
    writing a byte; None without a readable database."""
    rows = _read_only(path, _MESSAGES_SQL, [])
    return None if rows is None else _message_rows(rows)


def _read_only(path: Path, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]] | None:
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            return list(conn.execute(sql, list(params)).fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file; None when it is gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _case_of(key: str) -> int:
    parts = key.split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
