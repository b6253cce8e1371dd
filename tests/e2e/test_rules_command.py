"""`syncd rules`: every rule, its process, the systems it needs, and where each parameter's
value came from. The real `syncd` process against the fakes on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syncd.engine import load_rules
from tests.e2e.world import served


def parameters(rule: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {p["key"]: (p["value"], p["source"]) for p in rule["parameters"]}


def test_rules_lists_every_rule_with_each_parameters_value_and_source(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        w.dolibarr.set_conf("SYNCD_CHECK_IN_EMAIL_DAY", "8")
        w.dolibarr.set_conf("SYNCD_CHECK_IN_EMAIL_WINDOW_DAYS", "5")  # the environment wins
        env = {"SYNCD_RULE_CHECK_IN_EMAIL_WINDOW_DAYS": "2"}
        done = w.syncd("rules", "--format", "json", **env)
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert document["note"] is None
        rules = {rule["name"]: rule for rule in document["rules"]}
        assert set(rules) == {rule.name for rule in load_rules()}
        check_in = rules["check_in_email"]
        assert (check_in["process"], check_in["needs"], check_in["missing"]) == (
            "customer",
            ["mautic"],
            [],
        )
        given = parameters(check_in)
        assert given["day"] == (8, "Dolibarr constant SYNCD_CHECK_IN_EMAIL_DAY")
        assert given["window_days"] == (2, "environment SYNCD_RULE_CHECK_IN_EMAIL_WINDOW_DAYS")
        assert given["template_id"] == (1, f"file {w.config} [rule:check_in_email]")
        assert given["enabled"] == (True, "default")
        assert parameters(rules["handoff_success"])["subject"][1] == "message template"

        text = w.syncd("rules", **env)
        assert text.returncode == 0
        lines = text.stdout.splitlines()
        assert "check_in_email (customer; needs mautic)" in lines
        assert "  day          8  (Dolibarr constant SYNCD_CHECK_IN_EMAIL_DAY)" in lines


def test_rules_without_dolibarr_says_the_constants_were_not_read(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        down = w.syncd("rules", SYNCD_DOLIBARR_URL="http://127.0.0.1:9")
        assert down.returncode == 0
        first = down.stdout.splitlines()[0]
        assert first.startswith("! Dolibarr's SYNCD_* constants not read (Dolibarr at ")
        assert "check_in_email (customer; needs mautic)" in down.stdout


def test_rules_says_which_are_disabled_or_lack_their_system(
    tmp_path: Path, dolibarr_url: str, capsys: Any
) -> None:
    from syncd.cli import main
    from tests.test_cli import write_ini

    ini = write_ini(tmp_path, dolibarr_url, extra="\n[rule:signup_notify]\nenabled = no\n")
    assert main(["--config", str(ini), "rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "check_in_email (customer; needs mautic, skipped: mautic not configured)" in lines
    assert "signup_notify (customer; needs matrix, disabled)" in lines
    assert f"  enabled      no  (file {ini} [rule:signup_notify])" in lines
