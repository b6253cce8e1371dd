"""Message templates: shipped neutral, named by `[company] name`, replaced from a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import welcome_call_offer
from syncd.daemon import load
from syncd.errors import ConfigError
from syncd.messages import parse_template, read_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATED = ("welcome_call_offer", "discovery_call_offer", "partner_decline", "handoff_success")
BASE = (
    "[dolibarr]\nurl = https://erp.example.com\n\n"
    "[freescout]\nurl = https://help.example.com\nmailbox_id = 1\n\n"
    "[rule:follow_up_message]\ncommunity_link = https://chat.example.com\n\n"
    "[rule:handoff_success]\nsupport_link = https://chat.example.com/support\n\n"
)


def ini(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "syncd.ini"
    path.write_text(BASE + extra)
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DOLIBARR_API_KEY", "k-dolibarr")
    monkeypatch.setenv("SYNCD_FREESCOUT_API_KEY", "k-freescout")


@pytest.mark.parametrize("name", TEMPLATED)
def test_each_shipped_template_names_the_company_from_the_config(name: str) -> None:
    where, text = read_template(name, None)
    subject, body = parse_template(text, where)
    assert "{company}" in subject + body
    assert body.startswith("Hello {name},")


def test_no_company_is_named_in_the_code_or_the_templates() -> None:
    for path in [*ROOT.glob("rules/*.py"), *ROOT.glob("syncd/templates/*.txt")]:
        assert "Unicis" not in path.read_text(encoding="utf-8"), path


def test_the_company_name_fills_the_templates(tmp_path: Path) -> None:
    _, ruleset = load(str(ini(tmp_path, "[company]\nname = Acme Ltd\n")))
    params = next(e.params for e in ruleset.rules if e.name == "welcome_call_offer")
    assert isinstance(params, welcome_call_offer.Params)
    assert params.subject == "Your 30-minute onboarding call with Acme Ltd"
    assert "thank you for trying Acme Ltd." in params.body
    assert "{calendar_link}" in params.body  # filled per case by the rule


def test_a_template_in_the_configured_directory_replaces_the_default(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "partner_decline.txt").write_text("Subject: Thank you\n\nHello {name},\nnot now.\n")
    path = ini(tmp_path, "[company]\nname = Acme\ntemplates_dir = templates\n")
    _, ruleset = load(str(path))
    params = {e.name: e.params for e in ruleset.rules}
    assert (params["partner_decline"].subject, params["partner_decline"].body) == (
        "Thank you",
        "Hello {name},\nnot now.",
    )
    assert "Acme" in params["welcome_call_offer"].body  # the others keep the defaults


def test_a_section_setting_subject_and_body_wins_over_the_file(tmp_path: Path) -> None:
    extra = "[company]\nname = Acme\n\n[rule:partner_decline]\nsubject = Hi\nbody = Bye\n"
    _, ruleset = load(str(ini(tmp_path, extra)))
    params = next(e.params for e in ruleset.rules if e.name == "partner_decline")
    assert (params.subject, params.body) == ("Hi", "Bye")


def test_without_a_company_name_freescout_messages_are_a_config_error(tmp_path: Path) -> None:
    path = ini(tmp_path, "")
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert caught.value.problems == [
        f"{path}: [company] name: required: the message templates name the company"
    ]


def test_a_template_without_its_subject_line_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "welcome_call_offer.txt").write_text("Hello {name}\n")
    path = ini(tmp_path, "[company]\nname = Acme\ntemplates_dir = templates\n")
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert caught.value.problems == [
        f"{folder / 'welcome_call_offer.txt'}: start with a 'Subject: …' line, then an empty line"
    ]
