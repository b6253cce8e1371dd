"""A system that is down costs a cycle seconds, is named, and loses nothing.

The real `syncd` process against the fakes on 127.0.0.1, with one system moved
to a port where nothing listens (connection refused).
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from tests.e2e.world import rows, served, text

DB = "syncd-demo.db"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_mautic_costs_seconds_and_its_actions_wait_planned(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    with served(tmp_path) as w:
        for n in range(30):
            w.dolibarr.add_thirdparty(
                f"Trial {n}",
                email=f"t{n}@x.example",
                tags=("Trial",),
                array_options={"signup_date": w.now.date()},
            )
        started = time.monotonic()
        once = w.syncd("run", "--once", SYNCD_MAUTIC_URL=dead)
        took = time.monotonic() - started
        assert took < 20, f"{took:.1f} s"  # 30 Mautic actions, each retried: minutes
        assert once.returncode == 1, once.stdout + once.stderr
        assert once.stdout.startswith("cycle degraded: "), once.stdout
        said = f"waiting (down: Mautic at {dead}: connection refused)"
        assert said in once.stdout.splitlines()[0]
        db = tmp_path / DB
        mautic = "select status, count(*) from outbox where kind like 'mautic.%' group by status"
        assert rows(db, mautic) == [("planned", 30)]
        assert w.matrix.messages("!sales:demo.local")  # the other systems went on
        status = w.syncd("status", SYNCD_MAUTIC_URL=dead)
        assert status.returncode == 1
        assert f"! down in the last cycle: Mautic at {dead}: connection refused" in status.stdout
        assert "health: needs attention" in status.stdout

        w.advance(minutes=10)  # Mautic is back
        back = w.syncd("run", "--once")
        assert back.returncode == 0, back.stdout + back.stderr
        assert back.stdout.startswith("cycle ok: "), back.stdout
        assert rows(db, mautic) == [("done", 30)]
        assert len(w.mautic.contacts) == 30
        assert w.syncd("status").returncode == 0


def test_an_unknown_dolibarr_host_is_one_readable_line(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        bad = "http://erp.invalid"
        done = w.syncd("--dry-run", SYNCD_DOLIBARR_URL=bad)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1] == (
            f"syncd: could not reach Dolibarr at {bad}: name not found"
        )


def test_a_dead_dolibarr_is_tried_less_and_less_often_one_line_each_time(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    with served(tmp_path) as w:
        log = tmp_path / "daemon.log"
        env = {"SYNCD_DOLIBARR_URL": dead, "SYNCD_DAEMON_POLL_INTERVAL": "1"}
        proc = w.start("run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO", **env)
        try:
            time.sleep(7.5)  # every second without a pause: 7 failed cycles
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        failed = [line for line in text(log).splitlines() if " failed: " in line]
        assert 2 <= len(failed) <= 4, failed  # tried at 0, 1, 3 and 7 s
        for n, line in enumerate(failed, 1):
            said = f"ERROR   cycle {n} failed: Dolibarr at {dead}: connection refused; next try in "
            assert said in line, line
        assert "retry" not in text(log)
        status = w.syncd("status", **env)
        assert status.returncode == 1
        assert f"FAILED: Dolibarr at {dead}: connection refused" in status.stdout
        assert f"! down in the last cycle: Dolibarr at {dead}: connection refused" in status.stdout


def test_a_mautic_that_never_answers_is_down_after_three_timeouts(tmp_path: Path) -> None:
    with served(tmp_path, stall=3.0) as w:
        for n in range(10):
            w.dolibarr.add_thirdparty(
                f"Trial {n}",
                email=f"t{n}@x.example",
                tags=("Trial",),
                array_options={"signup_date": w.now.date()},
            )
        w.mautic.timeout("GET", "/api/contacts", times=None)
        started = time.monotonic()
        once = w.syncd("run", "--once", SYNCD_DOLIBARR_TIMEOUT="0.5")
        took = time.monotonic() - started
        assert took < 15, f"{took:.1f} s"  # 10 actions × 5 attempts × 0.5 s, and back-offs
        assert once.returncode == 1, once.stdout + once.stderr
        assert "Mautic at http://127.0.0.1:" in once.stdout
        assert ": no answer within 0.5 s)" in once.stdout.splitlines()[0]
        contacts = [r for r in w.mautic.requests if "/api/contacts" in str(r)]
        assert len(contacts) == 3
