"""A secret a remote quotes back in an error never reaches the state database or the output.

The fakes, served over HTTP, answer with error bodies that echo the Dolibarr
API key and the Matrix access token; the real `syncd` process records the
failure. Neither secret may appear in the database's bytes (with its -wal)
nor in what `run --once`, `actions` and `status` print.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.world import Served, served

MATRIX_TOKEN = "demo-token"  # syncd.demo.write_config's


def secrets(w: Served) -> list[str]:
    return [w.dolibarr.api_key, MATRIX_TOKEN]


def stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("syncd-demo.db*")))


def assert_no_secret(w: Served, *outputs: str) -> None:
    stored = stored_bytes(w.folder)
    for secret in secrets(w):
        assert secret.encode() not in stored
        for output in outputs:
            assert secret not in output, output


def test_a_failed_action_quoting_secrets_is_stored_and_shown_masked(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        w.dolibarr.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": w.now.date()},
        )
        quoted = f"token {MATRIX_TOKEN} or key {w.dolibarr.api_key} refused"
        body = f'{{"errcode": "M_UNKNOWN", "error": "{quoted}"}}'
        w.matrix.fail("PUT", "/_matrix", status=400, body=body, times=None)
        once = w.syncd("run", "--once")
        actions = w.syncd("actions")
        status = w.syncd("status")
        assert once.returncode == 0, once.stderr
        assert "***" in once.stdout and "***" in actions.stdout and "***" in status.stdout
        assert_no_secret(w, once.stdout, once.stderr, actions.stdout, status.stdout)


def test_a_failed_cycle_quoting_the_api_key_is_stored_and_shown_masked(tmp_path: Path) -> None:
    with served(tmp_path) as w:
        body = f'{{"error": {{"code": 401, "message": "bad DOLAPIKEY {w.dolibarr.api_key}"}}}}'
        w.dolibarr.fail("GET", "/thirdparties", status=401, body=body, times=None)
        once = w.syncd("run", "--once")
        status = w.syncd("status")
        assert once.returncode == 1
        assert "***" in once.stderr and "***" in status.stdout
        assert_no_secret(w, once.stdout, once.stderr, status.stdout)
