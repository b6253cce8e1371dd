"""`syncd run --once` as cron runs it: each process plans what changed, as the daemon would.

Real `syncd run --once` processes against the fakes on 127.0.0.1. The second
process after a change plans only the cases it touches (its DEBUG line says
how many); the same story told to a twin world whose planner memory is dropped
before that process, so that it plans every case, ends with the same outbox
and the same messages, notices, events and notes in the fakes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.e2e.world import Served, rows, served

PLANNED = re.compile(r"planned (\d+) of (\d+) cases: (every case|what changed and what is due)")


def seed(w: Served) -> dict[str, int]:
    """A partner, three trials it referred, and customers of no one."""
    d = w.dolibarr
    day = w.now.astimezone(d.tz).date()
    ids = {
        "partner": d.add_thirdparty("Quartz", email="q@quartz.example", tags=("Partner-Active",))
    }
    for n in range(3):
        ids[f"trial{n}"] = d.add_thirdparty(
            f"Trial {n}",
            email=f"t{n}@x.example",
            tags=("Trial", "ICP-fit"),
            array_options={"signup_date": day - timedelta(days=8), "referred_by": ids["partner"]},
        )
    for n in range(4):
        d.add_thirdparty(f"Oak {n}", email=f"o{n}@oak.example", tags=("Trial",))
    return ids


def run_once(w: Served) -> tuple[int, int, str]:
    """One `syncd run --once`: (cases planned, cases, why) from its DEBUG line."""
    done = w.syncd("run", "--once", SYNCD_DAEMON_LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    (planned, cases, why), *_ = PLANNED.findall(done.stderr)
    return int(planned), int(cases), why


def story(w: Served, drop_memory: bool) -> tuple[int, int, str]:
    """Processes ten minutes apart; a trial pays; the next process, measured."""
    ids = seed(w)
    assert run_once(w) == (8, 8, "every case")
    for _ in range(2):  # the next ones read the first one's writes back
        w.advance(minutes=10)
        run_once(w)
    w.advance(minutes=10)
    w.dolibarr.add_invoice(ids["trial1"], "FA-1", "100.00", paid=True)
    w.dolibarr.set_fields(ids["trial2"], logins_count=9)
    if drop_memory:
        rows(w.folder / "syncd-demo.db", "delete from meta where key = 'planner'")
    measured = run_once(w)
    w.advance(minutes=10)
    run_once(w)  # what it did, read back
    return measured


def outcome(w: Served) -> tuple[Any, ...]:
    """The outbox and everything the fakes received."""
    d = w.dolibarr
    outbox = rows(
        w.folder / "syncd-demo.db",
        "select key, rule, case_id, kind, target, payload, status from outbox order by key",
    )
    return (
        outbox,
        sorted(
            (m.subject, m.to)
            for e in ("t0", "t1", "t2")
            for m in w.freescout.messages_to(f"{e}@x.example")
        ),
        sorted((e.email_id, e.to) for e in w.mautic.sent()),
        sorted(w.matrix.messages("!sales:demo.local") + w.matrix.messages("!success:demo.local")),
        sorted((e.socid, e.label) for e in d.events.values()),
        sorted(str(tp.fields.get("note_private") or "") for tp in d.thirdparties.values()),
    )


def test_run_once_plans_what_changed_and_enqueues_what_a_plan_of_everything_would(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with served(tmp_path / "a") as w:
        planned, cases, why = story(w, drop_memory=False)
        resumed = outcome(w)
    with served(tmp_path / "b") as twin:
        assert story(twin, drop_memory=True) == (8, 8, "every case")
        everything = outcome(twin)
    assert why == "what changed and what is due" and cases == 8
    assert 2 <= planned <= 4  # the two changed trials, the partner they name, maybe a move
    assert [r[0] for r in resumed[0]] == [r[0] for r in everything[0]]
    assert resumed == everything
    assert any(key.startswith("handoff_success:") for key, *_ in resumed[0])
