"""History and bulk repair from the state database alone: `history`, `actions` filters,
`retry --failed`. The real `syncd` process against the fakes on 127.0.0.1; the local
commands run with no secret in their environment or config."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.world import Served, rows, served

DB = "syncd-demo.db"


def without_secrets(w: Served) -> None:
    """The config as a monitoring host might have it: no credential at all."""
    kept = [
        line
        for line in w.config.read_text().splitlines()
        if not line.startswith(("api_key", "password", "access_token"))
    ]
    w.config.write_text("\n".join(kept) + "\n")


def seed(w: Served) -> tuple[int, int]:
    aster = w.dolibarr.add_thirdparty(
        "Aster Labs",
        email="jane@aster.example",
        tags=("Trial", "ICP-fit"),
        array_options={"signup_date": w.now.date()},
    )
    birch = w.dolibarr.add_thirdparty(
        "Birch Data",
        email="bob@birch.example",
        tags=("Trial", "ICP-fit"),
        array_options={"signup_date": w.now.date()},
    )
    return aster, birch


def test_failed_actions_are_retried_in_bulk_after_the_cause_is_mended(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        seed(w)
        w.freescout.fail("POST", "/api/conversations", status=422, times=None)
        first = w.syncd("run", "--once")
        assert "2 failed (freescout: 2)" in first.stdout, first.stdout
        assert first.stdout.startswith("cycle degraded: ")
        db = tmp_path / DB
        failed = "select count(*) from outbox where status = 'failed'"
        assert rows(db, failed) == [(2,)]
        w.freescout.clear_faults()
        config = w.config.read_text()
        without_secrets(w)

        none = w.syncd("retry", "--failed", "--system", "matrix")
        assert none.returncode == 0 and "no failed action matches" in none.stdout
        other = w.syncd("retry", "--failed", "--rule", "check_in_email")
        assert "no failed action matches" in other.stdout
        assert w.syncd("retry", "--system", "mautic").returncode == 2  # --system goes with --failed
        again = w.syncd(
            "retry", "--failed", "--system", "freescout", "--rule", "welcome_call_offer"
        )
        assert again.returncode == 0, again.stderr
        assert "2 failed action(s) planned again" in again.stdout
        assert rows(db, failed) == [(0,)]

        w.config.write_text(config)
        w.advance(minutes=5)
        done = w.syncd("run", "--once")
        assert done.stdout.startswith("cycle ok: "), done.stdout
        assert len(w.freescout.conversations) == 2


def test_history_and_filtered_actions_in_local_time(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        aster, _birch = seed(w)
        assert w.syncd("run", "--once").returncode == 0
        w.advance(days=1)
        w.dolibarr.add_thirdparty(
            "Cedar",
            email="c@cedar.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        assert w.syncd("run", "--once").returncode == 0
        ref = "aster labs"  # the fake's ref is the name; any case finds it
        without_secrets(w)

        shown = w.syncd("history", ref)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0] == f"case {aster} (Aster Labs)"
        assert "steps entered:" in lines
        assert "  2026-11-23 10:00 CET  welcome_call  (where syncd first met it)" in lines
        assert any(line.startswith("  done     welcome_call_offer:") for line in lines)
        assert "planned 2026-11-23 10:00 CET, done 2026-11-23 10:00 CET" in shown.stdout
        by_id = json.loads(w.syncd("history", str(aster), "--format", "json").stdout)
        assert by_id["ref"] == "Aster Labs" and by_id["steps"][0]["step"] == "welcome_call"
        assert {a["case"] for a in by_id["actions"]} == {aster}
        missing = w.syncd("history", "NOPE-1")
        assert missing.returncode == 1 and "knows no case 'NOPE-1'" in missing.stderr

        everything = w.syncd("actions", "--format", "json")
        total = json.loads(everything.stdout)["count"]
        mine = json.loads(w.syncd("actions", "--case", ref, "--format", "json").stdout)
        assert 0 < mine["count"] < total
        assert {a["case"] for a in mine["actions"]} == {aster}
        one_rule = w.syncd("actions", "--case", ref, "--rule", "welcome_call_offer")
        assert one_rule.stdout.splitlines()[-1] == "total: 1: 1 done"
        latest = w.syncd("actions", "--limit", "2")
        assert latest.stdout.splitlines()[-1].endswith(" (showing the latest 2)")
        assert latest.stdout.splitlines()[-1].startswith(f"total: {total}: ")
        assert len([line for line in latest.stdout.splitlines() if not line.startswith(" ")]) == 3
        recent = json.loads(w.syncd("actions", "--since", "2h", "--format", "json").stdout)
        assert 0 < recent["count"] < total  # only what the second day's cycle did
        dated = json.loads(w.syncd("actions", "--since", "2026-11-24", "--format", "json").stdout)
        assert dated["count"] == recent["count"]
        bad = w.syncd("actions", "--since", "last tuesday")
        assert bad.returncode == 1 and "--since 'last tuesday': give a date" in bad.stderr
