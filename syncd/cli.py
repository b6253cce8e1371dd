"""The `syncd` command: argument parsing, error sentences and exit codes.

Exit codes: 0 success, 1 Dolibarr could not be read (or the cycle was stopped
by a guard), 2 bad configuration or rule modules. This is the one place where
errors become sentences for people.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from syncd import audit
from syncd.config import Config, load_config
from syncd.cycle import Plan, read_and_plan
from syncd.engine import RuleSet, load_rules
from syncd.errors import ConfigError, RemoteError, RuleError, SyncdError
from syncd.model import CaseReport
from syncd.poll import Mirror

EXIT_OK, EXIT_REMOTE, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncd",
        description="Keep customer and partner onboarding running out of Dolibarr.",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("SYNCD_CONFIG", "syncd.ini"),
        help="path of the ini file (default: $SYNCD_CONFIG or ./syncd.ini)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="audit: show every case, its step, evidence and planned actions; touch nothing",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="audit output format"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo", help="run syncd against built-in local fakes seeded with sample cases"
    )
    explain = commands.add_parser(
        "explain", help="show one case in full: step, evidence, actions, skips"
    )
    explain.add_argument("case", metavar="ID_OR_REF", help="third-party id or ref")
    explain.add_argument(
        "--format", choices=("text", "json"), default=argparse.SUPPRESS, help="output format"
    )
    demo_parser.add_argument(
        "--format", choices=("text", "json"), default=argparse.SUPPRESS, help="audit output format"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from syncd.demo import run_demo

            return run_demo(args.format)
        if args.command == "explain":
            return explain(args.config, args.case, args.format)
        if args.dry_run:
            return dry_run(args.config, args.format)
    except (ConfigError, RuleError) as exc:
        return _fail(exc, EXIT_CONFIG)
    except RemoteError as exc:
        return _fail(exc, EXIT_REMOTE, "could not read Dolibarr: ")
    except SyncdError as exc:
        return _fail(exc, EXIT_REMOTE)
    build_parser().print_help(sys.stderr)
    return EXIT_CONFIG


def dry_run(config_path: str, fmt: str) -> int:
    config, ruleset = load(config_path)
    plan = audit_plan(config, ruleset)
    write_audit(plan, fmt)
    return EXIT_OK


def explain(config_path: str, wanted: str, fmt: str) -> int:
    config, ruleset = load(config_path)
    plan = audit_plan(config, ruleset)
    report = find_case(plan.reports, wanted)
    if report is None:
        print(f"syncd: no case with id or ref {wanted!r}", file=sys.stderr)
        return EXIT_REMOTE
    write_audit(Plan(plan.generated_at, [report]), fmt, full=True)
    return EXIT_OK


def load(config_path: str) -> tuple[Config, RuleSet]:
    config = load_config(config_path)
    setup_logging(config.daemon.log_level)
    rules = load_rules(config.daemon.rules_dir)
    ruleset = RuleSet.build(rules, config.rules, config.rules_source, config.systems)
    return config, ruleset


def audit_plan(config: Config, ruleset: RuleSet) -> Plan:
    """Read Dolibarr with GET requests only into a fresh mirror and plan every case."""
    client = DolibarrClient(dolibarr_settings(config))
    now = config.daemon.now or datetime.now(UTC)
    return read_and_plan(client, Mirror(), config, ruleset, now, progress=_progress)


def dolibarr_settings(config: Config) -> DolibarrSettings:
    d = config.dolibarr
    return DolibarrSettings(d.url, d.api_key, d.timezone, d.page_size, d.timeout)


def find_case(reports: Sequence[CaseReport], wanted: str) -> CaseReport | None:
    for report in reports:
        if str(report.case_id) == wanted or report.ref.casefold() == wanted.casefold():
            return report
    return None


def write_audit(plan: Plan, fmt: str, *, full: bool = False) -> None:
    if fmt == "json":
        print(audit.to_json(plan.generated_at, plan.reports))
    else:
        print(audit.to_text(plan.generated_at, plan.reports, full=full))


def setup_logging(level: str) -> None:
    logger.remove()
    logger.add(sys.stderr, level=level, format="{time:YYYY-MM-DD HH:mm:ss} {level} {message}")


def _progress(what: str, count: int) -> None:
    print(f"syncd: {count} {what}…", file=sys.stderr, flush=True)


def _fail(exc: Exception, code: int, prefix: str = "") -> int:
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    for problem in problems:
        print(f"syncd: {prefix}{problem}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
