"""Secrets in `syncd.env` next to the config, read by syncd itself, against the fake
Dolibarr served over HTTP: the README's by-hand dry run works without a shell `source`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import SYNCD_CATEGORIES
from connectors.fakes.web import serve
from tests.test_cli_entry import syncd_command

KEY = "env-file-key-4711"


@pytest.fixture
def dolibarr_url() -> Iterator[str]:
    fake = FakeDolibarr(api_key=KEY)
    for label in SYNCD_CATEGORIES:
        fake.category_id(label)
    fake.add_thirdparty("Aster Labs", tags=("Trial",))
    with serve(fake) as url:
        yield url


def ini(folder: Path, url: str, extra: str = "") -> Path:
    path = folder / "syncd.ini"
    path.write_text(
        f"[dolibarr]\nurl = {url}\ntimezone = Europe/Paris\n\n"
        f"[daemon]\nlog_level = WARNING\nnow = 2026-11-23T09:00:00+00:00\n{extra}"
    )
    path.chmod(0o644)  # no secret in it: it may be shared
    return path


def env_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def syncd(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*syncd_command(), "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
    )


def test_the_env_file_next_to_the_config_gives_the_secrets(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url)
    env_file(
        tmp_path / "syncd.env",
        f"# secrets\nSYNCD_DOLIBARR_API_KEY={KEY}\n\n; systemd's other comment\n",
    )
    done = syncd(config, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Aster Labs" in done.stdout


def test_quoted_values_and_a_named_env_file(tmp_path: Path, dolibarr_url: str) -> None:
    config = ini(tmp_path, dolibarr_url, extra="env_file = secrets/syncd.env\n")
    (tmp_path / "secrets").mkdir()
    env_file(tmp_path / "secrets" / "syncd.env", f'SYNCD_DOLIBARR_API_KEY="{KEY}"\n')
    assert syncd(config, "--dry-run").returncode == 0


def test_the_real_environment_wins_over_the_env_file(tmp_path: Path, dolibarr_url: str) -> None:
    config = ini(tmp_path, dolibarr_url)
    env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\n")
    done = syncd(config, "--dry-run", SYNCD_DOLIBARR_API_KEY="a-wrong-key-from-env")
    assert done.returncode == 1
    assert "401" in done.stderr


def test_an_env_file_others_can_read_is_refused(tmp_path: Path, dolibarr_url: str) -> None:
    config = ini(tmp_path, dolibarr_url)
    path = env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\n", mode=0o644)
    done = syncd(config, "--dry-run")
    fix = "640" if path.stat().st_uid == 0 else "600"  # root's file may be group-readable
    assert done.returncode == 2
    assert done.stderr == (
        f"syncd: {path} holds secrets and is readable by others: chmod {fix} {path}\n"
    )


def test_a_malformed_env_file_names_the_line_never_the_value(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url)
    path = env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\n{KEY}\n")
    done = syncd(config, "--dry-run")
    assert (done.returncode, done.stderr) == (2, f"syncd: {path}: line 2: not NAME=value\n")


def test_a_missing_named_env_file_is_a_config_error(tmp_path: Path, dolibarr_url: str) -> None:
    config = ini(tmp_path, dolibarr_url, extra="env_file = /nonexistent/syncd.env\n")
    done = syncd(config, "--dry-run")
    assert done.returncode == 2
    assert "[daemon] env_file: '/nonexistent/syncd.env' does not exist" in done.stderr


def test_an_unknown_variable_is_a_warning_naming_the_nearest_one(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url)
    env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\nSYNCD_DOLIBAR_TIMEOUT=9\n")
    done = syncd(config, "--dry-run", SYNCD_RULE_CHECK_IN_EMAIL_DAYS="8")
    assert done.returncode == 0, done.stderr
    assert (
        "environment variable SYNCD_DOLIBAR_TIMEOUT is not a syncd setting "
        "(did you mean SYNCD_DOLIBARR_TIMEOUT?)"
    ) in done.stderr
    assert "(did you mean SYNCD_RULE_CHECK_IN_EMAIL_DAY?)" in done.stderr


def test_a_bad_rule_value_from_the_environment_names_its_variable(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url, extra="\n[rule:check_in_email]\nday = 7\n")
    env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\n")
    done = syncd(config, "--dry-run", SYNCD_RULE_CHECK_IN_EMAIL_DAY="seven")
    assert done.returncode == 2
    assert done.stderr == (
        f"syncd: {config}: [rule:check_in_email] day: 'seven' is not a whole number "
        "(from SYNCD_RULE_CHECK_IN_EMAIL_DAY)\n"
    )


def test_status_reads_the_state_path_from_the_env_file_without_its_secrets_being_needed(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url)
    env_file(tmp_path / "syncd.env", f"SYNCD_DAEMON_STATE_DB={tmp_path / 'elsewhere.db'}\n")
    done = syncd(config, "status")
    assert done.stdout.endswith(f"state: no database at {tmp_path / 'elsewhere.db'} yet\n")


def test_a_rule_value_from_the_environment_counts_without_a_section_in_the_file(
    tmp_path: Path, dolibarr_url: str
) -> None:
    config = ini(tmp_path, dolibarr_url)  # no [rule:…] section at all
    env_file(tmp_path / "syncd.env", f"SYNCD_DOLIBARR_API_KEY={KEY}\n")
    bad = syncd(config, "--dry-run", SYNCD_RULE_CHECK_IN_EMAIL_DAY="seven")
    assert bad.returncode == 2
    assert "(from SYNCD_RULE_CHECK_IN_EMAIL_DAY)" in bad.stderr
    off = syncd(config, "--dry-run", "--skips", SYNCD_RULE_QUALIFICATION_REMINDER_ENABLED="no")
    assert off.returncode == 0, off.stderr
    assert "skip qualification_reminder: disabled in config" in off.stdout
