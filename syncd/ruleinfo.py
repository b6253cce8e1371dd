"""`syncd rules`: every rule, its process, the systems it needs, and each parameter's
value with where it came from.

Role: given the loaded rules, the `[rule:NAME]` sections as the file and the
environment gave them, the sections once message templates filled them in, and
the Dolibarr constants in force, say for each parameter which of them set it:
the environment (`SYNCD_RULE_<RULE>_<KEY>`), a Dolibarr constant
(`SYNCD_<RULE>_<KEY>`), the file, a message template, or the rule's default.
The precedence is `syncd.constants`'s. Pure: the CLI reads the constants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from syncd.config import RULE_PREFIX, env_name
from syncd.constants import constant_name, parameter_keys
from syncd.engine import RuleSet

VALUE_WIDTH = 60  # characters of a value shown in text (a message body is long)


@dataclass(frozen=True)
class Parameter:
    key: str
    value: Any
    source: str


@dataclass(frozen=True)
class RuleInfo:
    name: str
    process: str
    needs: tuple[str, ...]
    missing: tuple[str, ...]  # needed systems that are not configured: the rule is skipped
    enabled: bool
    parameters: tuple[Parameter, ...]


@dataclass(frozen=True)
class Sources:
    """What set the rules' parameters, for `describe`."""

    path: str  # the config file
    file: Mapping[str, Mapping[str, str]]  # sections from the file, environment applied
    templated: Mapping[str, Mapping[str, str]]  # the same, message templates filled in
    constants: Collection[str]  # the Dolibarr constants in force
    environ: Mapping[str, str]


def describe(ruleset: RuleSet, sources: Sources) -> list[RuleInfo]:
    found = []
    for entry in ruleset.rules:
        rule = entry.rule
        values = {"enabled": entry.enabled} | {
            f.name: getattr(entry.params, f.name) for f in dataclasses.fields(entry.params)
        }
        parameters = tuple(
            Parameter(key, values[key], source(rule.name, key, sources))
            for key in parameter_keys(rule)
        )
        needs = tuple(sorted(rule.needs))
        missing = tuple(system for system in needs if system not in ruleset.systems)
        found.append(RuleInfo(rule.name, rule.process, needs, missing, entry.enabled, parameters))
    return found


def source(rule: str, key: str, sources: Sources) -> str:
    variable = env_name(RULE_PREFIX + rule, key)
    if sources.environ.get(variable, "").strip():
        return f"environment {variable}"
    constant = constant_name(rule, key)
    if constant in sources.constants:
        return f"Dolibarr constant {constant}"
    if key in sources.file.get(rule, {}):
        return f"file {sources.path} [{RULE_PREFIX}{rule}]"
    if key in sources.templated.get(rule, {}):
        return "message template"
    return "default"


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "(not set)"
    text = " ⏎ ".join(str(value).splitlines()) if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def rules_text(infos: list[RuleInfo]) -> list[str]:
    lines = []
    for info in infos:
        needs = "needs " + ", ".join(info.needs) if info.needs else "needs Dolibarr only"
        state = "" if info.enabled else ", disabled"
        if info.missing:
            state += f", skipped: {', '.join(info.missing)} not configured"
        lines.append(f"{info.name} ({info.process}; {needs}{state})")
        width = max(len(p.key) for p in info.parameters)
        for p in info.parameters:
            lines.append(f"  {p.key:<{width}}  {shown(p.value)}  ({p.source})")
    return lines


def rules_data(infos: list[RuleInfo]) -> list[dict[str, Any]]:
    return [
        {
            "name": info.name,
            "process": info.process,
            "needs": list(info.needs),
            "missing": list(info.missing),
            "enabled": info.enabled,
            "parameters": [
                {"key": p.key, "value": p.value, "source": p.source} for p in info.parameters
            ],
        }
        for info in infos
    ]
