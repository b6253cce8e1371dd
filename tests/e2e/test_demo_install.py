"""`syncd demo` needs only what a production install has: the fakes import no test-only
package, and the hints its audit prints (`syncd demo --explain 13`) run as printed."""

from __future__ import annotations

import subprocess
import sys

from tests.test_cli_entry import syncd_command

# Runs the CLI with the test-only packages made unimportable, as after `pip install .`.
WITHOUT_DEV_PACKAGES = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"responses", "pytest", "hypothesis", "_pytest"}:
            raise ImportError(f"No module named {name!r} (not installed in production)")
        return None
sys.meta_path.insert(0, Block())
from syncd.cli import main
sys.argv = ["syncd", *sys.argv[1:]]
raise SystemExit(main())
"""


def test_demo_runs_without_test_only_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DEV_PACKAGES, "demo"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "== 3. What was sent where ==" in done.stdout
    assert "demo --explain " in done.stdout


def test_demo_explain_shows_one_case_in_full() -> None:
    done = subprocess.run(
        [*syncd_command(), "demo", "--explain", "2"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    cases = [line for line in done.stdout.splitlines() if line.startswith("#")]
    assert len(cases) == 1 and cases[0].startswith("#2 ")
    assert "  · skip " in done.stdout
