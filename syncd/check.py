"""`syncd check`: the configuration, then Dolibarr and every other configured system.

Role: read the config (a problem there is exit 2, as everywhere), then ask each
system whether it is as the configuration needs it: Dolibarr reachable, the key
accepted, the API user allowed to read what a cycle reads, every configured tag
a category (and no two differing only by case), every configured extrafield a
third-party extrafield of a suitable type, its clock near ours; Mautic's
credentials, templates and segment; FreeScout's key and mailbox; Matrix's token
and rooms. One line per problem; exit 0 when there is none, 1 otherwise.

It writes nothing, except with `--fix-dolibarr`: then it lists the missing
extrafields and tags, and creates them through Dolibarr's API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from syncd import daemon
from syncd.config import Config
from syncd.engine import RuleSet
from syncd.errors import AuthError, RemoteError
from syncd.logs import mask

CLOCK_TOLERANCE = timedelta(minutes=1)
ONCE = daemon.SINGLE_ATTEMPT  # a check asks once: a slow retry would only hide the answer


@dataclass(frozen=True)
class FieldSpec:
    """What an extrafield must be: the type `--fix-dolibarr` creates, and the types read well."""

    kind: str
    size: str
    label: str
    accepts: frozenset[str]


def _spec(kind: str, size: str, label: str, *also: str) -> FieldSpec:
    return FieldSpec(kind, size, label, frozenset({kind, *also}))


# Types as extrafields_list_societe.json shows them.
FIELD_SPECS: dict[str, FieldSpec] = {
    "signup_date": _spec("date", "", "Signup date", "datetime"),
    "onboarding_call_date": _spec("date", "", "Onboarding call date", "datetime"),
    "logins_count": _spec("int", "10", "Logins count", "double"),
    "frameworks_mapped": _spec("int", "10", "Frameworks mapped", "double"),
    "referred_by": _spec("link", "", "Referred by (partner)", "int"),
    "commission_rate": _spec("double", "24,8", "Commission rate", "price"),
    "syncd_pause": _spec("boolean", "", "Sync paused"),
    "syncd_skip_rules": _spec("varchar", "255", "syncd: rules to skip", "text"),
    "onboarding_step": _spec("varchar", "64", "Onboarding step", "text"),
    "onboarding_step_override": _spec("varchar", "64", "Onboarding step override", "text"),
    "mautic_contact_id": _spec("varchar", "32", "Mautic contact id", "int"),
    "discovery_call_date": _spec("date", "", "Discovery call date", "datetime"),
    "briefing_date": _spec("date", "", "Briefing date", "datetime"),
    "directory_consent": _spec("boolean", "", "Directory listing consent"),
    "agreement_signed_date": _spec("date", "", "Partner agreement signed", "datetime"),
    "dpa_signed": _spec("boolean", "", "DPA signed"),
    "marketing_opt_out": _spec("boolean", "", "Marketing email opt-out"),
}
# What a cycle lists, and the right Dolibarr names for it.
READS = (
    ("/thirdparties", "third parties (Third parties: read)"),
    ("/categories", "tags (Tags/categories: read)"),
    ("/contacts", "contacts (Third parties: read contacts)"),
    ("/proposals", "commercial proposals (Commercial proposals: read)"),
    ("/invoices", "customer invoices (Customer invoices: read)"),
    ("/agendaevents", "agenda events (Agenda: read)"),
)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    # What --fix-dolibarr can create, with the problem line that goes once it is created.
    missing_fields: list[tuple[str, str, str]] = field(default_factory=list)  # logical, code
    missing_tags: list[tuple[str, str]] = field(default_factory=list)  # label
    created: list[str] = field(default_factory=list)

    def problem(self, text: str) -> str:
        self.problems.append(mask(text))
        return self.problems[-1]


def run_check(config_path: str, *, fmt: str = "text", fix: bool = False) -> int:
    config, ruleset = daemon.load(config_path)  # a ConfigError is exit 2, in the CLI
    found = Findings()
    now = config.daemon.now or datetime.now(UTC)
    if check_dolibarr(config, found, now) and fix:
        fix_dolibarr(config, found, say=(lambda _t: None) if fmt == "json" else print)
    check_mautic(config, ruleset, found)
    check_freescout(config, ruleset, found)
    check_matrix(config, found, now)
    report(found, fmt)
    return 0 if not found.problems else 1


def report(found: Findings, fmt: str) -> None:
    if fmt == "json":
        document = {
            "ok": not found.problems,
            "problems": found.problems,
            "checked": found.checked,
            "created": found.created,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for problem in found.problems:
        print(problem)
    checked = ", ".join(found.checked) or "nothing"
    if found.problems:
        print(f"check: {len(found.problems)} problem(s); checked {checked}")
    else:
        print(f"check: ok ({checked})")


def unreachable(exc: RemoteError) -> str:
    """A remote's failure in a few words: the OS's reason for a connection, else its answer."""
    if exc.status is not None:
        return f"{exc.operation} answered {exc.status}: {exc.message}"
    reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", exc.message)
    if reason:
        return f"cannot be reached ({reason.group(1).strip()})"
    kind = exc.message.split(":", 1)[0]
    return f"cannot be reached ({'timed out' if 'Timeout' in kind else 'connection failed'})"


# -- Dolibarr ------------------------------------------------------------------------


def check_dolibarr(config: Config, found: Findings, now: datetime) -> bool:
    """Every Dolibarr check; False when Dolibarr cannot be asked at all (down, key refused)."""
    client = daemon.dolibarr_client(config, ONCE)
    where = f"dolibarr: {config.dolibarr.url}"
    try:
        offset = _clock_offset(client.server_clock(), now)
        refused = [what for path, what in READS if not client.can_read(path)]
    except AuthError:
        found.problem(f"{where}: the API key was refused ([dolibarr] api_key)")
        return False
    except RemoteError as exc:
        found.problem(f"{where}: {unreachable(exc)}")
        return False
    found.checked.append("dolibarr")
    if offset is not None:
        found.problem(offset)
    for what in refused:
        found.problem(f"{where}: the API user may not read {what}")
    try:
        if "/categories" not in {p for p, w in READS if w in refused}:
            _check_tags(client.categories(), config, found)
        _check_fields(client, config, found)
    except RemoteError as exc:
        found.problem(f"{where}: {unreachable(exc)}")
    return True


def _clock_offset(theirs: datetime | None, now: datetime) -> str | None:
    if theirs is None:
        return None
    offset = theirs - now
    if abs(offset) <= CLOCK_TOLERANCE:
        return None
    way = "ahead of" if offset > timedelta(0) else "behind"
    seconds = abs(offset.total_seconds())
    return f"dolibarr: its clock is {seconds:.0f} s {way} syncd's: check NTP on both hosts"


def _check_tags(categories: Iterable[Any], config: Config, found: Findings) -> None:
    by_label: dict[str, list[tuple[int, str]]] = {}
    for category in categories:
        by_label.setdefault(str(category.label).casefold(), []).append(
            (int(category.id), str(category.label))
        )
    for tag, label in config.tags.items():
        matches = sorted(by_label.get(label.casefold(), []))
        if not matches:
            problem = found.problem(
                f"dolibarr: [tags] {tag}: no tag (category) {label!r} "
                "(syncd check --fix-dolibarr creates it)"
            )
            found.missing_tags.append((label, problem))
        elif len(matches) > 1:
            named = " and ".join(f"{shown!r} (id {cid})" for cid, shown in matches)
            found.problem(
                f"dolibarr: [tags] {tag}: {named} differ only by case: rename or delete one"
            )


def _check_fields(client: Any, config: Config, found: Findings) -> None:
    try:
        defined: dict[str, str] = client.thirdparty_extrafields()
    except AuthError:
        found.problem(
            "dolibarr: the API user may not read extrafield definitions (an admin may): "
            "extrafields not checked"
        )
        return
    for logical, code in config.fields.items():
        spec = FIELD_SPECS[logical]
        kind = defined.get(code)
        if kind is None:
            problem = found.problem(
                f"dolibarr: [fields] {logical}: no third-party extrafield {code!r} "
                "(syncd check --fix-dolibarr creates it)"
            )
            found.missing_fields.append((logical, code, problem))
        elif kind not in spec.accepts:
            wanted = " or ".join(sorted(spec.accepts))
            found.problem(
                f"dolibarr: [fields] {logical}: extrafield {code!r} is of type {kind}, not {wanted}"
            )


def fix_dolibarr(config: Config, found: Findings, say: Callable[[str], None]) -> None:
    """List what is missing, then create it; what was created is no longer a problem."""
    wanted = [f"extrafield {code} ({FIELD_SPECS[lg].kind})" for lg, code, _ in found.missing_fields]
    wanted += [f"tag {label!r}" for label, _ in found.missing_tags]
    if not wanted:
        return
    say("will create in Dolibarr: " + ", ".join(wanted))
    client = daemon.dolibarr_client(config, ONCE)
    for pos, (logical, code, problem) in enumerate(found.missing_fields, 100):
        spec = FIELD_SPECS[logical]
        create = partial(client.create_extrafield, code, spec.label, spec.kind, spec.size, pos)
        _create(found, say, f"extrafield {code}", problem, create)
    for label, problem in found.missing_tags:
        _create(found, say, f"tag {label!r}", problem, partial(client.create_category, label))


def _create(
    found: Findings,
    say: Callable[[str], None],
    what: str,
    problem: str,
    create: Callable[[], object],
) -> None:
    try:
        create()
    except RemoteError as exc:
        found.problem(f"dolibarr: could not create {what}: {exc.message}")
        return
    found.created.append(what)
    found.problems.remove(problem)
    say(f"created {what}")


# -- the other systems ---------------------------------------------------------------


def _enabled_params(ruleset: RuleSet, system: str, key: str) -> list[tuple[str, int]]:
    """(rule, id) for each enabled rule needing `system` whose params carry `key`."""
    return [
        (entry.name, int(getattr(entry.params, key)))
        for entry in ruleset.rules
        if entry.enabled and system in entry.rule.needs and getattr(entry.params, key, None)
    ]


def check_mautic(config: Config, ruleset: RuleSet, found: Findings) -> None:
    client = daemon.mautic_client(config, ONCE)
    if client is None or config.mautic is None:
        return
    where = f"mautic: {config.mautic.url}"
    try:
        client.find_contact("syncd-check@example.invalid")
        for rule, email_id in _enabled_params(ruleset, "mautic", "template_id"):
            email = client.email(email_id)
            if email is None:
                found.problem(f"{where}: [rule:{rule}] template_id: no email {email_id}")
            elif not email.is_published:
                found.problem(
                    f"{where}: [rule:{rule}] template_id: email {email_id} is unpublished"
                )
            elif email.type == "list":
                found.problem(
                    f"{where}: [rule:{rule}] template_id: email {email_id} is a segment email, "
                    "not a template"
                )
        for rule, segment_id in _enabled_params(ruleset, "mautic", "segment_id"):
            segment = client.segment(segment_id)
            if segment is None:
                found.problem(f"{where}: [rule:{rule}] segment_id: no segment {segment_id}")
            elif not (segment.is_published and segment.is_global):
                found.problem(
                    f"{where}: [rule:{rule}] segment_id: segment {segment_id} is unpublished "
                    "or not public: Mautic refuses to add contacts to it"
                )
    except AuthError as exc:
        found.problem(f"{where}: credentials refused ({exc.message})")
        return
    except RemoteError as exc:
        found.problem(f"{where}: {unreachable(exc)}")
        return
    found.checked.append("mautic")


def check_freescout(config: Config, ruleset: RuleSet, found: Findings) -> None:
    client = daemon.freescout_client(config, ONCE)
    if client is None or config.freescout is None:
        return
    where = f"freescout: {config.freescout.url}"
    try:
        mailboxes = client.mailbox_ids()
    except AuthError:
        found.problem(f"{where}: the API key was refused ([freescout] api_key)")
        return
    except RemoteError as exc:
        found.problem(f"{where}: {unreachable(exc)}")
        return
    found.checked.append("freescout")
    wanted = [("[freescout] mailbox_id", config.freescout.mailbox_id)]
    wanted += [
        (f"[rule:{rule}] mailbox_id", mailbox)
        for rule, mailbox in _enabled_params(ruleset, "freescout", "mailbox_id")
    ]
    for where_set, mailbox in wanted:
        if mailbox not in mailboxes:
            shown = ", ".join(str(m) for m in sorted(mailboxes)) or "none"
            found.problem(f"{where}: {where_set}: no mailbox {mailbox} (this key sees: {shown})")


def check_matrix(config: Config, found: Findings, now: datetime) -> None:
    client = daemon.matrix_client(config, ONCE)
    if client is None or config.matrix is None:
        return
    where = f"matrix: {config.matrix.homeserver}"
    try:
        client.whoami()
    except AuthError:
        found.problem(f"{where}: the access token was refused ([matrix] access_token)")
        return
    except RemoteError as exc:
        found.problem(f"{where}: {unreachable(exc)}")
        return
    found.checked.append("matrix")
    rooms = {config.matrix.room_sales: "room_sales", config.matrix.room_success: "room_success"}
    for room, key in rooms.items():
        try:  # reading the room's latest messages proves the bot is in it
            room_id = client.resolve_alias(room) if room.startswith("#") else room
            client.find_notice(room_id, "syncd check", now)
        except RemoteError as exc:
            found.problem(f"{where}: [matrix] {key}: cannot read room {room} ({exc.message})")
