"""Read a secrets file in systemd's `EnvironmentFile=` format: `NAME=value` lines.

Lines that are empty or start with `#` or `;` are comments; a value may be
wrapped in single or double quotes (inside double quotes `\\"` and `\\\\` are
escapes); `export NAME=value` is read as `NAME=value`, as a shell would. The
same file can thus be given to systemd and read by syncd itself, so commands
run by hand see the secrets the service sees.

This module must never write a file or put a value into a message.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """A line that is not `NAME=value`; the text names the file and the line, never the value."""


def parse_env_text(text: str, origin: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        name, sep, value = stripped.removeprefix("export ").partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise EnvFileError(f"{origin}: line {number}: not NAME=value")
        found[name] = _unquote(value.strip())
    return found


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r'\\(["\\$`])', r"\1", inner)
        return inner
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """The variables in `path`; `OSError` when it cannot be read, `EnvFileError` when malformed."""
    return parse_env_text(path.read_text(encoding="utf-8"), str(path))
