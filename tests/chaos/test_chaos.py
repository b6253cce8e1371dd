"""The short chaos run inside `make test`: 20 runs of the real daemon, killed under faults.

The long one is `make chaos` (200 runs). A failure prints the seed to replay with
`python -m tests.chaos --runs 20 --seed 20261201`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.runner import run_chaos, table

SEED = 20261201


@pytest.mark.xfail(
    strict=False,
    reason="main's fixes for known duplicate paths (truncated 200 to a Dolibarr write "
    "retried, recording failures after a send, agenda events created without checking "
    "the timeline, a lost state db) are not merged into this branch yet",
)
def test_short_chaos_run_duplicates_and_loses_nothing(tmp_path: Path) -> None:
    report = run_chaos(tmp_path, runs=20, seed=SEED, hours_per_run=12.0)
    assert report.tally.runs == 20
    assert report.ok, f"seed {SEED}:\n" + "\n".join(report.findings()) + "\n" + table(report)
