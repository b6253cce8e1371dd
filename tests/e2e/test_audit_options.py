"""The audit at scale, run as installed against the fake Dolibarr over HTTP: the summary
first, skips counted per case (listed with --skips), filters, and hints that run as printed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import seed_demo
from connectors.fakes.web import serve
from syncd.model import STEP_SEPARATOR
from tests.test_cli_entry import syncd_command


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    fake = FakeDolibarr(now=1795420800.0)  # 2026-11-23 09:00 UTC
    seed_demo(fake)
    with serve(fake) as url:
        path = tmp_path / "syncd.ini"
        path.write_text(
            f"[dolibarr]\nurl = {url}\napi_key = {fake.api_key}\ntimezone = Europe/Paris\n\n"
            "[daemon]\nlog_level = WARNING\nnow = 2026-11-23T09:00:00+00:00\n"
        )
        path.chmod(0o600)
        yield path


def syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*syncd_command(), "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_summary_comes_first_and_skips_are_counted_per_case(config: Path) -> None:
    lines = syncd(config, "--dry-run").stdout.splitlines()
    assert lines[2].startswith("Summary: ")
    first_case = lines.index(next(line for line in lines if line.startswith("#")))
    assert first_case > 2
    assert not any(line.startswith("  · skip ") for line in lines)
    counts = [line for line in lines if " skipped (shown by: " in line]
    assert counts and counts[0].startswith("  · ")


def test_skips_lists_each_skip(config: Path) -> None:
    out = syncd(config, "--dry-run", "--skips").stdout
    assert "  · skip " in out
    assert " skipped (shown by: " not in out


def test_the_hint_printed_for_a_case_runs_as_printed(config: Path) -> None:
    out = syncd(config, "--dry-run").stdout
    hint = next(line for line in out.splitlines() if " skipped (shown by: " in line)
    command = hint.split("(shown by: ", 1)[1].removesuffix(")")
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    done = subprocess.run(
        shlex.split(command), capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, (command, done.stderr)
    assert "  · skip " in done.stdout


def test_filters_by_case_step_and_rule(config: Path) -> None:
    everything = json.loads(syncd(config, "--dry-run", "--format", "json").stdout)["cases"]
    one = everything[0]
    by_case = json.loads(
        syncd(config, "--dry-run", "--format", "json", "--case", str(one["id"])).stdout
    )
    assert [c["id"] for c in by_case["cases"]] == [one["id"]]
    by_step = json.loads(
        syncd(config, "--dry-run", "--format", "json", "--step", "qualification").stdout
    )
    assert by_step["cases"]
    assert {c["step"] for c in by_step["cases"]} == {"qualification"}
    by_rule = json.loads(
        syncd(config, "--dry-run", "--format", "json", "--rule", "step_writeback").stdout
    )
    assert by_rule["cases"]
    assert {a["rule"] for c in by_rule["cases"] for a in c["actions"]} == {"step_writeback"}
    text = syncd(config, "--dry-run", "--step", "qualification").stdout
    assert f"shown: {len(by_step['cases'])} of {len(everything)} cases (filtered)" in text


def test_an_unknown_rule_in_a_filter_is_an_error(config: Path) -> None:
    done = subprocess.run(
        [*syncd_command(), "--config", str(config), "--dry-run", "--rule", "check_in"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (2, "syncd: no rule or step named check_in\n")


def test_a_step_filter_finds_a_case_in_both_processes(config: Path) -> None:
    everything = json.loads(syncd(config, "--dry-run", "--format", "json").stdout)["cases"]
    joined = [c for c in everything if STEP_SEPARATOR in c["step"]]
    assert joined, "the demo has a case in both processes"
    part = joined[0]["step"].split(STEP_SEPARATOR)[-1]
    found = json.loads(syncd(config, "--dry-run", "--format", "json", "--step", part).stdout)
    assert joined[0]["id"] in {c["id"] for c in found["cases"]}
