"""The short chaos run inside `make test`: 20 runs of the real daemon, killed under faults.

The long one is `make chaos` (200 runs). One run feeds both tests below; a failure
prints the seed to replay with `python -m tests.chaos --runs 20 --seed 20261201
--hours-per-run 12`.
"""

from __future__ import annotations

import pytest

from tests.chaos.runner import Report, run_chaos, table

SEED = 20261201


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return run_chaos(tmp_path_factory.mktemp("chaos"), runs=20, seed=SEED, hours_per_run=12.0)


def _explain(report: Report) -> str:
    return f"seed {SEED}:\n" + "\n".join(report.findings()) + "\n" + table(report)


def test_short_chaos_run_loses_nothing_and_keeps_the_state_db_sound(report: Report) -> None:
    assert report.tally.runs == 20
    assert sum(report.tally.kills.values()) == 20
    assert sum(report.tally.faults.values()) > 0
    assert not report.verdict.lost, _explain(report)
    assert report.integrity == "ok"
    assert report.agrees, _explain(report)


def test_short_chaos_run_duplicates_nothing(report: Report) -> None:
    assert not report.verdict.duplicated, _explain(report)
