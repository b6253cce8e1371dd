"""Rule parameters people tweak in Dolibarr: setup constants named `SYNCD_<RULE>_<KEY>`.

Precedence, highest first: the environment (`SYNCD_RULE_<RULE>_<KEY>`), the
Dolibarr constant, the `[rule:NAME]` section of the file, the rule's default.
Pure: the constants are read by the cycle and passed in here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from syncd.config import env_name
from syncd.model import Rule


def constant_name(rule: str, key: str) -> str:
    """`check_in_email`, `day` → `SYNCD_CHECK_IN_EMAIL_DAY`."""
    return f"SYNCD_{rule}_{key}".upper()


def parameter_keys(rule: Rule[Any]) -> list[str]:
    return ["enabled", *(f.name for f in dataclasses.fields(rule.params))]


def environment_only(
    rules: list[Rule[Any]],
    sections: Mapping[str, Mapping[str, str]],
    environ: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """The rule sections, plus `SYNCD_RULE_<RULE>_<KEY>` values for the rules the file
    has no `[rule:NAME]` section for: the environment wins whether or not the file
    names the rule (the file's sections already have theirs)."""
    merged = {name: dict(section) for name, section in sections.items()}
    for rule in rules:
        if rule.name in sections:
            continue
        for key in parameter_keys(rule):
            value = environ.get(env_name(f"rule:{rule.name}", key), "").strip()
            if value:
                merged.setdefault(rule.name, {})[key] = value
    return merged


def merge_sections(
    rules: list[Rule[Any]],
    sections: Mapping[str, Mapping[str, str]],
    constants: Mapping[str, str],
    environ: Mapping[str, str],
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The rule sections with Dolibarr constants applied; and which constants were used."""
    merged = {name: dict(section) for name, section in sections.items()}
    used: list[str] = []
    for rule in rules:
        for key in parameter_keys(rule):
            name = constant_name(rule.name, key)
            if name in constants and env_name(f"rule:{rule.name}", key) not in environ:
                merged.setdefault(rule.name, {})[key] = constants[name]
                used.append(name)
    return merged, used
