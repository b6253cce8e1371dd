"""`syncd demo`: the whole of syncd against built-in fakes on 127.0.0.1, no accounts needed.

It starts stateful fakes of Dolibarr, Mautic, FreeScout and Matrix as real
HTTP servers on free loopback ports, seeds them with sample cases covering
both processes and every exception, writes a temporary config pointing at
them, shows the dry-run audit, runs cycles over simulated days, and prints
what was sent where. Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.seed import seed_demo, seed_systems
from connectors.fakes.web import serve
from syncd import audit
from syncd.cycle import run_cycle
from syncd.invocation import command_name
from syncd.model import CaseReport

DAYS = 14
CYCLES_PER_DAY = 2

DEMO_RULES = """
[company]
name = Demo Company
[rule:welcome_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/demo

[rule:discovery_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/partners

[rule:follow_up_message]
docs_link = https://docs.example.com
community_link = https://discord.example.com/invite

[rule:check_in_email]
template_id = 1

[rule:handoff_success]
support_link = https://matrix.to/#/#customers:demo.local

[rule:partner_welcome_email]
template_id = 2

[rule:nurture_segment]
segment_id = 1
"""


class Fakes:
    def __init__(self, now: float) -> None:
        self.dolibarr = FakeDolibarr(now=now)
        self.mautic = FakeMautic(now=now)
        self.freescout = FreescoutFake(now=now)
        self.matrix = FakeMatrix(server_name="demo.local", now=now)
        seed_demo(self.dolibarr)
        seed_systems(self.mautic, self.freescout, self.matrix)

    def all(self) -> Iterator[FakeDolibarr | FakeMautic | FreescoutFake | FakeMatrix]:
        yield from (self.dolibarr, self.mautic, self.freescout, self.matrix)

    def advance(self, seconds: float) -> None:
        for fake in self.all():
            fake.now += seconds


def write_config(folder: Path, urls: dict[str, str], api_key: str, now: datetime) -> Path:
    path = folder / "syncd-demo.ini"
    path.write_text(
        f"[dolibarr]\nurl = {urls['dolibarr']}\napi_key = {api_key}\ntimezone = Europe/Paris\n\n"
        f"[daemon]\nstate_db = {folder / 'syncd-demo.db'}\nlog_level = WARNING\n"
        f"now = {now.isoformat()}\n\n"
        f"[mautic]\nurl = {urls['mautic']}\nusername = syncd\npassword = demo-secret\n\n"
        f"[freescout]\nurl = {urls['freescout']}\napi_key = {'test-key'}\nmailbox_id = 1\n"
        f"user_id = 1\n\n"
        f"[matrix]\nhomeserver = {urls['matrix']}\naccess_token = demo-token\n"
        f"room_sales = !sales:demo.local\nroom_success = !success:demo.local\n" + DEMO_RULES
    )
    path.chmod(0o600)  # it holds secrets: syncd refuses to read it otherwise
    return path


def run_demo(fmt: str = "text", explain: str | None = None, *, skips: bool = False) -> int:
    """The demo; `explain`: show that one case in full and stop (the audit's hints)."""
    from syncd.daemon import audit_plan, build_runtime, load

    start = datetime.now(UTC).replace(microsecond=0)
    fakes = Fakes(start.timestamp())
    with tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp, ExitStack() as servers:
        urls = {
            name: servers.enter_context(serve(fake))
            for name, fake in zip(
                ("dolibarr", "mautic", "freescout", "matrix"), fakes.all(), strict=True
            )
        }
        config_path = write_config(Path(tmp), urls, fakes.dolibarr.api_key, start)
        print(
            f"syncd demo: fakes of Dolibarr, Mautic, FreeScout and Matrix on 127.0.0.1 "
            f"({len(fakes.dolibarr.thirdparties)} sample cases)",
            file=sys.stderr,
        )
        config, ruleset = load(str(config_path))
        plan = audit_plan(config, ruleset)
        if explain is not None:
            return explain_case(plan.generated_at, plan.reports, explain, fmt)
        if fmt == "json":
            print(audit.to_json(plan.generated_at, plan.reports))
            return 0
        say("\n== 1. The dry-run audit: what syncd would do today, and why ==\n")
        hint = f"{command_name()} demo --explain {{id}}"
        print(audit.to_text(plan.generated_at, plan.reports, skips=skips, hint=hint))
        rt = build_runtime(config, ruleset)
        say(f"\n== 2. Running for real: {DAYS} simulated days, {CYCLES_PER_DAY} cycles a day ==\n")
        step = timedelta(days=1) / CYCLES_PER_DAY
        for n in range(DAYS * CYCLES_PER_DAY):
            now = start + step * n
            result = run_cycle(rt, now)
            if result.stats.done or result.stats.failed:
                print(
                    f"  {now:%a %d %b %H:%M}  {result.stats.done} actions done"
                    + (f", {result.stats.failed} failed" if result.stats.failed else "")
                )
            fakes.advance(step.total_seconds())
        say("\n== 3. What was sent where ==\n")
        print(inboxes(fakes))
        counts = rt.store.counts()
        print("\noutbox: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        rt.store.close()
    say("\nsyncd demo: all fakes stopped.")
    return 0


def explain_case(at: datetime, reports: list[CaseReport], wanted: str, fmt: str) -> int:
    report = next(
        (r for r in reports if wanted in (str(r.case_id), r.ref) or r.name == wanted), None
    )
    if report is None:
        print(f"syncd: the demo has no case with id or ref {wanted!r}", file=sys.stderr)
        return 1
    if fmt == "json":
        print(audit.to_json(at, [report]))
    else:
        print(audit.to_text(at, [report], full=True))
    return 0


def inboxes(fakes: Fakes) -> str:
    lines = ["FreeScout (personal emails from the sales mailbox):"]
    emails = sorted(
        {str(tp.fields.get("email") or "") for tp in fakes.dolibarr.thirdparties.values()}
    )
    sent = [m for email in emails if email for m in fakes.freescout.messages_to(email)]
    for message in sorted(sent, key=lambda m: m.conversation_id):
        lines.append(f"  to {message.to:28} {message.subject}")
    lines.append("Mautic (template emails):")
    names = fakes.mautic.emails
    for email in fakes.mautic.sent():
        lines.append(f"  to {email.to:28} {names.get(email.email_id, email.email_id)}")
    for room in ("!sales:demo.local", "!success:demo.local"):
        lines.append(f"Matrix {room}:")
        lines += [f"  {text}" for text in fakes.matrix.messages(room)]
    events = [e for e in fakes.dolibarr.events.values() if e.label.startswith("[syncd] ")]
    lines.append(f"Dolibarr: {len(events)} [syncd] agenda events on the cases' timelines")
    return "\n".join(lines)


def say(text: str) -> None:
    print(text, flush=True)
