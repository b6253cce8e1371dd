"""`syncd demo`: syncd against built-in fakes on 127.0.0.1, no accounts needed.

It starts the stateful Dolibarr fake as a real HTTP server on a free loopback
port, seeds it with sample cases, writes a temporary config pointing at it,
and shows the dry-run audit. Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import seed_demo
from connectors.fakes.web import serve

DEMO_RULES = """
[rule:welcome_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/demo

[rule:discovery_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/partners

[rule:follow_up_message]
docs_link = https://docs.example.com
community_link = https://discord.example.com/invite
"""

# No message leaves the machine in a dry run; these addresses are never contacted.
DEMO_SYSTEMS = """
[mautic]
url = http://127.0.0.1:9
username = demo
password = demo

[freescout]
url = http://127.0.0.1:9
api_key = demo
mailbox_id = 1

[matrix]
homeserver = http://127.0.0.1:9
access_token = demo
room_sales = !sales:demo.local
room_success = !success:demo.local
"""


def write_config(folder: Path, url: str, api_key: str, now: datetime) -> Path:
    path = folder / "syncd-demo.ini"
    path.write_text(
        f"[dolibarr]\nurl = {url}\napi_key = {api_key}\ntimezone = Europe/Paris\n\n"
        f"[daemon]\nstate_db = {folder / 'syncd-demo.db'}\nlog_level = WARNING\n"
        f"now = {now.isoformat()}\n" + DEMO_SYSTEMS + DEMO_RULES
    )
    return path


def run_demo(fmt: str = "text") -> int:
    from syncd.cli import dry_run

    fake = FakeDolibarr()
    fake.now = datetime.now(UTC).replace(microsecond=0).timestamp()
    seed_demo(fake)
    with tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp, serve(fake) as url:
        config = write_config(Path(tmp), url, fake.api_key, datetime.fromtimestamp(fake.now, UTC))
        print(
            f"syncd demo: fake Dolibarr on {url}, {len(fake.thirdparties)} cases", file=sys.stderr
        )
        return dry_run(str(config), fmt)
