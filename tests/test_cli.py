"""The `syncd` command as a user meets it: the dry-run audit, explain, exit codes.

Dolibarr is the stateful fake behind `responses`; nothing leaves the process.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.fakes.dolibarr import FakeDolibarr
from syncd.cli import build_parser, main
from syncd.model import Action
from syncd.store import Status, Store

NOW = "2026-11-23T09:30:00+00:00"


def write_ini(tmp_path: Path, url: str, *, api_key: str = "test-key", extra: str = "") -> Path:
    path = tmp_path / "syncd.ini"
    path.write_text(
        f"[dolibarr]\nurl = {url}\napi_key = {api_key}\ntimezone = Europe/Paris\n\n"
        f"[daemon]\nstate_db = {tmp_path / 'state.db'}\nlog_level = ERROR\nnow = {NOW}\n"
        "[matrix]\nhomeserver = http://127.0.0.1:9\naccess_token = t\nroom_sales = !s:x.org\n"
        + extra
    )
    path.chmod(0o600)
    return path


def seed(fake: FakeDolibarr) -> dict[str, int]:
    partner = fake.add_thirdparty(
        "Quartz Partners",
        tags=("Partner-Prospect",),
        array_options={"signup_date": date(2026, 11, 10)},
    )
    return {
        "partner": partner,
        "trial": fake.add_thirdparty(
            "Aster Labs",
            email="hi@aster.example",
            tags=("Trial",),
            array_options={"signup_date": date(2026, 11, 20)},
        ),
        "icp": fake.add_thirdparty(
            "Birch Data",
            email="hi@birch.example",
            tags=("Trial", "ICP-fit"),
            array_options={"signup_date": date(2026, 11, 21), "referred_by": partner},
        ),
        "bad": fake.add_thirdparty(
            "Cobalt GmbH", tags=("Trial",), array_options={"onboarding_step_override": "done"}
        ),
    }


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case["name"]: case for case in document["cases"]}


def test_dry_run_json_audits_every_case(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(dolibarr)
    ini = write_ini(tmp_path, dolibarr_url)
    code, doc = run_json(capsys, "--config", str(ini), "--dry-run", "--format", "json")
    assert code == 0
    cases = by_name(doc)
    assert cases["Aster Labs"]["step"] == "qualification"
    assert cases["Birch Data"]["step"] == "welcome_call"
    assert cases["Quartz Partners"]["process"] == "partner"
    assert set(doc) == {"generated_at", "cases", "summary"}
    assert set(cases["Aster Labs"]) == {
        "id",
        "ref",
        "step_since",
        "entered_step",
        "name",
        "process",
        "step",
        "evidence",
        "processes",
        "actions",
        "skipped",
        "errors",
        "warnings",
    }
    assert [p["process"] for p in cases["Aster Labs"]["processes"]] == ["customer"]
    assert cases["Aster Labs"]["processes"][0]["step"] == "qualification"
    kinds = {a["kind"] for a in cases["Aster Labs"]["actions"]}
    assert "matrix.notify" in kinds  # the day-2 qualification reminder, among others
    assert doc["summary"]["cases"] == 4


def test_dry_run_touches_nothing(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(dolibarr)
    ini = write_ini(tmp_path, dolibarr_url)
    before = {sid: dict(tp.__dict__) for sid, tp in dolibarr.thirdparties.items()}
    dolibarr.clear_log()
    assert main(["--config", str(ini), "--dry-run"]) == 0
    assert dolibarr.count() > 0
    assert dolibarr.count(method="GET") == dolibarr.count()
    assert {sid: dict(tp.__dict__) for sid, tp in dolibarr.thirdparties.items()} == before
    assert not (tmp_path / "state.db").exists()


def test_bad_field_value_is_an_error_on_that_case_only(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(dolibarr)
    code, doc = run_json(
        capsys, "--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run", "--format", "json"
    )
    cases = by_name(doc)
    assert code == 0
    assert cases["Cobalt GmbH"]["actions"] == []
    assert "onboarding_step_override" in cases["Cobalt GmbH"]["errors"][0]
    assert cases["Aster Labs"]["errors"] == []
    assert doc["summary"]["errors"] == 1


def test_pause_and_skip_rules_show_as_skips(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed(dolibarr)
    dolibarr.set_fields(ids["trial"], syncd_pause=1)
    dolibarr.set_fields(ids["icp"], syncd_skip_rules="signup_notify, step_writeback")
    _, doc = run_json(
        capsys, "--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run", "--format", "json"
    )
    cases = by_name(doc)
    assert cases["Aster Labs"]["actions"] == []
    assert {s["reason"] for s in cases["Aster Labs"]["skipped"]} == {
        "syncd_pause is set on this case"
    }
    skipped = {s["rule"]: s["reason"] for s in cases["Birch Data"]["skipped"]}
    assert skipped["step_writeback"] == "listed in syncd_skip_rules"


def test_unconfigured_system_turns_its_rules_into_skips(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(dolibarr)
    _, doc = run_json(
        capsys, "--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run", "--format", "json"
    )
    skipped = {s["rule"]: s["reason"] for s in by_name(doc)["Birch Data"]["skipped"]}
    assert "freescout" in skipped["welcome_call_offer"]


def test_text_audit_and_summary(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(dolibarr)
    assert main(["--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Aster Labs" in out and "qualification" in out
    assert "Summary: 4 cases, 1 with errors" in out
    assert "because" in out


def test_explain_by_id_and_by_ref(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed(dolibarr)
    ini = str(write_ini(tmp_path, dolibarr_url))
    code, doc = run_json(capsys, "--config", ini, "--format", "json", "explain", str(ids["icp"]))
    assert code == 0 and [c["name"] for c in doc["cases"]] == ["Birch Data"]
    assert main(["--config", ini, "explain", "aster labs"]) == 0
    assert "Aster Labs" in capsys.readouterr().out
    code, doc = run_json(capsys, "--config", ini, "explain", str(ids["trial"]), "--format", "json")
    assert [c["name"] for c in doc["cases"]] == ["Aster Labs"]
    assert main(["--config", ini, "explain", "nobody"]) == 1
    assert "no case with id or ref 'nobody'" in capsys.readouterr().err


def test_rejected_api_key_exits_1_with_one_clear_line(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = write_ini(tmp_path, dolibarr_url, api_key="wrong")
    assert main(["--config", str(ini), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "Dolibarr rejected the API key for http://dolibarr.test" in err


def test_dolibarr_down_exits_1(
    tmp_path: Path,
    dolibarr: FakeDolibarr,
    dolibarr_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("connectors.http.RetryPolicy.attempts", 2)
    monkeypatch.setattr("time.sleep", lambda _: None)
    dolibarr.fail("GET", "/categories", status=500, times=None)
    assert main(["--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run"]) == 1
    assert "could not reach Dolibarr" in capsys.readouterr().err


def test_bad_config_exits_2_naming_file_section_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = tmp_path / "broken.ini"
    ini.write_text("[dolibarr]\nurl = erp.example.com\napi_key = k\npage_size = ten\n")
    ini.chmod(0o600)
    assert main(["--config", str(ini), "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any("broken.ini: [dolibarr] page_size: the value is not" in line for line in err)
    assert any("[dolibarr] url: the value has no scheme" in line for line in err)


def test_a_bad_config_masks_a_secret_before_logging_is_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_DOLIBARR_API_KEY", "key-from-env-42")
    ini = tmp_path / "broken.ini"
    ini.write_text("[dolibarr]\nurl = https://erp.example.com\n[daemon]\nnow = key-from-env-42\n")
    assert main(["--config", str(ini), "status"]) == 2
    err = capsys.readouterr().err
    assert "key-from-env-42" not in err and "[daemon] now: '***' is not" in err


def test_a_config_file_holding_secrets_readable_by_others_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = write_ini(tmp_path, "http://127.0.0.1:9")
    ini.chmod(0o644)
    assert main(["--config", str(ini), "status"]) == 2
    fix = "chmod 640" if os.geteuid() == 0 else "chmod 600"  # root's own: group may read
    said = f"syncd: {ini} holds secrets and is readable by others: {fix} {ini}\n"
    assert capsys.readouterr().err == said


def test_unknown_rule_key_exits_2(
    tmp_path: Path, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = write_ini(tmp_path, dolibarr_url, extra="\n[rule:check_in_email]\ndays = 7\n")
    assert main(["--config", str(ini), "--dry-run"]) == 2
    assert "[rule:check_in_email] days" in capsys.readouterr().err


def test_progress_is_shown_on_stderr_for_many_cases(
    tmp_path: Path, dolibarr: FakeDolibarr, dolibarr_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(250):
        dolibarr.add_thirdparty(f"Company {n}", tags=("Trial",))
    assert main(["--config", str(write_ini(tmp_path, dolibarr_url)), "--dry-run"]) == 0
    assert "200 third parties read" in capsys.readouterr().err


def test_every_command_has_help_text() -> None:
    import argparse

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    assert set(helps) == set(commands.choices)  # every command is listed with a help line
    assert all(helps.values()), [name for name, text in helps.items() if not text]
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert all(a.help for a in options)


def test_actions_and_status_mask_a_secret_an_older_database_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = write_ini(tmp_path, "http://127.0.0.1:9", api_key="s3cret-api-key")
    store = Store(tmp_path / "state.db", mask=lambda text: text)  # as before masking
    at = datetime.fromisoformat(NOW)
    store.enqueue([(1, Action("matrix.notify", "signup_notify:1", "sales", {}, "b"))], at)
    row = store.move(store.due(at)[0], Status.SENDING, at)
    store.move(row, Status.FAILED, at, last_error="400: key s3cret-api-key refused")
    store.record_failed_cycle(at, at, "401: bad key s3cret-api-key")
    store.close()
    assert main(["--config", str(ini), "actions"]) == 0
    assert main(["--config", str(ini), "status"]) == 1
    out = capsys.readouterr().out
    assert "s3cret-api-key" not in out
    assert out.count("key *** refused") == 2 and "bad key ***" in out
