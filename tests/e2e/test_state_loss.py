"""The real `syncd` process when its state database is lost, emptied, replaced or moved.

Disks and admins lose state: a new disk, a wrong path, a restore that missed
the file, `rm` under a running daemon, a config edit followed by a reload.
Whatever happens to the file, what was sent is not sent again; the fakes'
own records are the judge.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.world import Served, rows, served, text, wait_for

SALES = "!sales:demo.local"
SUCCESS = "!success:demo.local"


def seed(w: Served) -> None:
    """Cases that make emails, messages, notices, events and notes on the first runs."""
    d = w.dolibarr
    day = w.now.astimezone(d.tz).date()
    partner = d.add_thirdparty(
        "Quartz Partners", email="q@quartz.example", tags=("Partner-Active",)
    )
    for n in range(3):
        socid = d.add_thirdparty(
            f"Trial {n}",
            email=f"t{n}@x.example",
            tags=("Trial", "ICP-fit"),
            array_options={"signup_date": day - timedelta(days=8), "referred_by": partner},
        )
        if n == 2:
            d.add_invoice(socid, f"FA-{n}", "100.00", paid=True)


def effects(w: Served) -> tuple[object, ...]:
    """Everything the outside world received, from the fakes' own records."""
    d = w.dolibarr
    emails = sorted({str(tp.fields.get("email") or "") for tp in d.thirdparties.values()})
    return (
        sorted(m.subject + m.to for e in emails if e for m in w.freescout.messages_to(e)),
        sorted(str(e.email_id) + e.to for e in w.mautic.sent()),
        sorted(w.matrix.messages(SALES) + w.matrix.messages(SUCCESS)),
        sorted(e.label for e in d.events.values()),
        sorted(str(tp.fields.get("note_private") or "") for tp in d.thirdparties.values()),
    )


def run_once(w: Served) -> None:
    done = w.syncd("run", "--once")
    assert done.returncode == 0, done.stderr


def delete(db: Path) -> None:
    for leftover in db.parent.glob(db.name + "*"):
        if not leftover.name.endswith(".lock"):
            leftover.unlink()


def replace(db: Path, content: bytes) -> None:
    delete(db)
    db.write_bytes(content)


LOSSES: dict[str, Callable[[Path, bytes], None]] = {
    "deleted": lambda db, _old: delete(db),
    "empty file": lambda db, _old: replace(db, b""),
    "restored from an old backup": replace,
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_run_once_on_a_lost_state_database_sends_nothing_again(tmp_path: Path, loss: str) -> None:
    with served(tmp_path) as w:
        db = tmp_path / "syncd-demo.db"
        run_once(w)  # an empty Dolibarr: the database that a backup would hold
        old = db.read_bytes()
        seed(w)
        for _ in range(3):
            run_once(w)
            w.advance(hours=6)
        before = effects(w)
        assert before[0] and before[1] and before[2]  # messages, emails and notices went out
        LOSSES[loss](db, old)
        again = w.syncd("run", "--once", SYNCD_DAEMON_LOG_LEVEL="INFO")
        assert again.returncode == 0, again.stderr
        assert "0 done" in again.stdout
        assert effects(w) == before
        assert "Dolibarr's timeline shows done" in again.stderr


def test_deleting_the_database_under_a_running_daemon_loses_and_resends_nothing(
    tmp_path: Path,
) -> None:
    with served(tmp_path) as w:
        seed(w)
        db = tmp_path / "syncd-demo.db"
        log = tmp_path / "daemon.log"
        proc = w.start(
            "run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO", SYNCD_DAEMON_POLL_INTERVAL="1"
        )
        try:
            wait_for(lambda: text(log).count("cycle ok") >= 3, what="the seeded work done")
            done = rows(db, "select count(*) from outbox where status = 'done'")[0][0]
            before = effects(w)
            delete(db)
            wait_for(lambda: "was deleted while syncd ran" in text(log), what="the deletion seen")
            wait_for(lambda: db.exists(), what="the file written back")
            w.dolibarr.add_thirdparty(
                "Late Trial",
                email="late@x.example",
                tags=("Trial",),
                array_options={"signup_date": w.now.date()},
            )
            wait_for(lambda: len(effects(w)[2]) > len(before[2]), what="the new case's notice")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        assert rows(db, "select count(*) from outbox where status = 'done'")[0][0] > done
        assert rows(db, "pragma integrity_check") == [("ok",)]
        after = effects(w)
        assert after[0] == before[0] and after[1] == before[1]
        assert sorted(set(after[2]) - set(before[2])) == [
            "New trial signup: Late Trial, late@x.example, signed up 2026-11-23."
        ]
        assert len(after[2]) == len(before[2]) + 1


def test_a_reload_that_moves_the_state_database_is_refused(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        seed(w)
        log = tmp_path / "daemon.log"
        proc = w.start(
            "run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO", SYNCD_DAEMON_POLL_INTERVAL="1"
        )
        try:
            wait_for(lambda: text(log).count("cycle ok") >= 3, what="the seeded work done")
            before = effects(w)
            moved = tmp_path / "elsewhere.db"
            w.config.write_text(w.config.read_text().replace("syncd-demo.db", "elsewhere.db"))
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "state_db cannot change on reload" in text(log), what="refusal")
            cycles = len(rows(tmp_path / "syncd-demo.db", "select id from cycles"))
            wait_for(
                lambda: len(rows(tmp_path / "syncd-demo.db", "select id from cycles")) > cycles,
                what="cycles go on with the old database",
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        assert not moved.exists()
        assert effects(w) == before
