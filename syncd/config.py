"""Read `syncd.ini` into a frozen tree of settings, or say everything wrong with it at once.

One table of known keys per section (parser, default, required) and one small
function per section turn configparser's strings into typed values;
`SYNCD_<SECTION>_<KEY>` environment variables override the file before
validation. Every problem becomes one sentence naming file, section and key, and
all of them are raised together as a single `ConfigError`. `[rule:NAME]`
sections are kept as raw strings: the rule loader knows their parameters.

This module must never contact a remote system, create or write a file, read the
clock, or put a secret into a message or a `repr`.
"""

from __future__ import annotations

import configparser
import difflib
import os
import re
import stat
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from syncd.envfile import EnvFileError, read_env_file
from syncd.errors import ConfigError
from syncd.logs import Masker
from syncd.model import FIELDS, TAGS

API_SUFFIX = "/api/index.php"
RULE_PREFIX = "rule:"
OPTIONAL_SYSTEMS: tuple[str, ...] = ("mautic", "freescout", "matrix")
DEFAULT_TAG_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "trial": "Trial",
        "icp_fit": "ICP-fit",
        "not_icp": "Not-ICP",
        "eu_project": "EU-Project",
        "self_hosted": "Self-hosted",
        "customer_active": "Customer-Active",
        "partner_prospect": "Partner-Prospect",
        "partner_qualified": "Partner-Qualified",
        "partner_declined": "Partner-Declined",
        "partner_active": "Partner-Active",
    }
)
# Credentials, by section. A section holding one never has a bad value quoted in a
# problem (a secret pasted under the wrong key would be), every problem is masked
# with the secrets given in the file or the environment, and a file giving one
# must be private.
SECRET_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "dolibarr": frozenset({"api_key"}),
        "mautic": frozenset({"password", "client_secret"}),
        "freescout": frozenset({"api_key"}),
        "matrix": frozenset({"access_token"}),
    }
)
# A value left as shipped in an example file: a configuration error, never sent anywhere.
PLACEHOLDERS = frozenset({"change-me", "changeme"})
PLACEHOLDER_PROBLEM = "still the example's placeholder: set it"
ENV_FILE_NAME = "syncd.env"
STATE_DB_NAME = "syncd.db"
# Variables syncd reads that are no [section] key.
OTHER_VARIABLES = frozenset({"SYNCD_CONFIG", "SYNCD_TRACE_RULES"})
# configparser's [DEFAULT] would leak its keys into every section; we have none.
_NO_DEFAULT_SECTION = " no default section "


@dataclass(frozen=True)
class DolibarrConfig:
    """`url` is the address people see in their browser; the API lives at `api_url`."""

    url: str
    api_key: str = field(repr=False)
    timezone: str = "UTC"
    page_size: int = 100
    timeout: float = 30.0
    overlap_seconds: int = 300
    sweep_every: int = 60
    commission_rate_unit: str = "percent"  # how `commission_rate` is stored: 15 or 0.15

    @property
    def api_url(self) -> str:
        return self.url + API_SUFFIX

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DaemonConfig:
    """Paths are absolute: relative ones are taken from the config file's directory."""

    poll_interval: int = 60
    state_db: Path = Path(STATE_DB_NAME)
    log_level: str = "INFO"
    log_format: str = "text"
    rules_dir: Path | None = None
    env_file: Path | None = None
    now: datetime | None = None  # pinned clock (aware, UTC), for tests and the demo


@dataclass(frozen=True)
class MauticConfig:
    """Basic auth (username, password) or OAuth2 client credentials; OAuth2 wins if both."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)

    @property
    def uses_oauth(self) -> bool:
        return bool(self.client_id)


@dataclass(frozen=True)
class FreescoutConfig:
    url: str
    api_key: str = field(repr=False)
    mailbox_id: int
    user_id: int | None = None


@dataclass(frozen=True)
class MatrixConfig:
    homeserver: str
    access_token: str = field(repr=False)
    room_sales: str
    room_success: str
    # More notices than this for one room in one drain go out as one digest; 0: never.
    digest_after: int = 3


@dataclass(frozen=True)
class CompanyConfig:
    """Who the messages speak for: `{company}` in a template is `name`."""

    name: str = ""
    templates_dir: Path | None = None  # a <rule>.txt here replaces syncd's default


@dataclass(frozen=True)
class Config:
    path: Path
    dolibarr: DolibarrConfig
    daemon: DaemonConfig
    tags: Mapping[str, str]
    fields: Mapping[str, str]
    company: CompanyConfig = CompanyConfig()
    mautic: MauticConfig | None = None
    freescout: FreescoutConfig | None = None
    matrix: MatrixConfig | None = None
    rules: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The environment the values were read with: the process's, over the env file's.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def systems(self) -> frozenset[str]:
        """The optional systems configured; rules needing any other one are skipped."""
        return frozenset(name for name in OPTIONAL_SYSTEMS if getattr(self, name) is not None)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every credential in the configuration: the log masks each of them."""
        found = [self.dolibarr.api_key]
        if self.mautic:
            found += [self.mautic.password, self.mautic.client_secret]
        if self.freescout:
            found.append(self.freescout.api_key)
        if self.matrix:
            found.append(self.matrix.access_token)
        return tuple(s for s in found if s)

    def tag_label(self, logical: str) -> str:
        return self.tags[logical]

    def field_code(self, logical: str) -> str:
        return self.fields[logical]

    def rules_source(self, name: str) -> str:
        """Where a rule's keys come from, as the prefix of a message about them."""
        return f"{self.path}: [{RULE_PREFIX}{name}]"

    def rule_origin(self, name: str, key: str) -> str:
        """Where a `[rule:NAME]` value came from, when not the file: " (from SYNCD_RULE_…)"."""
        var = env_name(RULE_PREFIX + name, key)
        return f" (from {var})" if self.environ.get(var, "").strip() else ""


class _Invalid(ValueError):
    """A value failed its parser; the text completes "<value> ..."."""


@dataclass(frozen=True)
class Key:
    parse: Callable[[str], object]
    default: object = None
    required: bool = False


def _text(raw: str) -> str:
    return raw


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _Invalid("is not a whole number") from None
        if high is not None and not low <= value <= high:
            raise _Invalid(f"is not between {low} and {high}")
        if value < low:
            raise _Invalid(f"is less than {low}")
        return value

    return parse


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _Invalid("is not a number of seconds") from None
    if not value > 0:
        raise _Invalid("is not more than 0 seconds")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    """Case-insensitive; returns the spelling given in `allowed`."""
    canonical = {value.lower(): value for value in allowed}

    def parse(raw: str) -> str:
        if raw.lower() not in canonical:
            raise _Invalid(f"is not one of {', '.join(allowed)}")
        return canonical[raw.lower()]

    return parse


def _url(raw: str) -> str:
    if "://" not in raw:
        raise _Invalid("has no scheme (start it with https://)")
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise _Invalid("is not an http or https URL")
    if not parts.hostname:
        raise _Invalid("has no host name")
    return raw.rstrip("/")


def _dolibarr_url(raw: str) -> str:
    url = _url(raw)
    return url.removesuffix(API_SUFFIX).rstrip("/")


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (KeyError, ValueError, OSError):
        raise _Invalid("is not a known time zone (write an IANA name like Europe/Paris)") from None
    return raw


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _aware_datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid("is not an ISO date and time (write 2024-05-01T09:00:00+00:00)") from None
    if value.tzinfo is None:
        raise _Invalid(f"has no UTC offset (write {raw}+00:00)")
    return value.astimezone(UTC)


def _extrafield_code(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", raw):
        raise _Invalid("is not an extrafield code (letters, digits and _ only)")
    return raw


def _room(raw: str) -> str:
    """A room id, `!` then opaque text (`!abc:example.org`; since room version 12 a hash
    with no server, `!uA-eA0pemxSuAlDzV6g3DhfTrIjozhQiWlrZ-klSNdw`), or a room alias
    (`#sales:example.org`), which syncd resolves at start."""
    if re.fullmatch(r"![^\s/]+", raw) or re.fullmatch(r"#[^:\s/]+:[^\s/]+", raw):
        return raw
    raise _Invalid("is not a room id or alias (like !abc:example.org or #sales:example.org)")


DOLIBARR_KEYS: Mapping[str, Key] = {
    "url": Key(_dolibarr_url, required=True),
    "api_key": Key(_text, required=True),
    "timezone": Key(_timezone, "UTC"),
    "page_size": Key(_whole(1, 1000), 100),
    "timeout": Key(_seconds, 30.0),
    "overlap_seconds": Key(_whole(0), 300),
    "sweep_every": Key(_whole(1), 60),
    "commission_rate_unit": Key(_choice("percent", "fraction"), "percent"),
}
DAEMON_KEYS: Mapping[str, Key] = {
    "poll_interval": Key(_whole(1), 60),
    "state_db": Key(_path),
    "log_level": Key(_choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
    "log_format": Key(_choice("text", "json"), "text"),
    "rules_dir": Key(_path),
    "env_file": Key(_path),
    "now": Key(_aware_datetime),
}
COMPANY_KEYS: Mapping[str, Key] = {
    "name": Key(_text, ""),
    "templates_dir": Key(_path),
}
TAG_KEYS: Mapping[str, Key] = {tag: Key(_text, DEFAULT_TAG_LABELS[tag]) for tag in TAGS}
FIELD_KEYS: Mapping[str, Key] = {name: Key(_extrafield_code, name) for name in FIELDS}
MAUTIC_KEYS: Mapping[str, Key] = {
    "url": Key(_url, required=True),
    "username": Key(_text, ""),
    "password": Key(_text, ""),
    "client_id": Key(_text, ""),
    "client_secret": Key(_text, ""),
}
FREESCOUT_KEYS: Mapping[str, Key] = {
    "url": Key(_url, required=True),
    "api_key": Key(_text, required=True),
    "mailbox_id": Key(_whole(1), required=True),
    "user_id": Key(_whole(1)),
}
MATRIX_KEYS: Mapping[str, Key] = {
    "homeserver": Key(_url, required=True),
    "access_token": Key(_text, required=True),
    "room_sales": Key(_room, required=True),
    "room_success": Key(_room),
    "digest_after": Key(_whole(0), 3),
}
SECTIONS: Mapping[str, Mapping[str, Key]] = {
    "dolibarr": DOLIBARR_KEYS,
    "daemon": DAEMON_KEYS,
    "company": COMPANY_KEYS,
    "tags": TAG_KEYS,
    "fields": FIELD_KEYS,
    "mautic": MAUTIC_KEYS,
    "freescout": FREESCOUT_KEYS,
    "matrix": MATRIX_KEYS,
}


def env_name(section: str, key: str) -> str:
    """`SYNCD_DOLIBARR_API_KEY`; `[rule:check_in_email]` day: `SYNCD_RULE_CHECK_IN_EMAIL_DAY`."""
    return f"SYNCD_{section.replace(':', '_')}_{key}".upper()


class _Reader:
    """The parsed file plus the environment, collecting problems as sections are read."""

    def __init__(
        self,
        path: Path,
        parser: configparser.ConfigParser,
        environ: Mapping[str, str],
        local: bool = False,
    ) -> None:
        self.path = path
        self.parser = parser
        self.environ = environ
        self.local = local  # only the state database is used: credentials may be absent
        self.problems: list[str] = []

    def has(self, section: str) -> bool:
        return self.parser.has_section(section)

    def problem(self, section: str, key: str, text: str) -> None:
        self.problems.append(f"{self.path}: [{section}] {key}: {text}")

    def raw(self, section: str, table: Mapping[str, Key]) -> dict[str, tuple[str, str]]:
        """Non-empty values of the section by key, each with where it came from."""
        found = dict(self.parser.items(section)) if self.has(section) else {}
        for key in found:
            if key not in table:
                self.problem(section, key, "unknown key")
        values = {k: (v.strip(), "") for k, v in found.items() if k in table}
        for key in table:
            name = env_name(section, key)
            if name in self.environ:
                values[key] = (self.environ[name].strip(), f" (from {name})")
        return {k: v for k, v in values.items() if v[0]}

    def values(self, section: str, table: Mapping[str, Key]) -> dict[str, Any]:
        """Typed values of every known key: parsed, defaulted, or None after a problem."""
        given = self.raw(section, table)
        result: dict[str, Any] = {}
        for key, spec in table.items():
            result[key] = spec.default
            # A local command reads a credential only to mask it: it may be absent.
            optional = self.local and key in SECRET_KEYS.get(section, ())
            if key not in given:
                if spec.required and not optional:
                    self.problem(section, key, "required")
                continue
            raw, origin = given[key]
            if raw.lower() in PLACEHOLDERS:
                if not optional:
                    self.problem(section, key, PLACEHOLDER_PROBLEM + origin)
                continue
            try:
                result[key] = spec.parse(raw)
            except _Invalid as why:
                self.problem(section, key, f"{self.quoted(section, raw)} {why}{origin}")
        return result

    def quoted(self, section: str, raw: str) -> str:
        return "the value" if section in SECRET_KEYS else repr(raw)

    def absolute(self, path: Path) -> Path:
        return self.path.absolute().parent / path


def _dolibarr(r: _Reader) -> DolibarrConfig:
    """Without the section, one problem (not one per required key) and a stand-in."""
    if not r.has("dolibarr"):
        r.problems.append(f"{r.path}: missing section [dolibarr]")
        return DolibarrConfig(url="", api_key="")
    return DolibarrConfig(**r.values("dolibarr", DOLIBARR_KEYS))


def _daemon(r: _Reader) -> DaemonConfig:
    v = r.values("daemon", DAEMON_KEYS)
    v["state_db"] = r.absolute(v["state_db"]) if v["state_db"] else default_state_db(r)
    v["env_file"] = r.absolute(v["env_file"]) if v["env_file"] else None
    if v["rules_dir"] is not None:
        v["rules_dir"] = r.absolute(v["rules_dir"])
        if not v["rules_dir"].is_dir():
            r.problem("daemon", "rules_dir", f"{str(v['rules_dir'])!r} is not a directory")
    return DaemonConfig(**v)


def default_state_db(r: _Reader) -> Path:
    """Under systemd (`StateDirectory=`), in the state directory; else next to the config."""
    state_dirs = r.environ.get("STATE_DIRECTORY", "").strip()
    if state_dirs:
        return Path(state_dirs.split(":")[0]) / STATE_DB_NAME
    return r.absolute(Path(STATE_DB_NAME))


def _company(r: _Reader) -> CompanyConfig:
    v = r.values("company", COMPANY_KEYS)
    if v["templates_dir"] is not None:
        v["templates_dir"] = r.absolute(v["templates_dir"])
        if not v["templates_dir"].is_dir():
            where = str(v["templates_dir"])
            r.problem("company", "templates_dir", f"{where!r} is not a directory")
    return CompanyConfig(**v)


def _tags(r: _Reader) -> Mapping[str, str]:
    return MappingProxyType(r.values("tags", TAG_KEYS))


def _fields(r: _Reader) -> Mapping[str, str]:
    return MappingProxyType(r.values("fields", FIELD_KEYS))


def _mautic(r: _Reader) -> MauticConfig | None:
    if not r.has("mautic"):
        return None
    v = r.values("mautic", MAUTIC_KEYS)
    if r.local:
        return MauticConfig(**v)
    for a, b in (("username", "password"), ("client_id", "client_secret")):
        if bool(v[a]) != bool(v[b]):
            missing, present = (b, a) if v[a] else (a, b)
            r.problem("mautic", missing, f"required when {present} is set")
    if not any(v[k] for k in ("username", "password", "client_id", "client_secret")):
        r.problem(
            "mautic", "username", "required (with password, or set client_id and client_secret)"
        )
    return MauticConfig(**v)


def _freescout(r: _Reader) -> FreescoutConfig | None:
    if not r.has("freescout"):
        return None
    return FreescoutConfig(**r.values("freescout", FREESCOUT_KEYS))


def _matrix(r: _Reader) -> MatrixConfig | None:
    if not r.has("matrix"):
        return None
    v = r.values("matrix", MATRIX_KEYS)
    v["room_success"] = v["room_success"] or v["room_sales"]
    return MatrixConfig(**v)


def _rules(r: _Reader) -> Mapping[str, Mapping[str, str]]:
    """Each `[rule:NAME]` section's keys as strings, environment overrides applied."""
    names = [s.removeprefix(RULE_PREFIX) for s in r.parser.sections() if s.startswith(RULE_PREFIX)]
    overrides = _rule_overrides(r.environ, names)
    rules: dict[str, Mapping[str, str]] = {}
    for name in names:
        if not name.isidentifier():
            r.problems.append(f"{r.path}: [{RULE_PREFIX}{name}]: {name!r} is not a rule name")
        # An empty value means the default, as in every other section.
        values = {k: v.strip() for k, v in r.parser.items(RULE_PREFIX + name) if v.strip()}
        values |= {k: v for k, v in overrides.get(name, {}).items() if v}
        for key, value in values.items():
            if value.lower() in PLACEHOLDERS:
                var = env_name(RULE_PREFIX + name, key)
                where = f" (from {var})" if r.environ.get(var, "").strip() else ""
                r.problem(RULE_PREFIX + name, key, PLACEHOLDER_PROBLEM + where)
        rules[name] = MappingProxyType(values)
    return MappingProxyType(rules)


def _rule_overrides(environ: Mapping[str, str], names: list[str]) -> dict[str, dict[str, str]]:
    """`SYNCD_RULE_<NAME>_<KEY>` by rule; the longest matching name wins (check_in_email
    over check_in). Variables naming no rule section are ignored."""
    prefixes = sorted(((env_name(RULE_PREFIX + n, ""), n) for n in names), reverse=True)
    found: dict[str, dict[str, str]] = {}
    for var, value in environ.items():
        for prefix, name in prefixes:
            if var.startswith(prefix) and len(var) > len(prefix):
                found.setdefault(name, {})[var.removeprefix(prefix).lower()] = value.strip()
                break
    return found


def _unknown_sections(r: _Reader) -> None:
    for section in r.parser.sections():
        if section not in SECTIONS and not section.startswith(RULE_PREFIX):
            r.problems.append(f"{r.path}: unknown section [{section}]")


def _parse_error(path: Path, error: configparser.Error) -> str:
    """configparser's complaint as one line naming the file."""
    if isinstance(error, configparser.DuplicateSectionError):
        return f"{path}: section [{error.section}] appears twice (line {error.lineno})"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"{path}: [{error.section}] {error.option}: set twice (line {error.lineno})"
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"{path}: line {error.lineno}: text before the first [section]"
    if isinstance(error, configparser.ParsingError) and error.errors:
        lineno = error.errors[0][0]
        return f"{path}: line {lineno}: neither a [section], a key = value nor a # comment"
    return f"{path}: " + " ".join(str(error).split())


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)
    try:
        with path.open(encoding="utf-8") as file:
            parser.read_file(file)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot be read ({error.__class__.__name__})"]) from None
    except configparser.Error as error:
        raise ConfigError([_parse_error(path, error)]) from None
    return parser


# What a file's loose permission bits expose, most serious first.
_EXPOSURES = (
    (0o004, "readable by others"),
    (0o002, "writable by others"),
    (0o020, "writable by its group"),
    (0o040, "readable by its group"),
)


def loose_bits(mode: int, owner_uid: int) -> int:
    """The permission bits a file holding secrets must not have (none: it is private).

    As ssh insists for keys: nothing for group or others. One exception, as
    PostgreSQL makes for its key file: a file owned by root may be readable by
    its group (the systemd recipe's 0640 root:syncd, read by the service's user).
    """
    allowed = 0o040 if owner_uid == 0 else 0
    return stat.S_IMODE(mode) & 0o077 & ~allowed


def _given_secrets(parser: configparser.ConfigParser, environ: Mapping[str, str]) -> list[str]:
    """Every credential given, valid or not, in the file and the environment."""
    found = []
    for section, keys in SECRET_KEYS.items():
        found += [parser.get(section, key, fallback="") for key in keys]
        found += [environ.get(env_name(section, key), "") for key in keys]
    return [value.strip() for value in found if value.strip()]


def _check_private(path: Path, parser: configparser.ConfigParser) -> None:
    if _given_secrets(parser, {}):
        _refuse_loose(path)


def _refuse_loose(path: Path) -> None:
    """A file holding secrets that others could read or change is refused, with the fix."""
    st = path.stat()
    loose = loose_bits(st.st_mode, st.st_uid)
    if loose:
        what = next((text for bit, text in _EXPOSURES if loose & bit), "open to others")
        fix = "640" if st.st_uid == 0 else "600"
        raise ConfigError([f"{path} holds secrets and is {what}: chmod {fix} {path}"])


def env_file_path(
    path: Path, parser: configparser.ConfigParser, environ: Mapping[str, str]
) -> tuple[Path | None, bool]:
    """The env file to read, and whether it was named (else `syncd.env` next to the config)."""
    named = environ.get(env_name("daemon", "env_file"), "").strip()
    named = named or parser.get("daemon", "env_file", fallback="").strip()
    folder = path.absolute().parent
    if named:
        return folder / Path(named).expanduser(), True
    default = folder / ENV_FILE_NAME
    return (default, False) if default.exists() else (None, False)


def _with_env_file(
    path: Path, parser: configparser.ConfigParser, environ: Mapping[str, str], local: bool
) -> dict[str, str]:
    """The environment with the env file's variables beneath it: the real environment wins.

    A local command (one that reads only the state database) goes on without an
    env file it may not read: a monitoring user needs no secrets.
    """
    env_file, named = env_file_path(path, parser, environ)
    if env_file is None:
        return dict(environ)
    try:
        if named and not env_file.exists():
            raise ConfigError([f"{path}: [daemon] env_file: {str(env_file)!r} does not exist"])
        _refuse_loose(env_file)
        found = read_env_file(env_file)
    except EnvFileError as error:
        raise ConfigError([str(error)]) from None
    except OSError as error:
        if local:
            return dict(environ)
        raise ConfigError([f"{env_file}: cannot be read ({error.strerror})"]) from None
    return found | dict(environ)


def unknown_variables(
    environ: Mapping[str, str], rule_keys: Mapping[str, Collection[str]]
) -> list[str]:
    """A warning for each `SYNCD_*` variable that sets nothing, naming the nearest valid one."""
    sections = {env_name(s, k) for s, table in SECTIONS.items() for k in table}
    rules = {
        env_name(RULE_PREFIX + rule, key): rule
        for rule, keys in rule_keys.items()
        for key in [*keys, "enabled"]
    }
    valid = sorted(sections | set(rules) | OTHER_VARIABLES)
    warnings = []
    for var in sorted(environ):
        if not var.startswith("SYNCD_") or var.startswith("SYNCD_TEST_") or var in valid:
            continue
        nearest = difflib.get_close_matches(var, valid, n=1, cutoff=0.6)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        warnings.append(f"environment variable {var} is not a syncd setting{hint}")
    return warnings


def load_config(
    path: str | Path, environ: Mapping[str, str] | None = None, *, local: bool = False
) -> Config:
    """Read, override from the environment, validate; one `ConfigError` lists every problem.

    The environment is the process's over the env file's (`[daemon] env_file`, else
    `syncd.env` next to the config when present). A file holding a secret that others
    could read or change is refused first. `local`: for commands that use only the
    state database, credentials are not required.
    """
    path = Path(path)
    parser = _read(path)
    _check_private(path, parser)
    env = _with_env_file(path, parser, os.environ if environ is None else environ, local)
    r = _Reader(path, parser, env, local)
    _unknown_sections(r)
    config = Config(
        path=r.path,
        dolibarr=_dolibarr(r),
        daemon=_daemon(r),
        company=_company(r),
        tags=_tags(r),
        fields=_fields(r),
        mautic=_mautic(r),
        freescout=_freescout(r),
        matrix=_matrix(r),
        rules=_rules(r),
        environ=MappingProxyType(env),
    )
    if r.problems:
        mask = Masker(_given_secrets(parser, r.environ))
        raise ConfigError([mask(problem) for problem in r.problems])
    return config
