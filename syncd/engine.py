"""The rule engine: load rule modules, build their parameters, evaluate a case.

Built-in rules (the `rules` package) and extra rules (loose `.py` files in a
configured directory) go through the same door, `_check_module`, and are
checked once at start-up: a malformed module is a `RuleError` naming its file,
a bad `[rule:NAME]` key a `ConfigError` naming file, section and key.

`evaluate` is pure: it asks the rules of each process the case is in,
each seeing the case with its own process's step (`Case.in_process`), and
the `any` rules. It honours `syncd_pause`, `syncd_skip_rules`,
`enabled = no` and missing systems itself, so no rule can forget them, and a
rule that raises becomes an error on that case, never a crashed cycle. It must
never do I/O; with `SYNCD_TRACE_RULES=1` it logs each decision at DEBUG.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import pkgutil
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from loguru import logger

from syncd.errors import ConfigError, RuleError
from syncd.model import MARKETING_KINDS, Action, Case, CaseReport, Rule, Skip

PROCESSES = frozenset({"customer", "partner", "any"})
OPTIONAL_SYSTEMS = frozenset({"mautic", "freescout", "matrix"})
PARAM_TYPES: tuple[type, ...] = (int, float, Decimal, str, bool)
TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0"})
EXTRA_PACKAGE = "syncd_extra_rules"


# -- loading ---------------------------------------------------------------


def load_rules(extra_dir: Path | None = None) -> list[Rule[Any]]:
    """Every built-in rule and every rule in `extra_dir`, checked, sorted by name."""
    found: dict[str, tuple[Rule[Any], str]] = {}
    for module, origin in [*_builtin_modules(), *_extra_modules(extra_dir)]:
        rule = _check_module(module, origin)
        if rule.name in found:
            raise RuleError(f"{origin}: rule name {rule.name!r} is taken by {found[rule.name][1]}")
        found[rule.name] = (rule, origin)
    return [found[name][0] for name in sorted(found)]


def _builtin_modules() -> Iterator[tuple[ModuleType, str]]:
    import rules

    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        name = f"rules.{info.name}"
        origin = str(Path(rules.__path__[0]) / f"{info.name}.py")
        try:
            yield importlib.import_module(name), origin
        except Exception as exc:
            raise RuleError(f"{origin}: cannot be imported: {exc}") from exc


def _extra_modules(extra_dir: Path | None) -> Iterator[tuple[ModuleType, str]]:
    if extra_dir is None:
        return
    if not extra_dir.is_dir():
        raise RuleError(f"{extra_dir}: the extra rules directory does not exist")
    for path in sorted(extra_dir.glob("*.py")):
        if not path.stem.startswith("_"):
            yield _import_file(path), str(path)


def _import_file(path: Path) -> ModuleType:
    name = f"{EXTRA_PACKAGE}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuleError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves string annotations through sys.modules while the
    # module body runs, so the module must be registered before exec_module.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise RuleError(f"{path}: cannot be imported: {type(exc).__name__}: {exc}") from exc
    return module


def _check_module(module: ModuleType, origin: str) -> Rule[Any]:
    """The module's `RULE`, after checking the contract; `RuleError` naming `origin` if broken."""
    rule = getattr(module, "RULE", None)
    if not isinstance(rule, Rule):
        raise RuleError(f"{origin}: no RULE = Rule(...) at module level")
    stem = module.__name__.rsplit(".", 1)[-1]
    problem = _rule_problem(rule, stem) or _params_problem(rule.params)
    if problem:
        raise RuleError(f"{origin}: {problem}")
    return rule


def _rule_problem(rule: Rule[Any], stem: str) -> str:
    if rule.name != stem:
        return f"RULE.name is {rule.name!r} but the file is named {stem!r}"
    if rule.process not in PROCESSES:
        return f"RULE.process is {rule.process!r}, not one of customer, partner, any"
    if not callable(rule.decide):
        return "RULE.decide is not callable"
    unknown = set(rule.needs) - OPTIONAL_SYSTEMS
    if unknown:
        return (
            f"RULE.needs names unknown systems {sorted(unknown)} (known: freescout, mautic, matrix)"
        )
    return _required_problem(rule)


def _required_problem(rule: Rule[Any]) -> str:
    names = (
        {f.name for f in dataclasses.fields(rule.params)}
        if dataclasses.is_dataclass(rule.params)
        else set()
    )
    for system, key in rule.required_with:
        if system not in OPTIONAL_SYSTEMS:
            return f"RULE.required_with names unknown system {system!r}"
        if key not in names:
            return f"RULE.required_with names {key!r}, which is not in Params"
    return ""


def _params_problem(params: Any) -> str:
    if not (isinstance(params, type) and dataclasses.is_dataclass(params)):
        return "RULE.params is not a dataclass"
    try:
        hints = typing.get_type_hints(params)
    except Exception as exc:
        return f"Params annotations cannot be resolved: {exc}"
    for f in dataclasses.fields(params):
        problem = _field_problem(f, hints.get(f.name))
        if problem:
            return f"Params.{f.name}: {problem}"
    return ""


def _field_problem(f: dataclasses.Field[Any], hint: Any) -> str:
    if f.name == "enabled":
        return "'enabled' is handled by the engine; remove it from Params"
    if hint not in PARAM_TYPES:
        return f"type {hint!r} is not one of int, float, Decimal, str, bool"
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "has no default"
    return ""


# -- parameters ------------------------------------------------------------


def build_params(
    rule: Rule[Any],
    section: Mapping[str, str],
    source: str,
    origin: Callable[[str], str] = lambda _key: "",
) -> tuple[Any, bool]:
    """The rule's Params from ini strings, and its `enabled` flag (default yes).

    `origin(key)` completes a problem with where the value came from (" (from SYNCD_…)").
    """
    hints = typing.get_type_hints(rule.params)
    known = ", ".join(sorted([*hints, "enabled"]))
    values: dict[str, Any] = {}
    enabled = True
    problems: list[str] = []
    for key, raw in section.items():
        try:
            if key == "enabled":
                enabled = _to_bool(raw)
            elif key in hints:
                values[key] = _convert(raw, hints[key])
            else:
                problems.append(f"{source} {key}: unknown key (known: {known})")
        except ValueError as exc:
            problems.append(f"{source} {key}: {exc}{origin(key)}")
    if problems:
        raise ConfigError(problems)
    try:
        return rule.params(**values), enabled
    except (TypeError, ValueError) as exc:
        raise ConfigError([f"{source}: {exc}"]) from exc


def _convert(raw: str, kind: Any) -> Any:
    """One ini string as `kind`; `ValueError` with a one-line reason if it is not one."""
    text = raw.strip()
    if kind is bool:
        return _to_bool(text)
    if kind is str:
        return raw
    if kind is int:
        return _to_int(text)
    if kind is float:
        return _to_float(text)
    return _to_decimal(text)


def _to_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{raw!r} is not a boolean (yes/no, true/false, 1/0)")


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _to_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def _to_decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite decimal number")
    return number


# -- the rule set ----------------------------------------------------------


@dataclass(frozen=True)
class LoadedRule:
    """A rule with its built parameters and its `enabled` flag."""

    rule: Rule[Any]
    params: Any
    enabled: bool = True

    @property
    def name(self) -> str:
        return self.rule.name


@dataclass(frozen=True)
class RuleSet:
    """The rules of one configuration, in name order, and the systems configured."""

    rules: tuple[LoadedRule, ...]
    systems: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        rules: list[Rule[Any]],
        sections: Mapping[str, Mapping[str, str]],
        source_of: Callable[[str], str],
        systems: frozenset[str],
        origin_of: Callable[[str, str], str] = lambda _name, _key: "",
    ) -> RuleSet:
        """Build every rule's Params from its section (keyed by rule name; a
        leading "rule:" is tolerated). All problems are collected into one
        `ConfigError`, including a section for a rule that does not exist.
        """
        by_name = {_section_rule_name(name): section for name, section in sections.items()}
        known = {rule.name for rule in rules}
        problems = [
            f"{source_of(name)}: there is no rule named {name!r}"
            for name in sorted(by_name)
            if name not in known
        ]
        loaded: list[LoadedRule] = []
        for rule in sorted(rules, key=lambda r: r.name):
            try:
                params, enabled = build_params(
                    rule,
                    by_name.get(rule.name, {}),
                    source_of(rule.name),
                    lambda key, name=rule.name: origin_of(name, key),  # type: ignore[misc]
                )
                loaded.append(LoadedRule(rule, params, enabled))
            except ConfigError as exc:
                problems += exc.problems
            else:
                if enabled:
                    problems += _unset_required(rule, params, systems, source_of(rule.name))
        if problems:
            raise ConfigError(problems)
        return cls(tuple(loaded), frozenset(systems))

    def names(self) -> list[str]:
        return [entry.name for entry in self.rules]

    def applicable(self, processes: tuple[str, ...]) -> tuple[tuple[LoadedRule, str], ...]:
        """The rules that see a case in `processes` (`Case.processes`) and the `any`
        rules, in name order, each with its `fixed_skips` reason; worked out once for
        each set of processes, not for each case."""
        known = self._applicable
        if processes not in known:
            known[processes] = tuple(
                (entry, fixed)
                for entry, fixed in zip(self.rules, self.fixed_skips, strict=True)
                if entry.rule.process == "any" or entry.rule.process in processes
            )
        return known[processes]

    @cached_property
    def _applicable(self) -> dict[tuple[str, ...], tuple[tuple[LoadedRule, str], ...]]:
        return {}

    def params_of(self, name: str) -> Any:
        """The built Params of the rule named `name` (enabled or not), or None."""
        return next((entry.params for entry in self.rules if entry.name == name), None)

    @cached_property
    def fixed_skips(self) -> tuple[str, ...]:
        """Per rule, in order: why it is skipped whatever the case ("" when it is asked):
        disabled in the config, or needing systems that are not configured. Said once,
        not for each case; `_gate` puts a person's steering of a case in between."""
        return tuple(
            _unmet(entry.rule.needs, self.systems)
            if entry.enabled
            else f"disabled in config ([rule:{entry.name}] enabled = no)"
            for entry in self.rules
        )

    @cached_property
    def reachable(self) -> frozenset[str]:
        """The systems an action can go to: Dolibarr and the optional systems configured."""
        return self.systems | {"dolibarr"}


def _unset_required(
    rule: Rule[Any], params: Any, systems: frozenset[str], source: str
) -> list[str]:
    """A parameter the rule cannot do without once that system is configured, left empty."""
    return [
        f"{source} {key}: required when [{system}] is configured (set it, or write enabled = no)"
        for system, key in rule.required_with
        if system in systems and _unset(getattr(params, key))
    ]


def _unset(value: object) -> bool:
    """An empty text, or an id of 0 (Mautic ids start at 1: 0 is "none chosen")."""
    return not (value.strip() if isinstance(value, str) else value)


def _section_rule_name(name: str) -> str:
    return name.removeprefix("rule:")


# -- evaluation ------------------------------------------------------------


def evaluate(case: Case, now: datetime, ruleset: RuleSet, explain: bool = True) -> CaseReport:
    """What every applicable rule decides for `case` at `now`: actions, skips, errors.

    `explain=False`: the rules skipped are named, not explained (their reason is
    ""), which is what a cycle needs of most cases, in a fraction of the memory.
    """
    actions: list[Action] = []
    skipped: list[tuple[str, str]] = []
    errors: list[str] = []
    views: dict[str, Case | None] = {}  # the case as each process's rules see it
    trace = os.environ.get("SYNCD_TRACE_RULES") == "1"
    steered = case.fields.is_paused or bool(case.fields.skip_rules)
    for entry, fixed in ruleset.applicable(case.processes):  # in name order
        process = entry.rule.process
        if process not in views:
            views[process] = case.in_process(process)
        seen = views[process]
        if seen is None:
            continue
        reason = _gate(seen, entry, fixed) if steered else fixed
        if reason:
            skipped.append((entry.name, reason))
        else:
            _decide(seen, now, entry, ruleset.reachable, actions, skipped, errors, trace)
    warnings = case.warnings + _steering_mistakes(case, ruleset)
    return _report(case, actions, skipped if explain else _named(skipped), errors, warnings)


# The rules a report skipped, without their reasons: one tuple per set of rules, as
# many cases skip the same ones (there are as many sets as rule sets, not cases).
_NAMED: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}


def _named(skipped: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    rules = tuple(rule for rule, _ in skipped)
    named = _NAMED.get(rules)
    if named is None:
        named = _NAMED.setdefault(rules, tuple((rule, "") for rule in rules))
    return named


def _steering_mistakes(case: Case, ruleset: RuleSet) -> tuple[str, ...]:
    """`syncd_skip_rules` naming no rule skips nothing: the person meant something else."""
    if not case.fields.skip_rules:
        return ()
    known = {entry.name for entry in ruleset.rules}
    unknown = sorted(set(case.fields.skip_rules) - known)
    if not unknown:
        return ()
    names = ", ".join(unknown)
    return (f"syncd_skip_rules names no rule: {names} (rules: {', '.join(sorted(known))})",)


def _gate(case: Case, entry: LoadedRule, fixed: str) -> str:
    """Why the engine skips this rule, before asking it, for a case a person steers
    (`syncd_pause`, `syncd_skip_rules`); `fixed` is its `RuleSet.fixed_skips` reason.

    A disabled rule says so first, then the steering, then the systems it needs.
    """
    if not entry.enabled:
        return fixed
    if case.fields.is_paused:
        return "syncd_pause is set on this case"
    if entry.name in case.fields.skip_rules:
        return "listed in syncd_skip_rules"
    return fixed


def _unmet(needs: frozenset[str], systems: frozenset[str]) -> str:
    missing = needs - systems
    return _needs(set(missing)) if missing else ""


def _needs(systems: set[str]) -> str:
    missing = sorted(systems)
    verb = "is" if len(missing) == 1 else "are"
    return f"needs {' and '.join(missing)}, which {verb} not configured"


def _drop_unconfigured(
    name: str, planned: list[Action], reachable: frozenset[str], skipped: list[tuple[str, str]]
) -> list[Action]:
    """Keep the actions whose system is `reachable` (`RuleSet.reachable`); say which
    were left out and why.

    Filtering per action, not per rule, lets a rule that tags in Dolibarr and
    notifies on Matrix still tag when Matrix is not configured.
    """
    kept = [a for a in planned if _system(a.kind) in reachable]
    dropped = [a for a in planned if _system(a.kind) not in reachable]
    if dropped:
        reason = _needs({_system(a.kind) for a in dropped})
        if kept:
            kinds = ", ".join(sorted({a.kind for a in dropped}))
            reason = f"{kinds} left out: {reason}"
        skipped.append((name, reason))
    return kept


def _drop_marketing(
    name: str, planned: list[Action], skipped: list[tuple[str, str]]
) -> list[Action]:
    """A contact who opted out gets no Mautic email and joins no segment, whatever the rule."""
    kept = [a for a in planned if a.kind not in MARKETING_KINDS]
    if len(kept) < len(planned):
        reason = "the contact opted out of marketing email (marketing_opt_out is set)"
        if kept:
            kinds = ", ".join(sorted({a.kind for a in planned if a not in kept}))
            reason = f"{kinds} left out: {reason}"
        skipped.append((name, reason))
    return kept


def _system(kind: str) -> str:
    return kind.split(".", 1)[0]


def _decide(
    case: Case,
    now: datetime,
    entry: LoadedRule,
    reachable: frozenset[str],
    actions: list[Action],
    skipped: list[tuple[str, str]],
    errors: list[str],
    trace: bool = False,
) -> None:
    """Ask the rule and file its answer; a rule that raises or misbehaves is a case error.

    `trace` (`SYNCD_TRACE_RULES=1`): log each rule's answer at DEBUG."""
    name = entry.name
    try:
        decision = entry.rule.decide(case, now, entry.params)
    except Exception as exc:
        logger.opt(exception=exc).bind(case=case.id, rule=name).error("rule {} failed", name)
        errors.append(f"rule {name} failed: {type(exc).__name__}: {exc}")
        return
    if isinstance(decision, Skip):
        if trace:
            _trace(case, name, f"skip: {decision.reason}")
        skipped.append((name, decision.reason))
        return
    planned, problem = _stamp(name, decision, frozenset(a.key for a in actions))
    if problem:
        errors.append(f"rule {name} failed: {problem}")
        return
    if not planned:
        skipped.append((name, "nothing to do"))
    planned = _drop_unconfigured(name, planned, reachable, skipped)
    if case.fields.has_opted_out:
        planned = _drop_marketing(name, planned, skipped)
    for action in planned if trace else ():
        _trace(case, name, f"plan {action.kind} {action.key}: {action.because}")
    actions.extend(planned)


def _stamp(name: str, decision: object, taken: frozenset[str]) -> tuple[list[Action], str]:
    """The decision's actions stamped with the rule name, or a problem with them."""
    if not isinstance(decision, list | tuple):
        return [], f"returned {type(decision).__name__}, not a list of actions or a Skip"
    planned: list[Action] = []
    for item in decision:
        if not isinstance(item, Action):
            return [], f"returned {type(item).__name__} among its actions"
        if not item.key.startswith(f"{name}:"):
            return [], f"action key {item.key!r} does not start with '{name}:'"
        if item.key in taken or any(a.key == item.key for a in planned):
            return [], f"action key {item.key!r} is planned twice"
        planned.append(dataclasses.replace(item, rule=name))
    return planned, ""


def _report(
    case: Case,
    actions: list[Action],
    skipped: Sequence[tuple[str, str]],
    errors: list[str],
    warnings: tuple[str, ...] = (),
) -> CaseReport:
    return CaseReport(
        case_id=case.id,
        ref=case.ref,
        name=case.name,
        process=case.process,
        step=case.step,
        evidence=case.evidence,
        actions=tuple(actions),
        skipped=tuple(skipped),
        errors=tuple(errors),
        warnings=warnings,
        step_since=case.step_since,
        entered_step=case.entered_step,
        tracks=case.tracks,
    )


def error_report(case_id: int, ref: str, name: str, message: str) -> CaseReport:
    """The report of a case that could not be built (bad data in Dolibarr)."""
    return CaseReport(
        case_id=case_id, ref=ref, name=name, process="unknown", step="unknown", errors=(message,)
    )


def _trace(case: Case, rule: str, what: str) -> None:
    logger.bind(case=case.id, rule=rule).debug("case {} rule {}: {}", case.id, rule, what)
