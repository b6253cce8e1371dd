"""How this process was started, so hints printed for people can be run as printed.

It reads `sys.argv` and `PATH` only; it must never change either.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def command_name() -> str:
    """`syncd` when that is what PATH finds, else the path run, else `python -m syncd.cli`."""
    given = sys.argv[0] if sys.argv else ""
    if Path(given).name == "syncd":
        found = shutil.which("syncd")
        same = found is not None and Path(found).resolve() == Path(given).resolve()
        return "syncd" if same else shlex.quote(given)
    return f"{shlex.quote(sys.executable)} -m syncd.cli"
