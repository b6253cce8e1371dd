"""Under systemd, log lines carry their syslog priority; at DEBUG each request is logged.

The real `syncd` process, its stderr a file whose device and inode are given in
`JOURNAL_STREAM`, as systemd does for a service whose stderr is the journal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.world import Served, served


def run_to_journal(w: Served, log: Path, *args: str, **env: str) -> int:
    with log.open("w") as stream:
        found = os.fstat(stream.fileno())
        journal = {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        return subprocess.run(
            [sys.executable, "-m", "syncd.cli", "--config", str(w.config), *args],
            stdout=subprocess.DEVNULL,
            stderr=stream,
            env={**w.env(), **journal, **env},
            timeout=60,
            check=False,
        ).returncode


def test_errors_reach_the_journal_as_errors_and_debug_shows_each_request(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster",
            email="a@x.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        w.matrix.fail("PUT", "/_matrix", status=400, times=None)  # every notice fails
        log = tmp_path / "journal.txt"
        assert run_to_journal(w, log, "run", "--once", SYNCD_DAEMON_LOG_LEVEL="DEBUG") == 0
        lines = log.read_text().splitlines()
        assert lines and all(re.match(r"<[2-7]>", line) for line in lines), lines
        assert any(line.startswith("<3>") and "cycle degraded: " in line for line in lines)
        assert any(line.startswith("<3>") and "failed: matrix PUT" in line for line in lines)
        assert any(line.startswith("<6>") and "action step_writeback:" in line for line in lines)
        request = re.compile(r"^<7>\S+ \S+ DEBUG +dolibarr GET /thirdparties → 200 in \d+ ms")
        assert any(request.match(line) for line in lines), lines
        assert w.dolibarr.api_key not in log.read_text()


def test_a_startup_error_is_an_error_in_the_journal(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        log = tmp_path / "journal.txt"
        assert run_to_journal(w, log, "run", "--once", SYNCD_DAEMON_POLL_INTERVAL="soon") == 2
        assert log.read_text().startswith("<3>syncd: "), log.read_text()


def test_without_the_journal_lines_carry_no_prefix(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        done = w.syncd("run", "--once", SYNCD_DAEMON_LOG_LEVEL="INFO", JOURNAL_STREAM="1:2")
        assert done.returncode == 0
        assert done.stderr and not done.stderr.startswith("<")
