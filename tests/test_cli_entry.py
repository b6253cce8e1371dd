"""The `syncd` command run as installed (the console script), as an operator meets it.

Options before or after the command, `--version`, `--format json`, a pipe closed
early, the local commands that need no credential, and `--dry-run` misused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from syncd.model import Action
from syncd.store import Status, Store

NOW = datetime.fromisoformat("2026-11-23T09:30:00+00:00")


def syncd_command() -> list[str]:
    script = Path(sys.executable).parent / "syncd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "syncd.cli"]


def syncd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **(env or {})}
    return subprocess.run(
        [*syncd_command(), *args], capture_output=True, text=True, env=clean, timeout=60
    )


def local_ini(tmp_path: Path) -> Path:
    """A config with no credential at all: only the state database is usable."""
    path = tmp_path / "syncd.ini"
    path.write_text(
        "[dolibarr]\nurl = https://erp.example.com\n\n"
        f"[daemon]\nstate_db = {tmp_path / 'state.db'}\n\n"
        "[mautic]\nurl = https://mautic.example.com\nusername = syncd\n\n"
        "[matrix]\nhomeserver = https://matrix.example.com\nroom_sales = !s:x.org\n"
    )
    return path


def state_with(tmp_path: Path, count: int, failed: int = 0) -> None:
    store = Store(tmp_path / "state.db")
    store.enqueue(
        [
            (n, Action("matrix.notify", f"signup_notify:{n}", "sales", {}, "signed up"))
            for n in range(1, count + 1)
        ],
        NOW,
    )
    for row in store.due(NOW)[:failed]:
        sending = store.move(row, Status.SENDING, NOW)
        store.move(sending, Status.FAILED, NOW, last_error="400: refused")
    store.close()


def test_version_names_the_package_version() -> None:
    done = syncd("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("syncd 0.")


def test_status_needs_no_credential_and_takes_options_after_the_command(tmp_path: Path) -> None:
    ini = local_ini(tmp_path)
    state_with(tmp_path, 2)
    done = syncd("status", "--config", str(ini))
    assert done.returncode == 0, done.stderr
    assert "outbox: planned 2" in done.stdout
    assert done.stderr == ""
    as_json = syncd("status", "--format", "json", "--config", str(ini))
    document = json.loads(as_json.stdout)
    assert document["outbox"] == {"planned": 2}
    assert document["healthy"] is True


def test_actions_retry_and_release_need_no_credential(tmp_path: Path) -> None:
    ini = local_ini(tmp_path)
    state_with(tmp_path, 3, failed=2)
    listed = json.loads(syncd("actions", "--config", str(ini), "--format", "json").stdout)
    assert listed["total"] == {"failed": 2, "planned": 1}
    assert [a["key"] for a in listed["actions"] if a["status"] == "failed"] == [
        "signup_notify:1",
        "signup_notify:2",
    ]
    retried = syncd("--config", str(ini), "retry", "signup_notify:1")
    assert (retried.returncode, retried.stdout) == (
        0,
        "signup_notify:1: will be sent in the next cycle\n",
    )
    released = syncd("release", "signup_notify:2", "--config", str(ini), "--format", "json")
    assert json.loads(released.stdout) == {"key": "signup_notify:2", "status": "done"}


def test_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    ini = local_ini(tmp_path)
    state_with(tmp_path, 3000)
    piped = subprocess.run(
        f"{' '.join(syncd_command())} --config {ini} actions | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.stdout.startswith("planned  signup_notify:1 ")
    assert piped.stderr == ""


def test_dry_run_with_a_command_is_an_error(tmp_path: Path) -> None:
    ini = local_ini(tmp_path)
    done = syncd("--config", str(ini), "--dry-run", "status")
    assert done.returncode == 2
    assert done.stderr == (
        "syncd: --dry-run is the audit on its own; it does not apply to status\n"
    )


def test_a_placeholder_left_in_the_config_is_an_error(tmp_path: Path) -> None:
    ini = tmp_path / "syncd.ini"
    ini.write_text("[dolibarr]\nurl = https://erp.example.com\n")
    done = syncd("--config", str(ini), "--dry-run", env={"SYNCD_DOLIBARR_API_KEY": "change-me"})
    assert done.returncode == 2
    assert done.stderr == (
        f"syncd: {ini}: [dolibarr] api_key: still the example's placeholder: set it "
        "(from SYNCD_DOLIBARR_API_KEY)\n"
    )


def test_under_systemd_the_state_database_defaults_to_the_state_directory(
    tmp_path: Path,
) -> None:
    ini = tmp_path / "syncd.ini"
    ini.write_text("[dolibarr]\nurl = https://erp.example.com\n")
    state = tmp_path / "var-lib-syncd"
    done = syncd("status", "--config", str(ini), env={"STATE_DIRECTORY": str(state)})
    assert done.stdout.endswith(f"state: no database at {state / 'syncd.db'} yet\n")
    by_hand = syncd("status", "--config", str(ini))
    assert by_hand.stdout.endswith(f"state: no database at {tmp_path / 'syncd.db'} yet\n")
