"""One cycle of syncd, phase by phase: read, build, infer, evaluate.

I/O stays at the edges (the reader); the middle is pure. `now` is a parameter:
nothing below this module reads the clock. A case with bad data becomes an
error in its report and the cycle goes on with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loguru import logger

from syncd import steps
from syncd.casebuild import build_cases
from syncd.config import Config
from syncd.engine import RuleSet, error_report, evaluate
from syncd.errors import CaseDataError
from syncd.model import Case, CaseReport
from syncd.poll import Mirror, PollSettings, Progress, Reader, poll


@dataclass(frozen=True)
class Plan:
    generated_at: datetime
    reports: list[CaseReport]


def poll_settings(config: Config) -> PollSettings:
    return PollSettings(
        tag_labels=dict(config.tags),
        overlap=timedelta(seconds=config.dolibarr.overlap_seconds),
        sweep_every=config.dolibarr.sweep_every,
    )


def read_and_plan(
    reader: Reader,
    mirror: Mirror,
    config: Config,
    ruleset: RuleSet,
    now: datetime,
    progress: Progress | None = None,
) -> Plan:
    """Poll Dolibarr into the mirror, then plan every case from it."""
    poll(reader, mirror, poll_settings(config), now, progress)
    return plan(mirror, config, ruleset, now)


def plan(mirror: Mirror, config: Config, ruleset: RuleSet, now: datetime) -> Plan:
    zone = ZoneInfo(config.dolibarr.timezone)
    local_now = now.astimezone(zone)
    built = build_cases(mirror, config.fields, zone)
    reports = [_report(case, local_now, ruleset, config.tags) for case in built.cases]
    for row, exc in built.errors:
        logger.bind(case=row.id).error("case {} skipped: {}", row.id, exc)
        reports.append(error_report(row.id, row.ref, row.name, str(exc)))
    reports.sort(key=lambda r: r.case_id)
    return Plan(now, reports)


def _report(case: Case, now: datetime, ruleset: RuleSet, labels: Mapping[str, str]) -> CaseReport:
    try:
        inferred = steps.infer(case, now, labels)
    except CaseDataError as exc:
        logger.bind(case=case.id).error("case {} skipped: {}", case.id, exc)
        return error_report(case.id, case.ref, case.name, str(exc))
    return evaluate(inferred, now, ruleset)
