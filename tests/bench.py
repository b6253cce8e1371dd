"""`make bench`: figures for a large Dolibarr, printed, never asserted.

A fake Dolibarr with many trials, served on 127.0.0.1, read by a full first
cycle and then by idle cycles; prints time, requests and peak memory.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import serve
from syncd.cli import load
from syncd.cycle import read_and_plan
from syncd.daemon import dolibarr_client
from syncd.mirror import Mirror


def seed(fake: FakeDolibarr, count: int) -> None:
    for label in SYNCD_CATEGORIES:
        fake.category_id(label)
    start = date(2026, 11, 1)
    for n in range(count):
        tags = ("Trial", "ICP-fit") if n % 3 else ("Trial",)
        fake.add_thirdparty(
            f"Company {n}",
            email=f"c{n}@example.com",
            tags=tags,
            array_options={
                "signup_date": start + timedelta(days=n % 20),
                "logins_count": n % 7,
                "frameworks_mapped": n % 2,
            },
        )


def main(count: int = 2000) -> None:
    fake = FakeDolibarr()
    seed(fake, count)
    with tempfile.TemporaryDirectory() as tmp, serve(fake) as url:
        ini = Path(tmp) / "bench.ini"
        ini.write_text(
            f"[dolibarr]\nurl = {url}\napi_key = test-key\ntimezone = Europe/Paris\n"
            f"page_size = 500\n[daemon]\nlog_level = ERROR\n"
        )
        ini.chmod(0o600)
        config, ruleset = load(str(ini))
        client, mirror = dolibarr_client(config), Mirror()
        now = datetime.fromtimestamp(fake.now, UTC)
        tracemalloc.start()
        for label in ("first (full) cycle", "idle cycle", "idle cycle"):
            fake.clear_log()
            began = time.perf_counter()
            plan = read_and_plan(client, mirror, config, ruleset, now)
            elapsed = time.perf_counter() - began
            actions = sum(len(r.actions) for r in plan.reports)
            print(
                f"{label:20} {count} cases  {elapsed:6.2f} s  {fake.count():4} requests  "
                f"{actions} actions planned"
            )
            now += timedelta(minutes=10)
            fake.now += 600
        _, peak = tracemalloc.get_traced_memory()
        print(f"peak traced memory: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
