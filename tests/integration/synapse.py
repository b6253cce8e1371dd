"""A real Synapse on 127.0.0.1 for the integration tier, and what a test asks of it.

Role: write a homeserver config (sqlite, registration by shared secret, the
default rate limits untouched), start Synapse from its own virtual environment
(`SYNCD_SYNAPSE` names its python; `make test-integration` builds it), register
users through the shared-secret admin API, log in again (a new device), create
rooms of a given version with an alias, and read a room back. Every loop here is
bounded in time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

SHARED_SECRET = "integration-shared-secret"
SERVER_NAME = "localhost"
PASSWORD = "integration-password"

CONFIG = """\
server_name: "{server_name}"
pid_file: {folder}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {folder}/homeserver.db
media_store_path: {folder}/media_store
registration_shared_secret: "{secret}"
enable_registration: false
report_stats: false
macaroon_secret_key: "{macaroon}"
form_secret: "{form}"
signing_key_path: {folder}/{server_name}.signing.key
trusted_key_servers: []
suppress_key_server_warning: true
enable_metrics: false
"""


@dataclass(frozen=True)
class User:
    user_id: str
    token: str
    device_id: str


class Homeserver:
    """One running Synapse and a `requests` session to speak to it."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log
        self.http = requests.Session()

    def register(self, name: str) -> User:
        """A new (non-admin) user through the shared-secret admin API, logged in."""
        path = "/_synapse/admin/v1/register"
        nonce = self._call("GET", path)["nonce"]
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(f"{nonce}\0{name}\0{PASSWORD}\0notadmin".encode())
        body = {
            "nonce": nonce,
            "username": name,
            "password": PASSWORD,
            "admin": False,
            "mac": mac.hexdigest(),
        }
        answer = self._call("POST", path, body=body)
        return User(answer["user_id"], answer["access_token"], answer["device_id"])

    def login(self, user: User) -> User:
        """The same user logged in again: a new access token on a new device."""
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": PASSWORD,
        }
        answer = self._call("POST", "/_matrix/client/v3/login", body=body)
        return User(user.user_id, answer["access_token"], answer["device_id"])

    def create_room(self, owner: User, version: str, alias: str, invite: User) -> str:
        """A private room of `version` with alias `#alias:localhost`, `invite` joined to it."""
        body = {
            "room_version": version,
            "preset": "private_chat",
            "room_alias_name": alias,
            "invite": [invite.user_id],
        }
        room_id = str(self._call("POST", "/_matrix/client/v3/createRoom", owner, body)["room_id"])
        self._call("POST", f"/_matrix/client/v3/join/{quote(room_id, safe='')}", invite, {})
        return room_id

    def notices(self, reader: User, room_id: str) -> list[dict[str, Any]]:
        """The content of every `m.room.message` in the room, oldest first."""
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages"
        query: dict[str, Any] = {"dir": "f", "limit": 1000}
        found: list[dict[str, Any]] = []
        for _ in range(20):
            page = self._call("GET", path, reader, params=query)
            found += [e["content"] for e in page["chunk"] if e["type"] == "m.room.message"]
            if "end" not in page:
                break
            query["from"] = page["end"]
        return found

    def keys(self, reader: User, room_id: str) -> list[str]:
        """Every action key the room's notices carry, digests' items included."""
        keys: list[str] = []
        for content in self.notices(reader, room_id):
            if "org.syncd.keys" in content:
                keys += content["org.syncd.keys"]
            elif "org.syncd.key" in content:
                keys.append(content["org.syncd.key"])
        return keys

    def _call(
        self,
        method: str,
        path: str,
        user: User | None = None,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One request; a 429 (room creation shares the message limit) is waited out."""
        headers = {"Authorization": f"Bearer {user.token}"} if user else {}
        for _ in range(30):
            answer = self.http.request(
                method, self.url + path, json=body, params=params, headers=headers, timeout=30
            )
            if answer.status_code != 429:
                answer.raise_for_status()
                return answer.json()
            time.sleep(answer.json().get("retry_after_ms", 1000) / 1000)
        raise AssertionError(f"{method} {path}: still rate limited")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, port: int) -> Path:
    path = folder / "homeserver.yaml"
    path.write_text(
        CONFIG.format(
            server_name=SERVER_NAME,
            folder=folder,
            port=port,
            secret=SHARED_SECRET,
            macaroon=secrets.token_hex(16),
            form=secrets.token_hex(16),
        )
    )
    return path


@contextmanager
def running(python: str, folder: Path, startup: float = 60.0) -> Iterator[Homeserver]:
    """Synapse started from `python` (its own venv), stopped (SIGTERM, then SIGKILL) after."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(folder, port)
    module = ["-m", "synapse.app.homeserver", "-c", str(config)]
    subprocess.run([python, *module, "--generate-keys"], check=True, capture_output=True)
    log = folder / "synapse.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([python, *module], stdout=out, stderr=subprocess.STDOUT)
    server = Homeserver(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_until_up(server, startup)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(server: Homeserver, startup: float) -> None:
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Synapse exited with {server.proc.returncode}:\n{tail}")
        try:
            if server.http.get(server.url + "/_matrix/client/versions", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Synapse did not answer within {startup:.0f} s (see {server.log})")


def dump(value: Any) -> str:
    return json.dumps(value, indent=1)[:2000]
