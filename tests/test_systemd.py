"""sd_notify against a real unix datagram socket, and the shipped unit file.

The Notifier is checked by what a socket bound where systemd would listen
actually receives; the unit file by parsing it, and by `systemd-analyze verify`
where that tool exists.
"""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from syncd.systemd import Notifier

UNIT = Path(__file__).resolve().parent.parent / "contrib" / "syncd.service"


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound where systemd would listen, and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        yield sock, str(path)


@pytest.fixture
def debug_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def notifier_for(address: str, **env: str) -> Notifier:
    return Notifier.from_env({"NOTIFY_SOCKET": address, **env})


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (Notifier.ready, ["READY=1"]),
        (Notifier.stopping, ["STOPPING=1"]),
        (Notifier.watchdog, ["WATCHDOG=1"]),
        (lambda n: n.status("cycle 3 ok: 2 actions"), ["STATUS=cycle 3 ok: 2 actions"]),
    ],
)
def test_each_call_sends_its_assignment(
    listener: tuple[socket.socket, str], call: Any, expected: list[str]
) -> None:
    sock, address = listener
    call(notifier_for(address))
    assert received(sock) == expected


def test_reloading_sends_monotonic_usec(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier_for(address).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    reloading, monotonic = received(sock)
    assert reloading == "RELOADING=1"
    name, _, usec = monotonic.partition("=")
    assert name == "MONOTONIC_USEC"
    assert before <= int(usec) <= after


def test_status_with_newlines_stays_one_assignment(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier_for(address).status("cycle 1 failed:\nboom")
    assert received(sock) == ["STATUS=cycle 1 failed: boom"]


def test_abstract_socket_address_starts_with_at() -> None:
    name = f"syncd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        notifier_for("@" + name).ready()
        assert received(sock) == ["READY=1"]


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no socket may be opened without NOTIFY_SOCKET")

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setattr(socket, "socket", refuse)
    for notifier in (Notifier.from_env({}), Notifier.from_env()):
        assert not notifier.enabled
        notifier.ready()
        notifier.status("x")
        notifier.watchdog()
        notifier.reloading()
        notifier.stopping()
        assert notifier.watchdog_interval() is None


def test_missing_socket_path_is_logged_not_raised(tmp_path: Path, debug_lines: list[str]) -> None:
    notifier = notifier_for(str(tmp_path / "gone.sock"))
    assert notifier.enabled
    notifier.ready()
    notifier.status("still fine")
    assert any("sd_notify" in line and "gone.sock" in line for line in debug_lines)


@pytest.mark.parametrize("address", ["/" + "x" * 200, "vsock:2:1234", "@"])
def test_unusable_address_does_not_raise(address: str) -> None:
    notifier_for(address).watchdog()


def test_full_receive_queue_does_not_block(listener: tuple[socket.socket, str]) -> None:
    # Nobody reads: after max_dgram_qlen datagrams a blocking sendto would wait forever.
    _sock, address = listener
    notifier = notifier_for(address)
    pings = [notifier.watchdog for _ in range(1000)]
    sender = threading.Thread(target=lambda: [ping() for ping in pings], daemon=True)
    sender.start()
    sender.join(timeout=10)
    assert not sender.is_alive(), "sd_notify blocked on a full socket queue"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "120000000"}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid())}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout(env: dict[str, str], expected: float | None) -> None:
    assert notifier_for("/run/systemd/notify", **env).watchdog_interval() == expected


def test_watchdog_interval_none_without_notify_socket() -> None:
    assert Notifier.from_env({"WATCHDOG_USEC": "120000000"}).watchdog_interval() is None


# --- the unit file -------------------------------------------------------------------


class _MultiDict(dict[str, Any]):
    """Keeps every value of a repeated key: configparser stores raw values as lists
    while reading, so extending instead of replacing yields them newline-joined."""

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Each section's keys (case kept) to all their values, in order."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, dict_type=_MultiDict, empty_lines_in_values=False
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(path, encoding="utf-8")
    return {
        name: {key: value.split("\n") for key, value in parser[name].items()}
        for name in parser.sections()
    }


def test_read_unit_keeps_repeated_keys(tmp_path: Path) -> None:
    unit = tmp_path / "x.service"
    unit.write_text("[Service]\nEnvironment=A=1\nEnvironment=B=2\nUser=x\n")
    assert read_unit(unit)["Service"] == {"Environment": ["A=1", "B=2"], "User": ["x"]}


def test_unit_file_runs_a_hardened_notify_service() -> None:
    unit = read_unit(UNIT)
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("", "root")
    assert service["StateDirectory"] == "syncd"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "true"
    # One place for each setting: syncd reads syncd.env and the state path from its config.
    assert "EnvironmentFile" not in service
    assert not [v for v in unit["Service"].get("Environment", []) if v.startswith("SYNCD_")]
    assert service["RestartPreventExitStatus"] == "2"  # a bad config is not restarted forever
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["ExecStart"].endswith(" run")
    assert "network-online.target" in unit["Unit"]["After"][-1]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian/Ubuntu: apt-get install systemd)",
)
def test_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists ExecStart exists, so the copy runs this Python instead of /opt/syncd.
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    start = f"ExecStart={sys.executable} -c pass"
    copy = tmp_path / "syncd.service"
    copy.write_text("\n".join(start if ln.startswith("ExecStart=") else ln for ln in lines))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # verify exits 0 on an unknown key or a bad value, only warning "…, ignoring".
    assert str(copy) not in output, output
