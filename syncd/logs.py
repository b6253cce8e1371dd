"""Logging: loguru to stderr, one line per event, for journald or a log shipper.

Text lines carry the bound context (`case=… rule=… key=…`); `log_format = json`
writes one JSON object per line. Every configured secret is masked in every
line before it is written: a secret must never reach a log, whatever the
message (an error text that quotes a URL or a header included).
"""

from __future__ import annotations

import json
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


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send every event at `level` or above to stderr (or `stream`), masked."""
    masker = mask_secrets(secrets)
    render = json_line if fmt == "json" else text_line
    out = stream or sys.stderr

    def sink(message: Any) -> None:
        out.write(render(message.record, masker) + "\n")
        out.flush()

    logger.remove()
    logger.add(sink, level=level, format="{message}", backtrace=False, diagnose=False)
