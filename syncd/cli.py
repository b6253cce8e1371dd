"""The `syncd` command: argument parsing, error sentences and exit codes.

Exit codes: 0 success, 1 Dolibarr could not be read (or the cycle was stopped
by a guard, or a system refused syncd's credentials), 2 bad configuration or
rule modules, or a state database that cannot be used. This is the one place
where errors become sentences for people.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from zoneinfo import ZoneInfo

from syncd import audit, cycle, daemon, history
from syncd.config import Config, load_config
from syncd.cycle import Plan
from syncd.daemon import load, load_masked
from syncd.errors import (
    ConfigError,
    RemoteError,
    RuleError,
    StateError,
    SyncdError,
    SystemDown,
    UnreachableError,
)
from syncd.history import SYSTEMS, parse_since
from syncd.invocation import command_name
from syncd.lock import InstanceLock, LockError, running_pid
from syncd.logs import is_journal, mask
from syncd.model import ALL_STEPS, NO_STEP, STEP_SEPARATOR, CaseReport
from syncd.ruleinfo import Sources, describe, rules_data, rules_text
from syncd.status import SYSTEM_NAMES, refused_sentence, status_data, status_report
from syncd.store import ActionQuery, Status, Store, read_outbox_states, read_step_history

EXIT_OK, EXIT_REMOTE, EXIT_CONFIG = 0, 1, 2


FORMATS = ("text", "json")
EXIT_BROKEN_PIPE = 141  # as a shell reports a command ended by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    """`--config` and `--format` are accepted before or after the command."""
    parser = argparse.ArgumentParser(
        prog="syncd",
        description="Keep customer and partner onboarding running out of Dolibarr.",
    )
    parser.add_argument("--version", action="version", version=f"syncd {version()}")
    _shared_options(parser, argparse.SUPPRESS)
    parser.set_defaults(config=os.environ.get("SYNCD_CONFIG", "syncd.ini"), format="text")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="audit: show every case, its step, evidence and planned actions; touch nothing",
    )
    _audit_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        _shared_options(sub, argparse.SUPPRESS)
        return sub

    demo = command("demo", "run syncd against built-in local fakes seeded with sample cases")
    demo.add_argument(
        "--explain", metavar="ID_OR_REF", help="show one of the demo's cases in full, then stop"
    )
    explain = command("explain", "show one case in full: step, evidence, actions, skips")
    explain.add_argument("case", metavar="ID_OR_REF", help="third-party id or ref")
    run = command("run", "run the daemon: poll, plan and act every poll_interval")
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    _history_commands(command)
    release = command("release", "mark a held or failed action done (a person checked it was sent)")
    release.add_argument("key", help="the action's key")
    command("status", "daemon, cursors, last cycles, steps, outbox; exit 1 when a person is needed")
    command(
        "rebuild-state",
        "rebuild a lost state database from the [syncd] events on Dolibarr's timeline",
    )
    check = command(
        "check",
        "check the config, then Dolibarr (key, rights, tags, extrafields, clock) and the "
        "other configured systems; one line per problem",
    )
    check.add_argument(
        "--fix-dolibarr",
        action="store_true",
        help="create the missing extrafields and tags in Dolibarr (after listing them)",
    )
    return parser


def _history_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """`actions`, `retry` and `history`: they read (retry: write) the state database only."""
    actions = command("actions", "list the outbox (what syncd did or will do), latest last")
    actions.add_argument(
        "--status", choices=[s.value for s in Status], help="only actions with this status"
    )
    actions.add_argument("--case", dest="action_case", metavar="ID_OR_REF", help="only this case")
    actions.add_argument(
        "--rule", dest="action_rules", action="append", metavar="RULE", help="only this rule's"
    )
    actions.add_argument(
        "--since", metavar="WHEN", help="only those changed since: 2026-11-20, 2026-11-20T14:00, 3d"
    )
    actions.add_argument("--limit", type=int, metavar="N", help="only the latest N")
    retry = command("retry", "send a failed or held action again, or every failed one (--failed)")
    retry.add_argument("key", nargs="?", help="the action's key")
    retry.add_argument(
        "--failed", action="store_true", help="every failed action (after mending the cause)"
    )
    retry.add_argument(
        "--system",
        dest="retry_systems",
        action="append",
        choices=SYSTEMS,
        help="with --failed: only actions carried out by this system",
    )
    retry.add_argument(
        "--rule",
        dest="retry_rules",
        action="append",
        metavar="RULE",
        help="with --failed: only this rule's actions",
    )
    history = command("history", "one case's steps and every action syncd planned for it")
    history.add_argument("case", metavar="ID_OR_REF", help="third-party id or ref")
    command(
        "rules",
        "every rule: its process, the systems it needs, each parameter's value and its source",
    )


def _shared_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config",
        default=default,
        help="path of the ini file (default: $SYNCD_CONFIG or ./syncd.ini)",
    )
    parser.add_argument("--format", choices=FORMATS, default=default, help="output format")


def _audit_options(parser: argparse.ArgumentParser) -> None:
    audit_group = parser.add_argument_group("audit (with --dry-run)")
    audit_group.add_argument(
        "--skips", action="store_true", help="list each rule skipped and why (default: a count)"
    )
    audit_group.add_argument(
        "--case", action="append", metavar="ID_OR_REF", help="only this case (repeatable)"
    )
    audit_group.add_argument(
        "--step", action="append", metavar="STEP", help="only cases in this step (repeatable)"
    )
    audit_group.add_argument(
        "--rule", action="append", metavar="RULE", help="only this rule's actions (repeatable)"
    )


def version() -> str:
    try:
        return metadata.version("syncd")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point; a reader that stops early (`| head`) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.dry_run and args.command:
            return _usage(f"--dry-run is the audit on its own; it does not apply to {args.command}")
        if args.command == "demo":
            from syncd.demo import run_demo

            return run_demo(args.format, args.explain, skips=args.skips)
        if args.dry_run:
            return dry_run(args)
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
    except (ConfigError, RuleError, LockError) as exc:
        return _fail(exc, EXIT_CONFIG)
    except StateError as exc:
        return _fail(exc, EXIT_CONFIG, state_sentence(exc))
    except (UnreachableError, SystemDown) as exc:  # "Dolibarr at https://…: name not found"
        return _fail(exc, EXIT_REMOTE, f"could not reach {exc}")
    except RemoteError as exc:
        name = SYSTEM_NAMES.get(exc.system, exc.system)
        return _fail(exc, EXIT_REMOTE, f"could not reach {name}: {exc}")
    except SyncdError as exc:
        return _fail(exc, EXIT_REMOTE)
    build_parser().print_help(sys.stderr)
    return EXIT_CONFIG


def _usage(sentence: str) -> int:
    print(f"syncd: {sentence}", file=sys.stderr)
    return EXIT_CONFIG


def print_json(document: object) -> None:
    print(mask(json.dumps(document, indent=2, ensure_ascii=False, default=str)))


def run(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    with InstanceLock(config.daemon.state_db):
        if not args.once:
            runner = daemon.Daemon(args.config, (config, ruleset))
            runner.install_signal_handlers()
            runner.run()
            return EXIT_OK
        result = daemon.run_once(daemon.build_runtime(config, ruleset, once=True))
    stats = result.stats
    if args.format == "json":
        print_json(
            {
                "cases": result.cases,
                "new_actions": result.enqueued,
                "done": stats.done,
                "failed": stats.failed,
                "held": stats.held,
                "retrying": stats.retrying,
                "skipped": stats.skipped,
                "problems": list(stats.problems),
                "refused": [refused_sentence(system) for system in sorted(stats.refused)],
                "degraded": stats.degraded,
                "waiting": stats.waiting,
                "down": [why for _system, why in sorted(stats.down.items())],
            }
        )
        return EXIT_REMOTE if stats.refused or stats.down else EXIT_OK
    say(cycle.cycle_line(result.cases, result.enqueued, stats))
    for problem in stats.problems:
        say(f"  ! {problem}")
    for system in sorted(stats.refused):
        say(f"  ! {refused_sentence(system)}")
    for why in stats.down.values():
        say(f"  ! down: {why}; its actions wait for the next cycle")
    return EXIT_REMOTE if stats.refused or stats.down else EXIT_OK


def status(args: argparse.Namespace) -> int:
    """What a sysadmin or a monitoring check asks; non-zero when a person is needed.

    Reads only the state database: no credential is needed.
    """
    config = load_masked(args.config, local=True)
    pid = running_pid(config.daemon.state_db)
    store = Store.open_readonly(config.daemon.state_db)
    if args.format == "json":
        data = status_data(store) if store is not None else {"healthy": False}
        print_json({"daemon_pid": pid, "state_db": str(config.daemon.state_db), **data})
        return EXIT_OK if data["healthy"] else EXIT_REMOTE
    print(f"daemon: running (PID {pid})" if pid else "daemon: not running")
    if store is None:
        print(f"state: no database at {config.daemon.state_db} yet")
        return EXIT_REMOTE
    report = status_report(store)
    say(report.text)
    return EXIT_OK if report.healthy else EXIT_REMOTE


def list_actions(args: argparse.Namespace) -> int:
    """The outbox, filtered; the total counts every action the filters pick."""
    config = load_masked(args.config, local=True)
    store = _existing_store(args.config)
    zone = ZoneInfo(config.dolibarr.timezone)
    case_id = _case_id(store, args.action_case) if args.action_case else None
    query = ActionQuery(
        case_id=case_id,
        rules=tuple(args.action_rules or ()),
        statuses=(Status(args.status),) if args.status else (),
        since=parse_since(args.since, zone, daemon.clock(config)) if args.since else None,
        limit=args.limit,
    )
    listing = history.list_actions(store, query)
    if args.format == "json":
        actions = [history.action_data(row) for row in listing.rows]
        print_json({"actions": actions, "total": listing.counts, "count": listing.total})
        return EXIT_OK
    for line in history.action_lines(listing.rows, zone):
        say(line)
    print(history.total_line(listing))
    return EXIT_OK


def show_history(args: argparse.Namespace) -> int:
    """`syncd history ID_OR_REF`: the steps a case entered and every action, from the state
    database alone."""
    config = load_masked(args.config, local=True)
    store = _existing_store(args.config)
    found = history.case_history(store, args.case)
    if found is None:
        print(f"syncd: the state database knows no case {args.case!r}", file=sys.stderr)
        return EXIT_REMOTE
    if args.format == "json":
        print_json(history.history_data(found))
    else:
        for line in history.history_lines(found, ZoneInfo(config.dolibarr.timezone)):
            say(line)
    return EXIT_OK


def list_rules(args: argparse.Namespace) -> int:
    """`syncd rules`: each parameter's value as a cycle would use it, and what set it."""
    config, loaded = load(args.config)
    ruleset, used, note = daemon.rules_in_force(config, loaded)
    from_file = load_config(args.config).rules  # before message templates filled them in
    sources = Sources(str(config.path), from_file, config.rules, used, config.environ)
    infos = describe(ruleset, sources)
    if args.format == "json":
        print_json({"rules": rules_data(infos), "note": note})
        return EXIT_OK
    if note:
        say(f"! {note}")
    for line in rules_text(infos):
        say(line)
    return EXIT_OK


def _case_id(store: Store, wanted: str) -> int:
    found = store.case_named(wanted)
    if found is None:
        raise SyncdError(f"the state database knows no case {wanted!r}")
    return found[0]


def retry_action(args: argparse.Namespace) -> int:
    if args.failed == bool(args.key):
        return _usage("retry takes an action's key, or --failed (with --system, --rule)")
    if not args.failed and (args.retry_systems or args.retry_rules):
        return _usage("--system and --rule go with --failed")
    if args.failed:
        return retry_failed(args)
    return _move(args, Status.PLANNED, "will be sent in the next cycle")


def retry_failed(args: argparse.Namespace) -> int:
    """Every failed action (of a system, of a rule) planned again: the cause was mended."""
    config = load_masked(args.config, local=True)
    store = _existing_store(args.config)
    query = ActionQuery(
        systems=tuple(args.retry_systems or ()), rules=tuple(args.retry_rules or ())
    )
    moved = history.retry_failed(store, query, daemon.clock(config))
    if args.format == "json":
        print_json({"planned_again": [row.key for row in moved]})
        return EXIT_OK
    for row in moved:
        say(f"{row.key}: will be sent in the next cycle")
    print(f"{len(moved)} failed action(s) planned again" if moved else "no failed action matches")
    return EXIT_OK


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
    extra: dict[str, object] = {"result": "released by a person"}
    if to is Status.PLANNED:
        extra = {"next_attempt_at": None, "attempts": 0}
        if row.status is Status.HELD:
            extra["claimed_at"] = None  # a person checked: not done, send it
        # A failed one keeps `claimed_at`: an attempt that may have landed is asked first.
    store.move(row, to, now, **extra)
    if args.format == "json":
        print_json({"key": row.key, "status": to.value})
    else:
        print(f"{row.key}: {said}")
    return EXIT_OK


def rebuild_state(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    with InstanceLock(config.daemon.state_db):
        rt = daemon.build_runtime(config, ruleset)
        changed = cycle.rebuild_state(rt, daemon.clock(config))
        rt.store.close()
    if args.format == "json":
        print_json({"marked_done": changed})
    else:
        print(f"rebuilt from Dolibarr's timeline: {changed} actions marked done")
    return EXIT_OK


def check(args: argparse.Namespace) -> int:
    from syncd.check import run_check

    return run_check(args.config, fmt=args.format, fix=args.fix_dolibarr)


def _existing_store(config_path: str) -> Store:
    config = load_masked(config_path, local=True)
    store = Store.open_readonly(config.daemon.state_db)
    if store is None:
        raise SyncdError(f"no state database at {config.daemon.state_db} (run syncd first)")
    return store


def dry_run(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    unknown = sorted(set(args.rule or ()) - set(ruleset.names()))
    unknown += sorted(set(args.step or ()) - {*ALL_STEPS, NO_STEP, "unknown"})
    if unknown:
        return _usage(f"no rule or step named {', '.join(unknown)}")
    # Skip reasons are kept only where they are shown (text hides them unless asked).
    keep_reasons = args.format == "json" or args.skips
    plan = daemon.audit_plan(config, ruleset, _progress, None if keep_reasons else ())
    chosen = select(plan.reports, args)
    hint = f"{command_name()} --config {shlex.quote(args.config)} explain {{id}}"
    write_audit(
        Plan(plan.generated_at, chosen),
        args.format,
        ledger=ledger_of(config, plan),
        skips=args.skips,
        hint=hint,
        total=len(plan.reports),
    )
    return EXIT_OK


def select(reports: Sequence[CaseReport], args: argparse.Namespace) -> list[CaseReport]:
    """The reports the audit's filters keep; `--rule` keeps only that rule's lines."""
    chosen = []
    for report in reports:
        if args.case and not any(find_case([report], wanted) for wanted in args.case):
            continue
        if args.step and not set(args.step) & {report.step, *report.step.split(STEP_SEPARATOR)}:
            continue  # a case in both processes has a joined step: either part matches
        if args.rule:
            report = replace(
                report,
                actions=tuple(a for a in report.actions if a.rule in args.rule),
                skipped=tuple(s for s in report.skipped if s[0] in args.rule),
            )
            if not report.actions and not (args.skips and report.skipped):
                continue
        chosen.append(report)
    return chosen


def explain(args: argparse.Namespace) -> int:
    config, ruleset = load(args.config)
    plan = daemon.audit_plan(config, ruleset, _progress)
    report = find_case(plan.reports, args.case)
    if report is None:
        print(f"syncd: no case with id or ref {args.case!r}", file=sys.stderr)
        return EXIT_REMOTE
    ledger = ledger_of(config, plan)
    write_audit(Plan(plan.generated_at, [report]), args.format, full=True, ledger=ledger)
    if args.format == "text":
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
    plan: Plan,
    fmt: str,
    *,
    full: bool = False,
    ledger: audit.Ledger | None = None,
    skips: bool = True,
    hint: str = audit.EXPLAIN_HINT,
    total: int | None = None,
) -> None:
    # Written as made, a case at a time: a large audit never sits whole in memory as text.
    if fmt == "json":
        for chunk in audit.json_chunks(plan.generated_at, plan.reports, ledger):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        return
    lines = audit.text_lines(
        plan.generated_at,
        plan.reports,
        full=full,
        skips=skips or full,
        ledger=ledger,
        hint=hint,
        total=total,
    )
    pending = ""  # trailing blank lines are held back, as to_text strips them
    for line in lines:
        if not line:
            pending += "\n"
            continue
        sys.stdout.write(pending + line + "\n")
        pending = ""


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
    "history": show_history,
    "rules": list_rules,
    "release": release_action,
    "rebuild-state": rebuild_state,
    "check": check,
    "explain": explain,
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
