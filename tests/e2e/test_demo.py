"""`syncd demo` as a newcomer runs it: a real process, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter


def test_demo_audits_both_processes_and_every_exception() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd.cli", "--format", "json", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Dolibarr, Mautic, FreeScout and Matrix on 127.0.0.1" in done.stderr
    document = json.loads(done.stdout)
    cases = {case["name"]: case for case in document["cases"]}
    steps = Counter(case["step"] for case in cases.values())
    for step in (
        "signup",
        "qualification",
        "nurture",
        "welcome_call",
        "onboarding_call",
        "follow_up",
        "conversion",
        "subscription_active",
        "handoff",
        "partner_qualification",
        "discovery_call",
        "partner_declined",
        "active_partner",
    ):
        assert steps[step] >= 1, step
    assert cases["Juniper Project"]["step"] != "conversion"  # EU-Project skips conversion
    kestrel = {a["key"] for a in cases["Kestrel Self-hosted"]["actions"]}
    assert any(key.endswith(":licence") for key in kestrel)  # Self-hosted: a human is told
    quartz = {a["rule"] for a in cases["Quartz Partners"]["actions"]}
    assert "partner_commission_note" in {a["rule"] for a in cases["Iris Media"]["actions"]}
    assert "first_deal_note" in quartz
    assert cases["Rook Consulting"]["actions"] == []  # syncd_pause
    assert cases["Sable Works"]["errors"]  # a bad override is an error on that case only
    maple = cases["Maple Analytics"]  # a trial that is also a partner prospect
    assert (maple["process"], maple["step"]) == (
        "customer + partner",
        "welcome_call / partner_qualification",
    )
    assert "welcome_call_offer" in {a["rule"] for a in maple["actions"]}
