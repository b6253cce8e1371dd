"""Both onboarding processes on one third party, through every fake.

A trial can also be a partner prospect, and a partner can refer another
partner (`docs/processes/`). Each test quotes the process pages and checks
what the fakes received. The first one pins the keys of single-process
cases: a changed key would resend, on upgrade, what was already done.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from connectors.fakes.seed import seed_demo
from tests.harness import World

SINGLE_PROCESS_KEYS = Path(__file__).parent / "golden" / "single_process_keys.json"


def today(world: World) -> date:
    return world.now.astimezone(world.dolibarr.tz).date()


def seed_single_process(world: World) -> None:
    """The demo's cases (every step of both processes, each case in one), and a few more:
    a partner referred by a partner, and overrides of either process."""
    d = world.dolibarr
    ids = seed_demo(d)
    on = today(world)
    d.add_thirdparty(
        "Wren Partners",
        email="hi@wren.example",
        tags=("Partner-Prospect",),
        array_options={"referred_by": ids["Quartz Partners"]},
    )
    d.add_thirdparty(
        "Yew Trial",
        email="it@yew.example",
        tags=("Trial",),
        array_options={"signup_date": on, "onboarding_step_override": "welcome_call"},
    )
    d.add_thirdparty(
        "Zinc Trial",
        email="it@zinc.example",
        tags=("Trial",),
        array_options={"signup_date": on, "onboarding_step_override": "discovery_call"},
    )
    d.add_thirdparty(
        "Alder Partners",
        email="hi@alder.example",
        tags=("Partner-Qualified",),
        array_options={"onboarding_step_override": "partner_account"},
    )


def planned_keys(world: World, days: int = 18) -> list[str]:
    """Every key planned over `days` days of cycles, two a day."""
    keys: set[str] = set()
    for _ in range(days * 2):
        for report in world.cycle().plan.reports:
            keys.update(action.key for action in report.actions)
        world.advance(hours=12)
    return sorted(keys)


def test_single_process_cases_keep_the_keys_they_had(world: World) -> None:
    """The keys planned for cases in one process are those planned before a case could
    be in two (the file was written by that code; set SYNCD_UPDATE_KEYS=1 to rewrite it
    only when a key is meant to change)."""
    seed_single_process(world)
    keys = planned_keys(world)
    if os.environ.get("SYNCD_UPDATE_KEYS") == "1":
        SINGLE_PROCESS_KEYS.write_text(json.dumps(keys, indent=1) + "\n")
    assert keys == json.loads(SINGLE_PROCESS_KEYS.read_text())
