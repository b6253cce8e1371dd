"""`make bench` still runs: once at a tiny size, checking its report's shape, never its figures.

Timing is the bench's business, not the suite's: nothing here asserts a duration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.bench.report import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent


def test_bench_at_a_tiny_size_reports_every_scenario(tmp_path: Path) -> None:
    written = tmp_path / "performance.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench",
            "--sizes",
            "50",
            "--rounds",
            "1",
            "--quiet",
            "--write",
            str(written),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| 50 | ")]
    assert [line.split(" | ")[1] for line in table[: len(SCENARIOS)]] == list(SCENARIOS)
    for heading in ("## Findings", "### Where the time goes: idle", "### Issue 13's targets"):
        assert heading in done.stdout
    assert written.read_text().endswith(done.stdout)


def test_the_bench_fake_answers_as_the_fake_does() -> None:
    """Its shortcuts (owner index, label prefilter, one selection per list) change no answer."""
    from connectors.fakes.dolibarr import FakeDolibarr
    from tests.bench import world
    from tests.bench.server import BenchDolibarr

    fakes = [FakeDolibarr(now=world.START.timestamp()), BenchDolibarr(now=world.START.timestamp())]
    for fake in fakes:
        world.seed(fake, 120)
        fake.advance(600)
        world.change(fake, 0.1, 0)
        for socid in (3, 4, 50):
            fake.add_event(socid, f"[syncd] step_writeback:{socid}:trial")
        fake.add_event(5, "[syncd] Step-Writeback:5:trial")
        fake.add_event(6, "[syncd] step_wr\u212aiteback:6:trial")  # KELVIN SIGN matches k
    since = "(t.tms:>:'2026-11-23 10:05:00') or (ef.tms:>:'2026-11-23 10:05:00')"
    asked = [
        *[("/thirdparties", {"limit": "50", "page": str(p)}) for p in range(4)],
        *[("/thirdparties", {"limit": "5", "page": str(p), "sqlfilters": since}) for p in range(4)],
        ("/contacts", {"thirdparty_ids": "7"}),
        ("/invoices", {"thirdparty_ids": "16"}),
        *[("/invoices", {"limit": "10", "page": str(p), "sortfield": "t.rowid"}) for p in range(3)],
        ("/agendaevents", {"sqlfilters": "(t.label:like:'[syncd] step_writeback:4:%')"}),
        ("/agendaevents", {"sqlfilters": "(t.id:>:1) and (t.label:like:'[syncd] step%')"}),
        *[
            ("/agendaevents", {"sqlfilters": f"(t.label:like:'{start}')", "sortfield": "t.id"})
            for start in (
                "[SYNCD] step_wr_iteback:_:%",
                "[syncd] step_writeback:5%",
                "[syncd] step_wrkiteback:%",
                "[syncd] step_writeback:4:trial",
                "[syncd] step%trial",
                "[syncd] \u212a%",
                "%",
            )
        ],
    ]
    event = b'{"socid": 7, "type_code": "AC_OTH_AUTO", "label": "[syncd] step_writeback:7:x"}'
    for n, (path, query) in enumerate(asked):
        if n == len(asked) - 3:  # an event added between two lookups
            for f in fakes:
                f.handle("POST", "/agendaevents", {}, {"DOLAPIKEY": "test-key"}, event)
        first, second = (
            f.handle("GET", path, query, {"DOLAPIKEY": "test-key"}, None) for f in fakes
        )
        assert first == second, (path, query)
