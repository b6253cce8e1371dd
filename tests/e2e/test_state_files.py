"""A state database syncd cannot use stops the real process with one line and sends nothing.

Each test damages or locks away the database (or its folder), then runs
`syncd run --once` against the four fakes over HTTP with a case that would
otherwise get a Matrix notice, and checks the fakes received no write.
File modes do not stop root, so as root the process runs without the
capabilities that bypass them (setpriv drops them from its bounding set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.store import Store
from tests.e2e.world import Served, served


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        yield w


def run_once(w: Served, state_db: Path) -> subprocess.CompletedProcess[str]:
    """`syncd run --once` on `state_db`, subject to file modes even when we are root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root ignores file modes and setpriv is missing")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "syncd.cli", "--config", str(w.config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**w.env(), "SYNCD_DAEMON_STATE_DB": str(state_db)},
        check=False,
    )


def writes(w: Served) -> int:
    fakes = (w.dolibarr, w.mautic, w.freescout, w.matrix)
    return sum(1 for fake in fakes for r in fake.requests if r.method != "GET")


def assert_refused(w: Served, state_db: Path, *said: str) -> None:
    done = run_once(w, state_db)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("syncd: ") and all(s in lines[0] for s in said), lines[0]
    assert writes(w) == 0


def fresh_db(folder: Path) -> Path:
    path = folder / "state.db"
    Store(path).close()
    return path


def test_a_truncated_database_is_refused(world: Served, tmp_path: Path) -> None:
    path = fresh_db(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_refused(world, path, str(path), "is damaged", "rebuild-state")


def test_random_bytes_are_refused(world: Served, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(os.urandom(8192))
    assert_refused(world, path, str(path), "is damaged (file is not a database)")


def test_an_unreadable_database_is_refused(world: Served, tmp_path: Path) -> None:
    path = fresh_db(tmp_path)
    path.chmod(0)
    assert_refused(world, path, str(path), "cannot use")


def test_a_database_in_a_read_only_folder_is_refused(world: Served, tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    path = fresh_db(folder)
    folder.chmod(0o555)
    try:
        assert_refused(world, path, str(folder), "cannot use")
    finally:
        folder.chmod(0o755)


def test_a_read_only_folder_is_refused_when_the_lock_file_exists(
    world: Served, tmp_path: Path
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    path = fresh_db(folder)
    (folder / "state.db.lock").touch(mode=0o600)
    folder.chmod(0o555)
    try:
        assert_refused(world, path, str(path), "cannot use")
    finally:
        folder.chmod(0o755)


def test_a_healthy_database_in_the_same_setup_sends(world: Served, tmp_path: Path) -> None:
    done = run_once(world, fresh_db(tmp_path))
    assert done.returncode == 0, done.stderr
    assert writes(world) > 0
