"""Credentials that stop working: a 401 from Mautic, Matrix or FreeScout is a configuration
error, said at once by `run --once` and `status`, and mended by a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.world import Served, served

BREAK: dict[str, Callable[[Served], object]] = {
    "mautic": lambda w: w.mautic.add_user("syncd", "changed-by-someone"),
    "matrix": lambda w: w.matrix.logout("demo-token"),
    "freescout": lambda w: setattr(w.freescout, "api_key", "rotated-key"),
}
MEND: dict[str, Callable[[Served], object]] = {
    "mautic": lambda w: w.mautic.add_user("syncd", "demo-secret"),
    "matrix": lambda w: w.matrix.add_user("@syncd:demo.local", "demo-token"),
    "freescout": lambda w: setattr(w.freescout, "api_key", "test-key"),
}
NAME = {"mautic": "Mautic", "matrix": "Matrix", "freescout": "FreeScout"}


def effects(w: Served, system: str) -> int:
    if system == "mautic":
        return len(w.mautic.contacts)
    if system == "matrix":
        return len(w.matrix.messages("!sales:demo.local"))
    return len(w.freescout.conversations)


@pytest.mark.parametrize("system", sorted(BREAK))
def test_refused_credentials_fail_at_once_are_named_and_sent_after_a_restart(
    tmp_path: Path, system: str
) -> None:
    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial", "ICP-fit") if system == "freescout" else ("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        BREAK[system](w)
        before = effects(w, system)

        once = w.syncd("run", "--once")
        assert once.returncode == 1, once.stdout + once.stderr
        assert "cycle ok" not in once.stdout
        assert f"failed ({system}: 401 credentials refused)" in once.stdout
        assert once.stdout.startswith("cycle degraded: ")
        assert f"{NAME[system]} refused syncd's credentials: check [{system}]" in once.stdout
        status = w.syncd("status")
        assert status.returncode == 1
        assert f"{NAME[system]} refused syncd's credentials" in status.stdout
        assert "health: needs attention" in status.stdout

        w.advance(minutes=10)
        again = w.syncd("run", "--once")  # a new process tries once more, and fails at once
        assert again.returncode == 1 and f"({system}: 401 credentials refused)" in again.stdout
        assert effects(w, system) == before

        MEND[system](w)
        w.advance(minutes=10)
        mended = w.syncd("run", "--once")
        assert mended.returncode == 0, mended.stdout
        assert mended.stdout.startswith("cycle ok: ")
        assert effects(w, system) == before + 1
        assert w.syncd("status").returncode == 0
