"""A whole syncd world for integration tests: the four fakes, a config, a runtime, a clock.

Every external system is a stateful fake registered in the test's one
`http_mock`; `World.cycle()` runs one real cycle at the world's clock, and
`World.advance()` moves syncd's clock and every fake's together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from syncd.cli import load
from syncd.cycle import CycleResult, Runtime, plan, run_cycle
from syncd.daemon import build_runtime
from syncd.model import CaseReport
from syncd.recipients import earlier_messages

RULES = """
[company]
name = Acme
[rule:welcome_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/demo

[rule:discovery_call_offer]
calendar_link = https://cloud.example.com/apps/calendar/p/partners

[rule:check_in_email]
template_id = 1

[rule:follow_up_message]
community_link = https://discord.example.com/invite/unicis

[rule:handoff_success]
support_link = https://matrix.to/#/#customers:example.com

[rule:partner_welcome_email]
template_id = 2

[rule:nurture_segment]
segment_id = 1
"""


def write_config(folder: Path, urls: dict[str, str], extra: str = "") -> Path:
    path = folder / "syncd.ini"
    path.write_text(
        f"[dolibarr]\nurl = {urls['dolibarr']}\napi_key = test-key\ntimezone = Europe/Paris\n"
        f"overlap_seconds = 300\n\n"
        f"[daemon]\nstate_db = {folder / 'state.db'}\nlog_level = WARNING\n\n"
        f"[mautic]\nurl = {urls['mautic']}\nusername = syncd\npassword = secret\n\n"
        f"[freescout]\nurl = {urls['freescout']}\napi_key = test-key\nmailbox_id = 1\n"
        f"user_id = 1\n\n"
        f"[matrix]\nhomeserver = {urls['matrix']}\naccess_token = matrix-token\n"
        f"room_sales = !sales:test\nroom_success = !success:test\n" + RULES + extra
    )
    path.chmod(0o600)  # it holds secrets
    return path


@dataclass
class World:
    folder: Path
    dolibarr: FakeDolibarr
    mautic: FakeMautic
    freescout: FreescoutFake
    matrix: FakeMatrix
    config_path: Path
    now: datetime
    rt: Runtime

    @classmethod
    def build(cls, folder: Path, fakes: dict[str, Any], urls: dict[str, str]) -> World:
        path = write_config(folder, urls)
        now = datetime.fromtimestamp(fakes["dolibarr"].now, UTC)
        for name in ("mautic", "freescout", "matrix"):
            fakes[name].now = fakes["dolibarr"].now
        return cls(
            folder,
            fakes["dolibarr"],
            fakes["mautic"],
            fakes["freescout"],
            fakes["matrix"],
            path,
            now,
            cls._runtime(path),
        )

    @staticmethod
    def _runtime(path: Path) -> Runtime:
        config, ruleset = load(str(path))
        rt = build_runtime(config, ruleset)
        rt.monotonic = None  # the world's clock measures the time between reads
        return rt

    def restart(self) -> None:
        """A new process: state from the database only."""
        self.rt.store.close()
        self.rt = self._runtime(self.config_path)

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.now += step
        for fake in (self.dolibarr, self.mautic, self.freescout, self.matrix):
            fake.now += step.total_seconds()

    def cycle(self) -> CycleResult:
        return run_cycle(self.rt, self.now)

    def cycle_report(self, case_id: int) -> CaseReport:
        """Run a cycle; the case's report from it, or as a full plan gives it when the
        cycle had no reason to plan the case (nothing of it changed)."""
        found = {r.case_id: r for r in self.cycle().plan.reports}
        return found[case_id] if case_id in found else self.report(case_id)

    def report(self, case_id: int) -> CaseReport:
        """The case's report as a plan of every case would give it now (writes nothing).

        A cycle plans only what changed and what is due, so its own plan may
        not hold an unchanged case.
        """
        rt = self.rt
        places = rt.store.step_places()
        earlier = earlier_messages(rt.store.messages())
        full = plan(rt.mirror, rt.config, rt.ruleset, self.now, places, earlier)
        return {r.case_id: r for r in full.reports}[case_id]

    def syncd_events(self) -> list[str]:
        """Labels of every agenda event syncd left in Dolibarr."""
        return [e.label for e in self.dolibarr.events.values() if e.label.startswith("[syncd] ")]
