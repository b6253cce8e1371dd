"""The four fakes served over real HTTP on 127.0.0.1, and a `syncd` process to point at them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.seed import SYNCD_CATEGORIES, seed_systems
from connectors.fakes.web import DEFAULT_STALL, serve
from syncd.demo import write_config


class Slow:
    """A fake that takes `delay` seconds to answer requests under a path prefix."""

    def __init__(self, fake: Any, prefix: str, delay: float) -> None:
        self.fake, self.prefix, self.delay = fake, prefix, delay

    def handle(self, method: str, path: str, *args: Any) -> Any:
        if path.startswith(self.prefix) and method != "GET":
            time.sleep(self.delay)
        return self.fake.handle(method, path, *args)


@dataclass
class Served:
    folder: Path
    dolibarr: FakeDolibarr
    mautic: FakeMautic
    freescout: FreescoutFake
    matrix: FakeMatrix
    config: Path
    now: datetime

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.now += step
        for fake in (self.dolibarr, self.mautic, self.freescout, self.matrix):
            fake.now += step.total_seconds()

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
        return {**clean, "SYNCD_DAEMON_NOW": self.now.isoformat(), "PYTHONUNBUFFERED": "1"}

    def syncd(
        self, *args: str, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncd.cli", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env(), **env},
            check=False,
        )

    def start(self, *args: str, stderr: Path, **env: str) -> subprocess.Popen[str]:
        with stderr.open("w") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                [sys.executable, "-m", "syncd.cli", "--config", str(self.config), *args],
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
                env={**self.env(), **env},
            )


@contextmanager
def served(
    folder: Path, slow_matrix: float = 0.0, extra: str = "", stall: float = DEFAULT_STALL
) -> Iterator[Served]:
    """The four fakes on 127.0.0.1; `stall`: how long a `timeout` fault keeps a socket silent."""
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    dolibarr = FakeDolibarr(now=start.timestamp())
    for label in SYNCD_CATEGORIES:
        dolibarr.category_id(label)
    mautic = FakeMautic(now=start.timestamp())
    freescout = FreescoutFake(now=start.timestamp())
    matrix = FakeMatrix(server_name="demo.local", now=start.timestamp())
    seed_systems(mautic, freescout, matrix)
    matrix_server: Any = Slow(matrix, "/_matrix", slow_matrix) if slow_matrix else matrix
    with ExitStack() as stack:
        urls = {
            "dolibarr": stack.enter_context(serve(dolibarr, stall)),
            "mautic": stack.enter_context(serve(mautic, stall)),
            "freescout": stack.enter_context(serve(freescout, stall)),
            "matrix": stack.enter_context(serve(matrix_server, stall)),
        }
        config = write_config(folder, urls, dolibarr.api_key, start)
        if extra:
            config.write_text(config.read_text() + extra)
        yield Served(folder, dolibarr, mautic, freescout, matrix, config, start)


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql).fetchall())


Env = Mapping[str, str]
