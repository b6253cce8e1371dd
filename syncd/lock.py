"""One daemon per state database: an exclusive lock on `<state_db>.lock` holding the PID.

The kernel drops an flock when its process dies, so a crash never leaves a
stale lock behind; the PID in the file only serves to name the holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from syncd.errors import StateError, SyncdError


class LockError(SyncdError):
    """Another syncd already runs on this state database."""


def lock_path(state_db: Path) -> Path:
    return state_db.with_name(state_db.name + ".lock")


class InstanceLock:
    def __init__(self, state_db: Path) -> None:
        self.path = lock_path(state_db)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"PID {holder}" if holder else "another process"
            raise LockError(
                f"another syncd ({who}) is already running on {self.path.with_suffix('')}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def running_pid(state_db: Path) -> int | None:
    """The PID of the syncd holding the lock, or None when none runs."""
    path = lock_path(state_db)
    if not path.exists():
        return None
    fd = _open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _open(path: Path, flags: int) -> int:
    """The lock file's descriptor (created 0600 if missing); an OS refusal is a StateError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o600)
    except OSError as exc:
        raise StateError(path, exc.strerror or str(exc), damaged=False) from None


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
