"""Message templates: the subject and body of each rule that writes to a person.

A rule whose parameters include `subject` and `body` takes them from the file
`<rule>.txt`: first in `[company] templates_dir` when set, else the neutral
default shipped in `syncd/templates/`. A file is a `Subject: …` line, an empty
line, then the body. `{company}` is replaced by `[company] name` here;
`{name}` and the rule's own placeholders (`{calendar_link}`, `{support_link}`)
are filled by the rule for each case. A `[rule:NAME]` section that sets
`subject` or `body` wins over the file.

It reads template files only; it never writes one, and knows no API.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from syncd.errors import ConfigError
from syncd.model import Rule

FIELDS = ("subject", "body")
COMPANY = "{company}"


def templated(rule: Rule[Any]) -> bool:
    names = {f.name for f in dataclasses.fields(rule.params)}
    return all(name in names for name in FIELDS)


def read_template(name: str, directory: Path | None) -> tuple[str, str]:
    """(where, text) of `<name>.txt`: the configured directory first, then the default."""
    if directory is not None and (directory / f"{name}.txt").is_file():
        path = directory / f"{name}.txt"
        return str(path), path.read_text(encoding="utf-8")
    default = resources.files("syncd") / "templates" / f"{name}.txt"
    if not default.is_file():
        where = f"{directory} or syncd's defaults" if directory else "syncd's defaults"
        raise ConfigError([f"rule {name}: no message template {name}.txt in {where}"])
    return f"syncd/templates/{name}.txt", default.read_text(encoding="utf-8")


def parse_template(text: str, where: str) -> tuple[str, str]:
    """(subject, body); a file not starting with `Subject:` and an empty line is refused."""
    first, _, rest = text.partition("\n")
    head, _, subject = first.partition(":")
    blank, _, body = rest.partition("\n")
    if head.strip().lower() != "subject" or not subject.strip() or blank.strip():
        raise ConfigError([f"{where}: start with a 'Subject: …' line, then an empty line"])
    return subject.strip(), body.strip("\n")


def with_templates(
    rules: Iterable[Rule[Any]],
    sections: Mapping[str, Mapping[str, str]],
    directory: Path | None,
    company: str,
    systems: frozenset[str],
    company_key: str = "[company] name",
) -> dict[str, dict[str, str]]:
    """The rule sections with each templated rule's subject and body filled in.

    `[company] name` is required once FreeScout, which sends these messages, is configured
    and a template names the company.
    """
    merged = {name: dict(values) for name, values in sections.items()}
    problems: list[str] = []
    for rule in rules:
        given = merged.get(rule.name, {})
        if not templated(rule) or all(key in given for key in FIELDS):
            continue
        try:
            where, text = read_template(rule.name, directory)
            subject, body = parse_template(text, where)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if COMPANY in subject + body and not company and "freescout" in systems:
            problems.append(f"{company_key}: required: the message templates name the company")
        filled = {"subject": subject, "body": body}
        filled = {key: value.replace(COMPANY, company) for key, value in filled.items()}
        merged[rule.name] = filled | given
    if problems:
        raise ConfigError(sorted(set(problems)))
    return merged
