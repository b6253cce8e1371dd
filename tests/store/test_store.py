"""The state database: enqueue once, allowed transitions only, mirror and steps kept."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.lock import InstanceLock
from syncd.mirror import ContactRow, Mirror, PartyRow
from syncd.model import Action
from syncd.store import Status, Store, TransitionError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def action(key: str, kind: str = "matrix.notify") -> Action:
    return Action(
        kind, key, "sales", {"room": "sales", "text": "hi"}, "because", rule=key.split(":")[0]
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def test_planning_the_same_key_twice_adds_it_once(store: Store) -> None:
    assert store.enqueue([(1, action("signup_notify:1"))], NOW) == 1
    assert store.enqueue([(1, action("signup_notify:1")), (2, action("signup_notify:2"))], NOW) == 1
    assert [r.key for r in store.due(NOW)] == ["signup_notify:1", "signup_notify:2"]


def test_a_done_key_is_never_planned_again(store: Store) -> None:
    store.enqueue([(1, action("check_in_email:1"))], NOW)
    row = store.move(store.due(NOW)[0], Status.SENDING, NOW)
    store.move(row, Status.DONE, NOW)
    assert store.enqueue([(1, action("check_in_email:1"))], NOW + timedelta(days=3)) == 0
    assert store.due(NOW + timedelta(days=3)) == []


def test_transitions_outside_the_table_are_refused(store: Store) -> None:
    store.enqueue([(1, action("signup_notify:1"))], NOW)
    row = store.due(NOW)[0]
    with pytest.raises(TransitionError, match="planned → skipped is not allowed"):
        store.move(row, Status.SKIPPED, NOW)
    done = store.move(store.move(row, Status.SENDING, NOW), Status.DONE, NOW)
    with pytest.raises(TransitionError):
        store.move(done, Status.PLANNED, NOW)


def test_a_stale_row_cannot_be_claimed_twice(store: Store) -> None:
    store.enqueue([(1, action("signup_notify:1"))], NOW)
    row = store.due(NOW)[0]
    store.move(row, Status.SENDING, NOW)
    with pytest.raises(TransitionError, match="no longer planned"):
        store.move(row, Status.SENDING, NOW)


def test_retry_waits_for_next_attempt_at(store: Store) -> None:
    store.enqueue([(1, action("signup_notify:1"))], NOW)
    row = store.move(store.due(NOW)[0], Status.SENDING, NOW)
    store.move(row, Status.PLANNED, NOW, next_attempt_at=NOW + timedelta(minutes=5))
    assert store.due(NOW + timedelta(minutes=4)) == []
    assert len(store.due(NOW + timedelta(minutes=5))) == 1


def test_reopening_applies_no_migration_twice_and_keeps_data(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").enqueue([(1, action("signup_notify:1"))], NOW)
    again = Store(tmp_path / "s.db")
    assert again.counts() == {"planned": 1}


def test_mirror_cursors_and_steps_survive_a_restart(tmp_path: Path) -> None:
    mirror = Mirror()
    mirror.put(
        "thirdparties",
        PartyRow(4, "Acme", "Acme", "a@x.example", "FR", 1, None, {"logins_count": "7"}),
    )
    mirror.put("contacts", ContactRow(9, 4, "Claire Martin", "c@x.example"))
    mirror.set_members("trial", {4})
    mirror.category_ids["trial"] = 1
    mirror.cursors["thirdparties"] = NOW
    mirror.polls = 3
    store = Store(tmp_path / "s.db")
    store.save_cycle(mirror, [(4, "signup")], NOW, NOW, {"ok": 1})
    store.save_cycle(mirror, [(4, "qualification")], NOW + timedelta(days=1), NOW, {"ok": 1})
    store.save_cycle(mirror, [(4, "qualification")], NOW + timedelta(days=2), NOW, {"ok": 1})
    loaded = Store(tmp_path / "s.db").load_mirror()
    assert loaded.thirdparties == mirror.thirdparties
    assert loaded.related["contacts"] == mirror.related["contacts"]
    assert loaded.members == {"trial": {4}} and loaded.category_ids == {"trial": 1}
    assert loaded.cursors == {"thirdparties": NOW} and loaded.polls == 3
    history = store.step_history(4)
    assert [step for step, _ in history] == ["signup", "qualification"]


def test_rebuild_marks_remote_keys_done(store: Store) -> None:
    store.enqueue([(1, action("signup_notify:1"))], NOW)
    assert store.mark_done_from_remote(["signup_notify:1", "check_in_email:2"], NOW) == 2
    assert store.counts() == {"done": 2}
    assert store.enqueue([(2, action("check_in_email:2", "mautic.send_email"))], NOW) == 0


def test_the_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        store = Store(tmp_path / "state.db")
        store.enqueue([(1, action("signup_notify:1"))], NOW)
        names = ["state.db", "state.db-wal", "state.db-shm"]
        modes = {n: stat.S_IMODE((tmp_path / n).stat().st_mode) for n in names}
        store.close()
    finally:
        os.umask(umask)
    assert modes == dict.fromkeys(names, 0o600)


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        with InstanceLock(tmp_path / "state.db") as lock:
            mode = stat.S_IMODE(lock.path.stat().st_mode)
    finally:
        os.umask(umask)
    assert mode == 0o600


def test_invoices_mirrored_before_invoice_types_are_read_again(tmp_path: Path) -> None:
    mirror = Mirror()
    mirror.put("thirdparties", PartyRow(4, "Acme", "Acme", "", "FR", 1, None, {}))
    mirror.put("contacts", ContactRow(9, 4, "Claire Martin", "c@x.example"))
    mirror.cursors.update(thirdparties=NOW, invoices=NOW)
    store = Store(tmp_path / "s.db")
    store.save_cycle(mirror, [], NOW, NOW, {"ok": 1})
    # As an older syncd left it: an invoice row with no type, and m004 not yet applied.
    old_row = (
        '{"id": 3, "socid": 4, "ref": "AV-1", "is_paid": true, "total_ht": "-9", "currency": ""}'
    )
    store.db.execute(
        "insert into mirror_rows (kind, id, socid, data) values ('invoices', 3, 4, ?)", [old_row]
    )
    store.db.execute("delete from _sqlite_migrations where name = 'm004_invoice_types'")
    store.db.conn.commit()
    store.close()
    loaded = Store(tmp_path / "s.db").load_mirror()
    assert loaded.related["invoices"] == {}  # a credit note must not pass for a paid invoice
    assert loaded.cursors == {"thirdparties": NOW}  # so every invoice is read again
    assert loaded.related["contacts"] == mirror.related["contacts"]


def test_only_changed_mirror_rows_are_written_and_deletions_reach_the_file(
    tmp_path: Path,
) -> None:
    mirror = Mirror()
    for socid in (4, 5, 6):
        mirror.put("thirdparties", PartyRow(socid, f"T{socid}", f"T{socid}", "", "FR", 1, None, {}))
    mirror.put("contacts", ContactRow(9, 5, "Claire Martin", "c@x.example"))
    mirror.set_members("trial", {4, 5})
    store = Store(tmp_path / "s.db")
    store.save_cycle(mirror, [], NOW, NOW, {"ok": 1})
    assert not mirror.dirty
    changes: list[str] = []
    store.db.conn.set_trace_callback(changes.append)
    mirror.put("thirdparties", PartyRow(4, "T4", "Renamed", "", "FR", 1, None, {}))
    mirror.forget(5)  # deleted in Dolibarr: its contact and tag go with it
    store.save_cycle(mirror, [], NOW, NOW, {"ok": 1})
    store.db.conn.set_trace_callback(None)
    written = [c for c in changes if "mirror_rows" in c and c.startswith(("insert", "delete"))]
    assert len(written) == 3  # T4 rewritten, T5 and its contact deleted; T6 untouched
    loaded = Store(tmp_path / "s.db").load_mirror()
    assert loaded.thirdparties == mirror.thirdparties and 5 not in loaded.thirdparties
    assert loaded.related["contacts"] == {} and loaded.members == {"trial": {4}}


def test_a_state_file_replaced_under_the_daemon_gets_the_whole_mirror(tmp_path: Path) -> None:
    mirror = Mirror()
    mirror.put("thirdparties", PartyRow(4, "T4", "T4", "", "FR", 1, None, {}))
    store = Store(tmp_path / "s.db")
    store.save_cycle(mirror, [], NOW, NOW, {"ok": 1})
    other = tmp_path / "other.db"
    Store(other).db.close()
    os.replace(other, tmp_path / "s.db")  # a person restored an empty copy
    assert store.check_file() is not None
    store.save_cycle(mirror, [], NOW, NOW, {"ok": 1})
    assert Store(tmp_path / "s.db").load_mirror().thirdparties == mirror.thirdparties
