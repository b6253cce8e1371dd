"""The integration tier: syncd's real process against a real Synapse on 127.0.0.1.

Collected only when `SYNCD_SYNAPSE` names the python of a virtual environment
holding matrix-synapse (`make test-integration` builds one under .cache/), so
`make test` stays fast and needs nothing but the project's own venv.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import serve
from tests.integration.synapse import Homeserver, User, running

SYNAPSE = os.environ.get("SYNCD_SYNAPSE", "")
collect_ignore_glob = [] if SYNAPSE else ["test_*.py"]
_names = count(1)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    with running(SYNAPSE, tmp_path_factory.mktemp("synapse")) as server:
        yield server


@dataclass
class Site:
    """One test's world: a fresh bot user, rooms of versions 11 and 12, a fake Dolibarr."""

    folder: Path
    homeserver: Homeserver
    dolibarr: FakeDolibarr
    dolibarr_url: str
    bot: User
    owner: User
    rooms: dict[str, str]  # "v11", "v12" → room id; "#v11", "#v12" → alias
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.folder / "syncd.ini"

    def add_trials(self, n: int) -> list[str]:
        """`n` trials signed up today; the keys of their signup notices."""
        today = time.strftime("%Y-%m-%d", time.gmtime(self.dolibarr.now))
        keys = []
        for _ in range(n):
            k = next(_names)
            socid = self.dolibarr.add_thirdparty(
                f"Trial {k}",
                email=f"trial{k}@example.org",
                tags=("Trial",),
                array_options={"signup_date": today},
            )
            keys.append(f"signup_notify:{socid}")
        return keys

    def write_config(
        self, room: str, token: str | None = None, homeserver: str | None = None, extra: str = ""
    ) -> None:
        self.config.write_text(
            f"[dolibarr]\nurl = {self.dolibarr_url}\napi_key = {self.dolibarr.api_key}\n"
            f"timeout = 20\n\n"
            f"[daemon]\nstate_db = {self.folder / 'state.db'}\nlog_level = INFO\n"
            f"poll_interval = 1\n\n"
            f"[matrix]\nhomeserver = {homeserver or self.homeserver.url}\n"
            f"access_token = {token or self.bot.token}\nroom_sales = {room}\n" + extra
        )
        self.config.chmod(0o600)

    def settle_in(self, room: str, **config: str) -> None:
        """A state database in use for days: past its careful first day, in which every
        new action is looked for remotely before it is sent (design.md)."""
        self.write_config(room, **config)
        self.add_trials(1)  # something on Dolibarr's timeline: the database knows it
        for _ in range(2):  # the second start takes the timeline in
            assert self.syncd("run", "--once").returncode == 0
        with sqlite3.connect(self.folder / "state.db") as db:
            days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
            db.execute("update meta set value = ? where key = 'recovered_at'", [days_ago])

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
        return {**clean, "PYTHONUNBUFFERED": "1"}

    def syncd(
        self, *args: str, timeout: float = 180, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncd.cli", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env(), **env},
            check=False,
        )

    def start(self, log: Path) -> subprocess.Popen[str]:
        with log.open("w") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "syncd.cli", "--config", str(self.config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=out,
                text=True,
                env=self.env(),
            )

    def keys(self, room: str) -> list[str]:
        return self.homeserver.keys(self.owner, room)


@pytest.fixture
def site(tmp_path: Path, homeserver: Homeserver) -> Iterator[Site]:
    n = next(_names)
    bot, owner = homeserver.register(f"syncd{n}"), homeserver.register(f"owner{n}")
    rooms: dict[str, str] = {}
    for version in ("11", "12"):
        alias = f"sales{version}-{n}"
        rooms[f"v{version}"] = homeserver.create_room(owner, version, alias, invite=bot)
        rooms[f"#v{version}"] = f"#{alias}:localhost"
    dolibarr = FakeDolibarr(now=time.time())
    for label in SYNCD_CATEGORIES:
        dolibarr.category_id(label)
    with ExitStack() as stack:
        url = stack.enter_context(serve(dolibarr))
        yield Site(tmp_path, homeserver, dolibarr, url, bot, owner, rooms)
