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
