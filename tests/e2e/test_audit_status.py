"""The dry-run audit tells the truth: what is done shows as done, and it touches nothing.

The real `syncd --dry-run` process against the fakes over HTTP on 127.0.0.1,
beside a state database that real cycles filled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.world import served


def test_a_dry_run_after_real_cycles_shows_done_as_done_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with served(tmp_path) as w:
        d = w.dolibarr
        today = w.now.astimezone(d.tz).date()
        d.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": today},
        )
        first = w.syncd("--dry-run", "--format", "json")
        assert first.returncode == 0, first.stderr
        doc = json.loads(first.stdout)
        assert doc["summary"]["would_send_now"] > 0
        assert {a["status"] for c in doc["cases"] for a in c["actions"]} == {"new"}
        assert "no state database" in w.syncd("--dry-run").stdout
        assert w.syncd("run", "--once").returncode == 0
        w.advance(hours=1)
        db = tmp_path / "syncd-demo.db"
        files = [db, db.with_name(db.name + "-wal")]
        before = [p.read_bytes() if p.exists() else b"" for p in files]
        writes = [fake.count() - fake.count("GET") for fake in (d, w.mautic, w.freescout, w.matrix)]
        again = w.syncd("--dry-run", "--format", "json")
        assert again.returncode == 0, again.stderr
        doc = json.loads(again.stdout)
        states = {a["key"]: a["status"] for c in doc["cases"] for a in c["actions"]}
        assert states and all(s.startswith("done ") for s in states.values()), states
        assert doc["summary"]["would_send_now"] == 0
        text = w.syncd("--dry-run").stdout
        assert "would be sent now: 0" in text and "[done " in text
        assert [p.read_bytes() if p.exists() else b"" for p in files] == before
        after = [fake.count() - fake.count("GET") for fake in (d, w.mautic, w.freescout, w.matrix)]
        assert after == writes  # the dry runs sent nothing but GET requests


@pytest.mark.parametrize(("shift", "said"), [(3600, "3600 s ahead of"), (-3600, "3600 s behind")])
def test_a_dolibarr_clock_an_hour_off_is_reported_with_the_offset(
    tmp_path: Path, shift: int, said: str
) -> None:
    with served(tmp_path) as w:
        calm = w.syncd("run", "--once")
        assert calm.returncode == 0 and "clock" not in calm.stderr
        w.dolibarr.now += shift
        done = w.syncd("run", "--once")
        assert done.returncode == 0, done.stderr
        assert f"Dolibarr's clock is {said} syncd's" in done.stderr
