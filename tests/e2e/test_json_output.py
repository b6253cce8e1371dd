"""`--format json` on every command that prints data, run as a process against the fakes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.world import served


def test_every_data_command_speaks_json(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        case = w.dolibarr.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        ran = w.syncd("run", "--once", "--format", "json")
        assert ran.returncode == 0, ran.stderr
        cycle = json.loads(ran.stdout)
        assert cycle["cases"] == 1 and cycle["done"] >= 1 and cycle["failed"] == 0
        status = json.loads(w.syncd("status", "--format", "json").stdout)
        assert status["healthy"] is True and status["outbox"]["done"] == cycle["done"]
        actions = json.loads(w.syncd("--format", "json", "actions").stdout)
        assert {a["case"] for a in actions["actions"]} == {case}
        explained = json.loads(w.syncd("explain", str(case), "--format", "json").stdout)
        assert [c["name"] for c in explained["cases"]] == ["Aster Labs"]
        rebuilt = w.syncd("rebuild-state", "--format", "json")
        assert json.loads(rebuilt.stdout) == {"marked_done": 0}
        checked = json.loads(w.syncd("check", "--format", "json").stdout)
        assert checked["ok"] is True
