"""Tell systemd how the daemon is doing: the sd_notify protocol, no dependency.

Role: send `READY=1`, `STATUS=…`, `WATCHDOG=1`, `RELOADING=1` and `STOPPING=1` to
the socket systemd names in `NOTIFY_SOCKET` (a path, or `@name` for an abstract
socket), and say how often the watchdog wants a ping (`WATCHDOG_USEC`). Without
`NOTIFY_SOCKET` (a terminal, a test, `syncd demo`) every call does nothing.

This module must never raise into or block the daemon: a notification is a
courtesy to the service manager, so a send that fails (socket gone, queue full)
is logged at DEBUG and dropped, and the socket is non-blocking.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from loguru import logger


@dataclass(frozen=True)
class Notifier:
    """sd_notify client; `address` None means "not under systemd": a no-op."""

    address: str | None = None
    watchdog_usec: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None, _watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self) -> None:
        self.notify("READY=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def reloading(self) -> None:
        # Type=notify-reload (systemd ≥ 253) wants the monotonic time with RELOADING=1,
        # to tell this reload from an older one; plain Type=notify ignores it.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def status(self, text: str) -> None:
        # One assignment per line: a newline inside the text would start a new one.
        self.notify("STATUS=" + " ".join(text.splitlines()))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half the watchdog timeout, as sd_watchdog_enabled(3) advises."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def notify(self, *assignments: str) -> None:
        """Send the assignments in one datagram; never raises, never blocks."""
        if self.address is None:
            return
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(message, _sockaddr(self.address))
        except (OSError, ValueError) as exc:  # a bad address must not stop the daemon either
            logger.debug("sd_notify to {} failed: {}", self.address, exc)


def _sockaddr(address: str) -> str:
    """`@name` is Linux's abstract namespace, spelt with a leading NUL byte."""
    return "\0" + address[1:] if address.startswith("@") else address


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """WATCHDOG_USEC, unless WATCHDOG_PID says the watchdog is another process's."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None
