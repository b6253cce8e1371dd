"""The `syncd` command: argument parsing, error sentences and exit codes.

Exit codes: 0 success, 1 Dolibarr could not be read (or the cycle was stopped
by a guard, or a system refused syncd's credentials), 2 bad configuration or
rule modules, or a state database that cannot be used. This is the one place
where errors become sentences for people.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from syncd import audit, cycle, daemon
from syncd.config import Config
from syncd.cycle import Plan
from syncd.daemon import load, load_masked
from syncd.errors import ConfigError, RemoteError, RuleError, StateError, SyncdError
from syncd.lock import InstanceLock, LockError, running_pid
from syncd.logs import is_journal, mask
from syncd.model import CaseReport
from syncd.status import SYSTEM_NAMES, refused_sentence, status_report
from syncd.store import Status, Store, read_outbox_states, read_step_history

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
    run = commands.add_parser("run", help="run the daemon: poll, plan and act every poll_interval")
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    actions = commands.add_parser("actions", help="list the outbox (what syncd did or will do)")
    actions.add_argument(
        "--status", choices=[s.value for s in Status], help="only actions with this status"
    )
    retry = commands.add_parser("retry", help="send a failed or held action again")
    retry.add_argument("key", help="the action's key")
    release = commands.add_parser(
        "release", help="mark a held or failed action done (a person checked it was sent)"
    )
    release.add_argument("key", help="the action's key")
    commands.add_parser(
        "status",
        help="daemon, cursors, last cycles, steps, outbox; exit 1 when a person is needed",
    )
    commands.add_parser(
        "rebuild-state",
        help="rebuild a lost state database from the [syncd] events on Dolibarr's timeline",
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
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
    except (ConfigError, RuleError, LockError) as exc:
        return _fail(exc, EXIT_CONFIG)
    except StateError as exc:
        return _fail(exc, EXIT_CONFIG, state_sentence(exc))
    except RemoteError as exc:
        name = SYSTEM_NAMES.get(exc.system, exc.system)
        return _fail(exc, EXIT_REMOTE, f"could not reach {name}: {exc}")
    except SyncdError as exc:
        return _fail(exc, EXIT_REMOTE)
    build_parser().print_help(sys.stderr)
    return EXIT_CONFIG


def run(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    with InstanceLock(config.daemon.state_db):
        if not args.once:
            runner = daemon.Daemon(args.config, (config, ruleset))
            runner.install_signal_handlers()
            runner.run()
            return EXIT_OK
        result = daemon.run_once(daemon.build_runtime(config, ruleset))
    stats = result.stats
    say(cycle.cycle_line(len(result.plan.reports), result.enqueued, stats))
    for problem in stats.problems:
        say(f"  ! {problem}")
    for system in sorted(stats.refused):
        say(f"  ! {refused_sentence(system)}")
    for why in stats.down.values():
        say(f"  ! down: {why}; its actions wait for the next cycle")
    return EXIT_REMOTE if stats.refused or stats.down else EXIT_OK


def status(args: argparse.Namespace) -> int:
    """What a sysadmin or a monitoring check asks; non-zero when a person is needed."""
    config = load_masked(args.config)
    pid = running_pid(config.daemon.state_db)
    print(f"daemon: running (PID {pid})" if pid else "daemon: not running")
    store = Store.open_readonly(config.daemon.state_db)
    if store is None:
        print(f"state: no database at {config.daemon.state_db} yet")
        return EXIT_REMOTE
    report = status_report(store)
    say(report.text)
    return EXIT_OK if report.healthy else EXIT_REMOTE


def list_actions(args: argparse.Namespace) -> int:
    store = _existing_store(args.config)
    rows = store.with_status(Status(args.status)) if args.status else store.with_status(*Status)
    for row in rows:
        line = f"{row.status:8} {row.key}  {row.kind} → {row.target}"
        detail = row.result if row.status is Status.DONE else row.last_error
        say(line + (f"\n         {detail}" if detail else ""))
    counts = store.counts()
    print("total: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    return EXIT_OK


def retry_action(args: argparse.Namespace) -> int:
    return _move(args, Status.PLANNED, "will be sent in the next cycle")


def release_action(args: argparse.Namespace) -> int:
    return _move(args, Status.DONE, "marked done; it will not be sent")


def _move(args: argparse.Namespace, to: Status, said: str) -> int:
    store = _existing_store(args.config)
    row = store.get(args.key)
    if row is None:
        print(f"syncd: no action with key {args.key!r}", file=sys.stderr)
        return EXIT_REMOTE
    if row.status not in (Status.FAILED, Status.HELD):
        print(f"syncd: action {row.key} is {row.status}, not failed or held", file=sys.stderr)
        return EXIT_REMOTE
    now = datetime.now(UTC)
    extra = (
        {"next_attempt_at": None, "attempts": 0, "claimed_at": None}
        if to is Status.PLANNED
        else {"result": "released by a person"}
    )
    store.move(row, to, now, **extra)
    print(f"{row.key}: {said}")
    return EXIT_OK


def rebuild_state(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    with InstanceLock(config.daemon.state_db):
        rt = daemon.build_runtime(config, ruleset)
        changed = cycle.rebuild_state(rt, daemon.clock(config))
        rt.store.close()
    print(f"rebuilt from Dolibarr's timeline: {changed} actions marked done")
    return EXIT_OK


def _existing_store(config_path: str) -> Store:
    config = load_masked(config_path)
    store = Store.open_readonly(config.daemon.state_db)
    if store is None:
        raise SyncdError(f"no state database at {config.daemon.state_db} (run syncd first)")
    return store


def dry_run(config_path: str, fmt: str) -> int:
    config, ruleset = load(config_path)
    plan = daemon.audit_plan(config, ruleset, _progress)
    write_audit(plan, fmt, ledger=ledger_of(config, plan))
    return EXIT_OK


def explain(config_path: str, wanted: str, fmt: str) -> int:
    config, ruleset = load(config_path)
    plan = daemon.audit_plan(config, ruleset, _progress)
    report = find_case(plan.reports, wanted)
    if report is None:
        print(f"syncd: no case with id or ref {wanted!r}", file=sys.stderr)
        return EXIT_REMOTE
    ledger = ledger_of(config, plan)
    write_audit(Plan(plan.generated_at, [report]), fmt, full=True, ledger=ledger)
    if fmt == "text":
        print(history_text(read_step_history(config.daemon.state_db, report.case_id)))
    return EXIT_OK


def history_text(history: list[tuple[str, datetime]] | None) -> str:
    if history is None:
        return "step history: no state database yet (syncd has not run here)"
    if not history:
        return "step history: none recorded yet"
    lines = ["step history (entered, from syncd's records):"]
    for n, (step, at) in enumerate(history):
        first = "  (where syncd first met it)" if n == 0 else ""
        lines.append(f"  {at:%Y-%m-%d %H:%M} UTC  {step}{first}")
    return "\n".join(lines)


def find_case(reports: Sequence[CaseReport], wanted: str) -> CaseReport | None:
    for report in reports:
        if str(report.case_id) == wanted or report.ref.casefold() == wanted.casefold():
            return report
    return None


def ledger_of(config: Config, plan: Plan) -> audit.Ledger:
    """What the state database says of each action, read without writing to it."""
    entries = read_outbox_states(config.daemon.state_db)
    where = str(config.daemon.state_db)
    return audit.Ledger(entries or {}, plan.generated_at, where, found=entries is not None)


def write_audit(
    plan: Plan, fmt: str, *, full: bool = False, ledger: audit.Ledger | None = None
) -> None:
    if fmt == "json":
        print(audit.to_json(plan.generated_at, plan.reports, ledger))
    else:
        print(audit.to_text(plan.generated_at, plan.reports, full=full, ledger=ledger))


def say(text: str) -> None:
    """Print a line that may quote a remote (an error text, a stored result), masked."""
    print(mask(text))


def _progress(what: str, count: int) -> None:
    print(f"syncd: {count} {what}…", file=sys.stderr, flush=True)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": run,
    "status": status,
    "actions": list_actions,
    "retry": retry_action,
    "release": release_action,
    "rebuild-state": rebuild_state,
}


def state_sentence(exc: StateError) -> str:
    """What a damaged or unusable state database (or its lock file) means to a person."""
    if exc.damaged:
        return (
            f"the state database {exc.path} is damaged ({exc.reason}): restore it from a "
            f"backup, or move it away and run `syncd rebuild-state`"
        )
    return (
        f"cannot use {exc.path} ({exc.reason}): syncd's user must be able to read and "
        f"write it and create files in {exc.path.parent}"
    )


def _fail(exc: Exception, code: int, sentence: str | None = None) -> int:
    problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
    priority = "<3>" if is_journal(sys.stderr) else ""  # an error in the journal, under systemd
    for problem in [sentence] if sentence else problems:
        print(mask(f"{priority}syncd: {problem}"), file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
