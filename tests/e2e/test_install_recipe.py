"""The README's "Installing under systemd" recipe, followed step by step in a scratch root.

Each line of the recipe runs through bash with `/opt`, `/etc` and `/var/lib` moved under
the scratch root, `sudo` dropped, and ownership options left out (the test may not run as
root). Three steps cannot run here and are stood in for: `useradd` (skipped), the clone
(a copy of this checkout) and `pip install .` in the new venv (a `syncd` script running
this interpreter: installing from the package index is no unit test's business;
`test_demo_install.py` covers what a production install lacks). `systemctl` starts the
unit's ExecStart for one cycle (`run --once`); the installed unit is checked with
`systemd-analyze verify` where the tool exists.
The "edit it" steps are done as a person would, against the fake Dolibarr over HTTP.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.web import serve

REPO = Path(__file__).resolve().parents[2]
KEY = "recipe-admin-key-31415"


def recipe() -> list[str]:
    """The shell lines of the README's install recipe, comments cut."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Installing under systemd", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


@pytest.fixture
def dolibarr() -> Iterator[tuple[FakeDolibarr, str]]:
    """A Dolibarr with none of syncd's tags and only some of its extrafields."""
    fake = FakeDolibarr(api_key=KEY, extrafields={"signup_date": "date"}, now=time.time())
    fake.add_category("Trial")
    with serve(fake) as url:
        yield fake, url


class Host:
    """The scratch root, and how each recipe line is run in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)}
        (root / "etc" / "systemd" / "system").mkdir(parents=True)  # as on any systemd host

    def path(self, text: str) -> str:
        for top in ("/opt/syncd", "/etc/syncd", "/etc/systemd/system", "/var/lib/syncd"):
            text = re.sub(rf"(?<![\w/.]){re.escape(top)}", str(self.root) + top, text)
        return text

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        line = re.sub(r"\bsudo( -u syncd)? ", "", line)
        line = re.sub(r" -o \w+ -g \w+", "", line)
        done = subprocess.run(
            ["bash", "-c", f"set -e; {self.path(line)}"],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        return done

    def clone(self) -> None:
        target = self.root / "opt" / "syncd"
        ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".*cache")
        shutil.copytree(REPO, target, ignore=ignore)
        self.cwd = target

    def venv(self) -> None:
        script = self.cwd / ".venv" / "bin" / "syncd"
        script.parent.mkdir(parents=True)
        script.write_text(
            f'#!/bin/sh\nPYTHONPATH={self.cwd} exec {sys.executable} -m syncd.cli "$@"\n'
        )
        script.chmod(0o755)


def edit_config(host: Host, url: str) -> None:
    """What the recipe's "edit" comments ask of a person: the address, the secret."""
    ini = host.root / "etc" / "syncd" / "syncd.ini"
    ini.write_text(ini.read_text().replace("https://erp.example.com", url))
    env = host.root / "etc" / "syncd" / "syncd.env"
    env.write_text(
        env.read_text().replace(
            "#SYNCD_DOLIBARR_API_KEY=change-me", f"SYNCD_DOLIBARR_API_KEY={KEY}"
        )
    )
    if env.stat().st_uid != 0:  # root:syncd 0640 is allowed; a user's own file must be 0600
        env.chmod(0o600)


def verify_unit(unit: Path, host: Host) -> None:
    if shutil.which("systemd-analyze") is None:
        return  # the tool is absent: nothing to verify with
    copy = host.root / "syncd.service"
    copy.write_text(host.path(unit.read_text()))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert str(copy) not in output, output  # an unknown key or bad value only warns


def start_once(host: Host) -> None:
    """`systemctl enable --now syncd`, as far as a test goes: the unit's ExecStart, one cycle."""
    unit = (host.root / "etc" / "systemd" / "system" / "syncd.service").read_text()
    start = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    host.run(start.removeprefix("ExecStart=") + " --once")


def test_the_readme_install_recipe_works_step_by_step(
    tmp_path: Path, dolibarr: tuple[FakeDolibarr, str]
) -> None:
    fake, url = dolibarr
    host = Host(tmp_path)
    outputs: dict[str, str] = {}
    for line in recipe():
        if line.startswith("sudo useradd "):
            continue
        if "systemctl " in line:
            start_once(host)
        elif "git clone" in line:
            host.clone()
        elif "-m venv" in line:
            host.venv()
        else:
            outputs[line] = host.run(line).stdout
        if "contrib/syncd.env.example" in line:
            edit_config(host, url)
        if "syncd.service " in line:
            verify_unit(host.root / "etc" / "systemd" / "system" / "syncd.service", host)
    fixed = next(out for line, out in outputs.items() if "--fix-dolibarr" in line)
    assert "created extrafield onboarding_step" in fixed
    assert "created tag 'ICP-fit'" in fixed
    assert fixed.endswith("check: ok (dolibarr)\n")
    assert "Partner-Active" in {c.label for c in fake.categories.values()}
    status = next(out for line, out in outputs.items() if line.endswith(" status"))
    assert "last cycles:\n  " in status and " ok: " in status  # the service's database
    assert (tmp_path / "var" / "lib" / "syncd" / "syncd.db").exists()
