"""Logging: loguru to stderr, one line per event, for journald or a log shipper.

Text lines carry the bound context (`case=… rule=… key=…`); `log_format = json`
writes one JSON object per line. Every configured secret is masked in every
line before it is written: a secret must never reach a log, whatever the
message (an error text that quotes a URL or a header included).

Under systemd, when stderr is the journal's stream (`JOURNAL_STREAM` names its
device and inode), each line starts with its syslog priority as sd-daemon(3)
says (`<3>` an error, `<4>` a warning, `<6>` info, `<7>` debug), so journald
files it at that priority and `journalctl -p err` finds syncd's errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from loguru import logger

CONTEXT_KEYS = ("case", "rule", "key")
MASK = "***"


class Masker:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def text_line(record: Any, mask: Masker) -> str:
    extra = record["extra"]
    context = " ".join(f"{k}={extra[k]}" for k in CONTEXT_KEYS if k in extra)
    line = f"{record['time']:%Y-%m-%d %H:%M:%S} {record['level'].name:<7} {record['message']}"
    if context:
        line += f"  [{context}]"
    if record["exception"] is not None:
        line += "\n" + "".join(_exception_lines(record))
    return mask(line)


def json_line(record: Any, mask: Masker) -> str:
    document = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        **{k: record["extra"][k] for k in CONTEXT_KEYS if k in record["extra"]},
    }
    if record["exception"] is not None:
        document["exception"] = "".join(_exception_lines(record))
    return mask(json.dumps(document, ensure_ascii=False, default=str))


def _exception_lines(record: Any) -> list[str]:
    import traceback

    exc = record["exception"]
    return traceback.format_exception(exc.type, exc.value, exc.traceback)


_active = Masker(())


def mask(text: str) -> str:
    """`text` with every configured secret masked (for messages printed outside the log,
    and for remote texts the state database keeps)."""
    return _active(text)


def mask_secrets(secrets: Iterable[str]) -> Masker:
    """Make `mask` (and so the log, the CLI's output and the store) mask these secrets."""
    global _active
    _active = Masker(secrets)
    return _active


# sd-daemon(3) priority prefixes, by loguru level.
PRIORITIES = {
    "TRACE": 7,
    "DEBUG": 7,
    "INFO": 6,
    "SUCCESS": 5,
    "WARNING": 4,
    "ERROR": 3,
    "CRITICAL": 2,
}


def is_journal(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Whether `stream` is the journal's: its device and inode are `JOURNAL_STREAM`'s."""
    wanted = (environ if environ is not None else os.environ).get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in wanted.split(":"))
        found = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


def with_priority(line: str, level: str) -> str:
    """Every line of an event (a traceback's too) prefixed with the event's priority."""
    prefix = f"<{PRIORITIES.get(level, 6)}>"
    return "\n".join(prefix + part for part in line.split("\n"))


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send every event at `level` or above to stderr (or `stream`), masked; with
    priority prefixes when that is the journal."""
    masker = mask_secrets(secrets)
    render = json_line if fmt == "json" else text_line
    out = stream or sys.stderr
    journal = is_journal(out)

    def sink(message: Any) -> None:
        line = render(message.record, masker)
        if journal:
            line = with_priority(line, message.record["level"].name)
        out.write(line + "\n")
        out.flush()

    logger.remove()
    logger.add(sink, level=level, format="{message}", backtrace=False, diagnose=False)
