"""Loading syncd.ini: the shipped example, defaults, environment overrides and every message."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.config import Config, load_config, loose_bits
from syncd.errors import ConfigError
from syncd.model import FIELDS, TAGS

EXAMPLE = Path(__file__).resolve().parent.parent / "syncd.ini.example"
MINIMAL = "[dolibarr]\nurl = https://erp.example.com\napi_key = s3cret-key\n"
# What contrib/syncd.env.example sets: the example file holds no secret.
EXAMPLE_SECRETS = {
    "SYNCD_DOLIBARR_API_KEY": "k1",
    "SYNCD_MAUTIC_PASSWORD": "k2",
    "SYNCD_FREESCOUT_API_KEY": "k3",
    "SYNCD_MATRIX_ACCESS_TOKEN": "k4",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.ini"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return caught.value.problems


def test_example_loads_with_every_section() -> None:
    config = load_config(EXAMPLE, EXAMPLE_SECRETS)
    assert config.dolibarr.api_url == "https://erp.example.com/api/index.php"
    assert config.systems == frozenset()  # optional systems are commented out as shipped
    assert set(config.rules) == {
        "check_in_email",
        "welcome_call_offer",
        "follow_up_message",
        "handoff_success",
        "conversion_proposal",
        "qualification_reminder",
        "partner_commission_note",
    }
    assert config.rules["check_in_email"] == {"enabled": "yes", "day": "7"}
    assert config.rules_source("check_in_email") == f"{EXAMPLE}: [rule:check_in_email]"
    assert config.secrets == ("k1",)


def test_example_works_as_shipped_with_only_the_dolibarr_key() -> None:
    from syncd.engine import RuleSet, load_rules

    config = load_config(EXAMPLE, {"SYNCD_DOLIBARR_API_KEY": "k1"})
    ruleset = RuleSet.build(load_rules(), config.rules, config.rules_source, config.systems)
    check_in = next(e for e in ruleset.rules if e.name == "check_in_email")
    assert check_in.params.template_id == 0  # no made-up template: the rule sends nothing


def test_a_placeholder_is_a_configuration_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[rule:welcome_call_offer]\ncalendar_link = change-me\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [
        f"{path}: [rule:welcome_call_offer] calendar_link: still the example's placeholder: set it"
    ]


def test_example_documents_every_key_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"no comment above {line!r}"


def test_defaults_apply_when_only_dolibarr_is_given(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    d = config.dolibarr
    assert (d.timezone, d.page_size, d.timeout) == ("UTC", 100, 30.0)
    assert (d.overlap_seconds, d.sweep_every) == (300, 60)
    assert config.daemon.poll_interval == 60
    assert config.daemon.state_db == tmp_path / "syncd.db"
    assert (config.daemon.log_level, config.daemon.log_format) == ("INFO", "text")
    assert config.daemon.rules_dir is None and config.daemon.now is None
    assert config.tag_label("icp_fit") == "ICP-fit"
    assert config.tag_label("self_hosted") == "Self-hosted"
    assert set(config.tags) == set(TAGS) and set(config.fields) == set(FIELDS)
    assert all(config.field_code(name) == name for name in FIELDS)
    assert (config.mautic, config.freescout, config.matrix) == (None, None, None)
    assert config.systems == frozenset() and config.rules == {}
    assert config.path == tmp_path / "syncd.ini"


def test_values_are_typed_and_paths_taken_from_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    text = (
        MINIMAL
        + "timeout = 2.5\n[daemon]\nlog_level = debug\nrules_dir = extra\n"
        + "now = 2024-05-01T11:00:00+02:00\nstate_db = /var/lib/syncd/state.db\n"
        + "[tags]\ntrial = Essai\n[fields]\nsignup_date = date_inscription\n"
        + "[matrix]\nhomeserver = https://m.example.org/\naccess_token = t\n"
        + "room_sales = !s:example.org\n"
    )
    config = load_config(write(tmp_path, text), {})
    assert config.dolibarr.timeout == 2.5
    assert config.daemon.log_level == "DEBUG"
    assert config.daemon.rules_dir == tmp_path / "extra"
    assert config.daemon.state_db == Path("/var/lib/syncd/state.db")
    assert config.daemon.now == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert config.tag_label("trial") == "Essai"
    assert config.field_code("signup_date") == "date_inscription"
    assert config.matrix is not None and config.matrix.homeserver == "https://m.example.org"
    assert config.matrix.room_success == "!s:example.org"
    assert config.systems == frozenset({"matrix"})


@pytest.mark.parametrize(
    "room",
    [
        "!s:example.org",
        "!uA-eA0pemxSuAlDzV6g3DhfTrIjozhQiWlrZ-klSNdw",  # room version 12: no server part
        "#sales:example.org",
    ],
)
def test_a_room_is_an_id_of_any_room_version_or_an_alias(tmp_path: Path, room: str) -> None:
    text = MINIMAL + "[matrix]\nhomeserver = https://m.example.org\naccess_token = t\n"
    config = load_config(write(tmp_path, text + f"room_sales = {room}\n"), {})
    assert config.matrix is not None and config.matrix.room_sales == room


def test_environment_overrides_api_key_and_rule_keys(tmp_path: Path) -> None:
    text = MINIMAL + "[rule:check_in]\nday = 5\n[rule:check_in_email]\nday = 7\n"
    environ = {
        "SYNCD_DOLIBARR_API_KEY": "from-env",
        "SYNCD_RULE_CHECK_IN_EMAIL_DAY": "9",
        "SYNCD_RULE_CHECK_IN_ENABLED": "no",
        "SYNCD_RULE_ABSENT_DAY": "1",
    }
    config = load_config(write(tmp_path, text), environ)
    assert config.dolibarr.api_key == "from-env"
    assert config.rules["check_in_email"] == {"day": "9"}
    assert config.rules["check_in"] == {"day": "5", "enabled": "no"}
    assert set(config.rules) == {"check_in", "check_in_email"}


def test_a_bad_environment_value_names_its_variable(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, MINIMAL), {"SYNCD_DOLIBARR_PAGE_SIZE": "ten"})
    assert problems == [
        f"{tmp_path / 'syncd.ini'}: [dolibarr] page_size: the value is not a whole number"
        " (from SYNCD_DOLIBARR_PAGE_SIZE)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL + "page_size = ten\n", "[dolibarr] page_size: the value is not a whole number"),
        (MINIMAL + "page_size = 0\n", "[dolibarr] page_size: the value is not between 1 and 1000"),
        (MINIMAL + "timeout = 0\n", "[dolibarr] timeout: the value is not more than 0 seconds"),
        (
            MINIMAL + "overlap_seconds = -1\n",
            "[dolibarr] overlap_seconds: the value is less than 0",
        ),
        (
            MINIMAL + "timezone = Mars/Olympus\n",
            "[dolibarr] timezone: the value is not a known time zone"
            " (write an IANA name like Europe/Paris)",
        ),
        (
            "[dolibarr]\nurl = erp.example.com\napi_key = k\n",
            "[dolibarr] url: the value has no scheme (start it with https://)",
        ),
        (
            "[dolibarr]\nurl = ftp://erp.example.com\napi_key = k\n",
            "[dolibarr] url: the value is not an http or https URL",
        ),
        ("[dolibarr]\nurl = https://erp.example.com\n", "[dolibarr] api_key: required"),
        ("[dolibarr]\nurl = https://erp.example.com\napi_key =\n", "[dolibarr] api_key: required"),
        ("[daemon]\npoll_interval = 5\n", "missing section [dolibarr]"),
        (MINIMAL + "[daemon]\npol_interval = 5\n", "[daemon] pol_interval: unknown key"),
        (
            MINIMAL + "[daemon]\nlog_level = LOUD\n",
            "[daemon] log_level: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR",
        ),
        (
            MINIMAL + "[daemon]\nlog_format = xml\n",
            "[daemon] log_format: 'xml' is not one of text, json",
        ),
        (
            MINIMAL + "[daemon]\nnow = 2024-05-01T09:00\n",
            "[daemon] now: '2024-05-01T09:00' has no UTC offset (write 2024-05-01T09:00+00:00)",
        ),
        (MINIMAL + "[tags]\ntrail = Trial\n", "[tags] trail: unknown key"),
        (MINIMAL + "[fields]\nsignup = x\n", "[fields] signup: unknown key"),
        (
            MINIMAL + "[fields]\nsignup_date = signup date\n",
            "[fields] signup_date: 'signup date' is not an extrafield code"
            " (letters, digits and _ only)",
        ),
        (MINIMAL + "[mautik]\nurl = https://m.example.com\n", "unknown section [mautik]"),
        (MINIMAL + "[DEFAULT]\nx = 1\n", "unknown section [DEFAULT]"),
        (MINIMAL + "[mautic]\nusername = u\npassword = p\n", "[mautic] url: required"),
        (
            MINIMAL + "[mautic]\nurl = https://m.example.com\nusername = u\n",
            "[mautic] password: required when username is set",
        ),
        (
            MINIMAL + "[mautic]\nurl = https://m.example.com\nclient_secret = s\n",
            "[mautic] client_id: required when client_secret is set",
        ),
        (
            MINIMAL + "[mautic]\nurl = https://m.example.com\n",
            "[mautic] username: required (with password, or set client_id and client_secret)",
        ),
        (
            MINIMAL + "[freescout]\nurl = https://h.example.com\napi_key = k\n",
            "[freescout] mailbox_id: required",
        ),
        (
            MINIMAL + "[freescout]\nurl = https://h.example.com\napi_key = k\nmailbox_id = one\n",
            "[freescout] mailbox_id: the value is not a whole number",
        ),
        (
            MINIMAL + "[matrix]\nhomeserver = https://m.example.org\naccess_token = t\n"
            "room_sales = sales\n",
            "[matrix] room_sales: the value is not a room id or alias "
            "(like !abc:example.org or #sales:example.org)",
        ),
        (MINIMAL + "api_key = again\n", "[dolibarr] api_key: set twice (line 4)"),
        ("url = https://erp.example.com\n", "line 1: text before the first [section]"),
        (MINIMAL + "[dolibarr]\n", "section [dolibarr] appears twice (line 4)"),
        (
            MINIMAL + "no equals sign\n",
            "line 4: neither a [section], a key = value nor a # comment",
        ),
        (MINIMAL + "[rule:check-in]\nday = 7\n", "[rule:check-in]: 'check-in' is not a rule name"),
    ],
)
def test_a_bad_file_gives_one_sentence_naming_file_section_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    assert problems_of(path) == [f"{path}: {message}"]


def test_a_missing_rules_dir_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[daemon]\nrules_dir = nowhere\n")
    assert problems_of(path) == [
        f"{path}: [daemon] rules_dir: '{tmp_path / 'nowhere'}' is not a directory"
    ]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.ini"
    assert problems_of(path) == [f"{path}: no such file"]


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = (
        "[dolibarr]\nurl = erp.example.com\npage_size = ten\n[daemon]\npol_interval = 5\n[mautik]\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert sorted(caught.value.problems) == sorted(
        f"{path}: {message}"
        for message in (
            "unknown section [mautik]",
            "[dolibarr] url: the value has no scheme (start it with https://)",
            "[dolibarr] api_key: required",
            "[dolibarr] page_size: the value is not a whole number",
            "[daemon] pol_interval: unknown key",
        )
    )
    assert str(caught.value).count(str(path)) == 5


def test_a_bad_value_in_a_section_holding_secrets_is_not_quoted(tmp_path: Path) -> None:
    # The API key pasted as the url, with the api_key line left empty.
    path = write(tmp_path, "[dolibarr]\nurl = tok-7f3a9c2e\napi_key =\n")
    assert problems_of(path) == [
        f"{path}: [dolibarr] url: the value has no scheme (start it with https://)",
        f"{path}: [dolibarr] api_key: required",
    ]


def test_a_secret_quoted_in_any_problem_is_masked(tmp_path: Path) -> None:
    text = MINIMAL + "[daemon]\nlog_level = s3cret-key\n[mautic]\nurl = https://m.example.com\n"
    environ = {"SYNCD_MAUTIC_PASSWORD": "env-pass-123", "SYNCD_DAEMON_LOG_FORMAT": "env-pass-123"}
    problems = problems_of(write(tmp_path, text), environ)
    assert "[daemon] log_level: '***' is not one of" in "\n".join(problems)
    assert "[daemon] log_format: '***' is not one of" in "\n".join(problems)
    assert not [p for p in problems if "s3cret-key" in p or "env-pass-123" in p]


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "[mautic]\nurl = https://m.example.com\nclient_id = id\nclient_secret = mautic-secret\n"
        + "[freescout]\nurl = https://h.example.com\napi_key = fs-secret\nmailbox_id = 1\n"
        + "[matrix]\nhomeserver = https://m.example.org\naccess_token = mx-secret\n"
        + "room_sales = !s:example.org\n"
    )
    config = load_config(write(tmp_path, text), {})
    shown = repr(config)
    for secret in ("s3cret-key", "mautic-secret", "fs-secret", "mx-secret"):
        assert secret not in shown
    assert "https://erp.example.com" in shown


@pytest.mark.parametrize(
    ("url", "base", "api_url"),
    [
        (
            "https://erp.example.com",
            "https://erp.example.com",
            "https://erp.example.com/api/index.php",
        ),
        (
            "https://erp.example.com/",
            "https://erp.example.com",
            "https://erp.example.com/api/index.php",
        ),
        (
            "https://erp.example.com/api/index.php",
            "https://erp.example.com",
            "https://erp.example.com/api/index.php",
        ),
        (
            "https://erp.example.com/api/index.php/",
            "https://erp.example.com",
            "https://erp.example.com/api/index.php",
        ),
        ("http://x.example/erp", "http://x.example/erp", "http://x.example/erp/api/index.php"),
        ("http://x.example/erp/", "http://x.example/erp", "http://x.example/erp/api/index.php"),
        (
            "https://x.example/erp/api/index.php",
            "https://x.example/erp",
            "https://x.example/erp/api/index.php",
        ),
    ],
)
def test_dolibarr_url_gets_the_api_path_once(
    tmp_path: Path, url: str, base: str, api_url: str
) -> None:
    config = load_config(write(tmp_path, f"[dolibarr]\nurl = {url}\napi_key = k\n"), {})
    assert (config.dolibarr.url, config.dolibarr.api_url) == (base, api_url)


def test_config_is_frozen(tmp_path: Path) -> None:
    config: Config = load_config(write(tmp_path, MINIMAL), {})
    with pytest.raises(AttributeError):
        config.dolibarr.page_size = 5  # type: ignore[misc]


def test_the_fakes_and_the_demo_use_the_default_tag_labels() -> None:
    from connectors.fakes.seed import SYNCD_CATEGORIES
    from syncd.config import DEFAULT_TAG_LABELS

    assert tuple(DEFAULT_TAG_LABELS.values()) == SYNCD_CATEGORIES


OWNER = "640" if os.geteuid() == 0 else "600"  # root's own files may be group-readable


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        (0o644, f"readable by others: chmod {OWNER}"),
        (0o602, f"writable by others: chmod {OWNER}"),
        (0o660, f"writable by its group: chmod {OWNER}"),
        (0o600 | 0o010, f"open to others: chmod {OWNER}"),
    ],
)
def test_a_file_holding_secrets_open_to_others_is_refused_in_one_line(
    tmp_path: Path, mode: int, said: str
) -> None:
    path = write(tmp_path, MINIMAL + "[daemon]\npoll_interval = soon\n")
    path.chmod(mode)
    assert problems_of(path) == [f"{path} holds secrets and is {said} {path}"]


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_file_holding_secrets_loads(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path, MINIMAL)
    path.chmod(mode)
    assert load_config(path, {}).dolibarr.api_key == "s3cret-key"


def test_a_file_without_secrets_may_be_read_by_anyone(tmp_path: Path) -> None:
    path = write(tmp_path, "[dolibarr]\nurl = https://erp.example.com\napi_key =\n")
    path.chmod(0o644)
    config = load_config(path, {"SYNCD_DOLIBARR_API_KEY": "from-env"})
    assert config.dolibarr.api_key == "from-env"


@pytest.mark.parametrize(
    ("mode", "owner", "loose"),
    [
        (0o640, 0, 0),  # root:syncd 0640: the systemd recipe
        (0o440, 0, 0),
        (0o660, 0, 0o020),
        (0o644, 0, 0o004),
        (0o640, 1000, 0o040),  # a user's own file: 0600
        (0o604, 1000, 0o004),
        (0o100600, 1000, 0),  # st_mode carries the file type
    ],
)
def test_group_read_is_allowed_only_for_files_owned_by_root(
    mode: int, owner: int, loose: int
) -> None:
    assert loose_bits(mode, owner) == loose


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a root-owned file")
def test_a_root_owned_file_may_be_read_by_its_group(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    path.chmod(0o640)
    assert load_config(path, {}).dolibarr.api_key == "s3cret-key"
