"""The real `syncd` process against the fakes over real HTTP on 127.0.0.1.

These are the sysadmin's and the newcomer's views: a journey run by
`run --once` over simulated days, SIGTERM mid-cycle then a restart, SIGHUP with
a good and a broken config, two instances on one database, `status` as a
monitoring check, and the systemd notifications.
"""

from __future__ import annotations

import signal
import socket
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tests.e2e.world import rows, served, text, wait_for

SALES = "!sales:demo.local"


def test_journey_by_run_once_sends_each_effect_once(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        d = w.dolibarr
        signup = w.now.astimezone(d.tz).date()
        aster = d.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": signup},
        )
        assert w.syncd("run", "--once").returncode == 0
        w.advance(days=2)
        d.tag(aster, "ICP-fit")
        for _ in range(6):
            done = w.syncd("run", "--once")
            assert done.returncode == 0, done.stderr
            w.advance(days=1)
        d.add_invoice(aster, "FA-1", "490.00", paid=True)
        for _ in range(3):
            assert w.syncd("run", "--once").returncode == 0
            w.advance(days=1)
        # the welcome-call offer, and the hand-off's invitation to the support channel
        assert len(w.freescout.messages_to("jane@aster.example")) == 2
        assert len(w.mautic.sent(to="jane@aster.example")) == 1  # the day-7 check-in
        sales = w.matrix.messages(SALES)
        assert sales and len(sales) == len(set(sales))
        labels = Counter(
            e.label.split(" ")[1] for e in d.events.values() if e.label.startswith("[syncd] ")
        )
        assert max(labels.values()) == 1
        status = w.syncd("status")
        assert status.returncode == 0, status.stdout
        assert "handoff 1" in status.stdout


def test_sigterm_mid_cycle_then_restart_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with served(tmp_path, slow_matrix=0.3) as w:
        for n in range(8):
            w.dolibarr.add_thirdparty(
                f"Trial {n}",
                email=f"t{n}@x.example",
                tags=("Trial",),
                array_options={"signup_date": w.now.date()},
            )
        log = tmp_path / "daemon.log"
        alone = {"SYNCD_MATRIX_DIGEST_AFTER": "0"}  # one notice at a time, to stop between
        proc = w.start("run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO", **alone)
        wait_for(lambda: len(w.matrix.messages(SALES)) >= 2, what="a few notices sent")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        db = tmp_path / "syncd-demo.db"
        assert rows(db, "select count(*) from outbox where status = 'sending'") == [(0,)]
        sent_before = len(w.matrix.messages(SALES))
        assert sent_before < 8  # it stopped mid-cycle
        assert w.syncd("run", "--once", **alone).returncode == 0
        messages = w.matrix.messages(SALES)
        assert len(messages) == 8 and len(set(messages)) == 8
        assert "SIGTERM received" in text(log)


def test_sighup_reloads_a_good_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        log = tmp_path / "daemon.log"
        proc = w.start(
            "run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO", SYNCD_DAEMON_POLL_INTERVAL="1"
        )
        try:
            wait_for(lambda: "syncd started" in text(log), what="start")
            good = w.config.read_text().replace("log_level = WARNING", "log_level = INFO")
            w.config.write_text(good)
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded" in text(log), what="reload")
            w.config.write_text(good.replace("timezone = Europe/Paris", "timezone = Mars/Olympus"))
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in text(log), what="refusal")
            assert "timezone" in text(log).split("reload refused", 1)[1]
            cycles = len(rows(tmp_path / "syncd-demo.db", "select id from cycles"))
            wait_for(
                lambda: len(rows(tmp_path / "syncd-demo.db", "select id from cycles")) > cycles,
                what="cycles go on with the old config",
            )
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


def test_a_second_instance_on_the_same_database_exits_2_naming_the_first(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        log = tmp_path / "daemon.log"
        proc = w.start("run", stderr=log, SYNCD_DAEMON_LOG_LEVEL="INFO")
        try:
            wait_for(lambda: "syncd started" in text(log), what="start")
            second = w.syncd("run", "--once")
            assert second.returncode == 2
            assert f"another syncd (PID {proc.pid}) is already running" in second.stderr
            status = w.syncd("status")
            assert f"daemon: running (PID {proc.pid})" in status.stdout
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        assert "daemon: not running" in w.syncd("status").stdout


def test_status_exit_code_follows_health(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        assert w.syncd("status").returncode == 1  # no state yet
        w.dolibarr.add_thirdparty(
            "Aster",
            email="a@x.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        assert w.syncd("run", "--once").returncode == 0
        assert w.syncd("status").returncode == 0
        w.dolibarr.fail("GET", "/thirdparties", status=401, times=None)
        failed = w.syncd("run", "--once")
        assert failed.returncode == 1
        status = w.syncd("status")
        assert status.returncode == 1 and "FAILED" in status.stdout


def test_systemd_hears_ready_status_and_stopping(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    with served(tmp_path) as w:
        proc = w.start(
            "run", stderr=tmp_path / "daemon.log", NOTIFY_SOCKET=str(path), WATCHDOG_USEC="2000000"
        )
        heard: list[str] = []
        try:
            while not any(m.startswith("STATUS=cycle 1") for m in heard):
                heard += sock.recv(4096).decode().splitlines()
            assert "READY=1" in heard
            while "WATCHDOG=1" not in heard:
                heard += sock.recv(4096).decode().splitlines()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        while "STOPPING=1" not in heard:
            heard += sock.recv(4096).decode().splitlines()
    assert any(m.startswith("STATUS=cycle 1 ok") for m in heard)


def test_logs_never_show_a_secret(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        w.dolibarr.fail(
            "GET",
            "/thirdparties",
            status=500,
            times=None,
            body='{"error": {"code": 500, "message": "key test-key refused"}}',
        )
        done = w.syncd("run", "--once", SYNCD_DAEMON_LOG_LEVEL="DEBUG")
        assert done.returncode == 1
        assert "test-key" not in done.stderr and "***" in done.stderr


@pytest.mark.parametrize("fmt", ["json"])
def test_json_logs_are_one_object_per_line(tmp_path: Path, fmt: str) -> None:
    import json

    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster",
            email="a@x.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date() - timedelta(days=1)},
        )
        done = w.syncd("run", "--once", SYNCD_DAEMON_LOG_LEVEL="INFO", SYNCD_DAEMON_LOG_FORMAT=fmt)
        assert done.returncode == 0
        events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
        assert any(e.get("key", "").startswith("signup_notify:") for e in events)
        assert all({"time", "level", "message"} <= set(e) for e in events)


def test_sigterm_does_not_wait_out_a_long_retry_after(tmp_path: Path) -> None:
    import time

    with served(tmp_path) as w:
        w.dolibarr.fail(
            "GET", "/categories", status=429, headers={"Retry-After": "300"}, times=None
        )
        proc = w.start("run", stderr=tmp_path / "daemon.log")
        wait_for(lambda: w.dolibarr.count("GET", "/categories") >= 1, what="the first 429")
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - began < 10


def test_a_long_rate_limit_wait_keeps_the_watchdog_fed_and_yields_to_sigterm(
    tmp_path: Path,
) -> None:
    import time

    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster", email="a@x.example", tags=("Trial",), array_options={"signup_date": w.now}
        )
        w.matrix.rate_limit(1, retry_after_ms=60_000)  # Synapse asks for up to 300 s
        proc = w.start(
            "run", stderr=tmp_path / "daemon.log", NOTIFY_SOCKET=str(path), WATCHDOG_USEC="2000000"
        )
        try:
            wait_for(lambda: w.matrix.count("PUT") >= 1, what="the 429")
            pings: list[float] = []
            began = time.monotonic()
            while time.monotonic() - began < 5:
                if "WATCHDOG=1" in sock.recv(4096).decode().splitlines():
                    pings.append(time.monotonic())
            assert len(pings) >= 4
            assert max(b - a for a, b in pairwise(pings)) < 2.0
            assert w.matrix.count("PUT") == 1  # still waiting, not hammering
        finally:
            stopped = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        assert time.monotonic() - stopped < 5
        assert w.matrix.messages(SALES) == []
        w.advance(minutes=5)
        assert w.syncd("run", "--once").returncode == 0
        assert len(w.matrix.messages(SALES)) == 1
