"""Dolibarr REST client: the only module that speaks Dolibarr's protocol.

It turns Dolibarr's JSON (string numbers, epoch dates, `options_` keys, a 404
for an empty third-party list) into small typed records, and nothing more:
no step, tag meaning or rule is known here. See tests/fixtures/dolibarr/QUIRKS.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from loguru import logger

from connectors.http import HttpClient, RetryPolicy, error_message
from syncd.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PermanentError,
    RemoteError,
    TransientError,
    shown,
)

API_SUFFIX = "/api/index.php"
SYNCD_EVENT_CODE = "AC_SYNCD"  # a custom `code` is kept as given (agendaevent_create.json)
T = TypeVar("T")


@dataclass(frozen=True)
class DolibarrSettings:
    url: str
    api_key: str = field(repr=False)
    timezone: str = "UTC"
    page_size: int = 100
    timeout: float = 30.0


@dataclass(frozen=True)
class ThirdParty:
    id: int
    ref: str
    name: str
    email: str
    country_code: str
    client: int  # 1 customer, 2 prospect, 3 both; 0 when unset or unreadable
    # The two dates as Dolibarr sent them (epochs, as ints or strings): the core reads
    # them as it reads extrafields, so a bad value becomes an error on that case only.
    created_at: Any
    modified_at: Any  # None where Dolibarr answers "" (no extrafields row)
    array_options: Mapping[str, Any]  # keys without the `options_` prefix, raw values


@dataclass(frozen=True)
class Category:
    id: int
    label: str


@dataclass(frozen=True)
class ContactRecord:
    id: int
    socid: int
    name: str
    email: str
    modified_at: Any = None  # `date_modification` as sent; "" in 23 (contact_get.json) → None


@dataclass(frozen=True)
class ProposalRecord:
    id: int
    socid: int
    ref: str
    status: Any  # `statut` as sent (an int, proposal_get.json); the core reads it
    modified_at: Any = None


@dataclass(frozen=True)
class AgendaEvent:
    id: int
    socid: int
    label: str
    code: str
    note: str
    at: datetime | None = None  # `datep`: when it happened (agendaevent_get.json)


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice row; every value but the ids kept raw for the core to judge.

    invoice_type_list_wide_properties.json: `type`, `statut`, `close_code`,
    `totalpaid` and the `multicurrency_*` amounts come back in list rows only
    when named in `properties`.
    """

    id: int
    socid: int
    ref: str
    is_paid: bool  # `paye == "1"`: paid in full (a short-paid invoice is `paye "0"`)
    total_ht: str  # company currency
    currency: str  # `multicurrency_code`, the invoice's own currency
    type: Any = None
    status: Any = None
    close_code: Any = None
    source_id: Any = None
    total_ttc: Any = None
    totalpaid: Any = None
    mc_total_ht: Any = None
    deposits_ht: Any = None  # the `(DEPOSIT)` lines' total_ht, summed (negative)
    mc_deposits_ht: Any = None
    date: Any = None
    modified_at: Any = None


class DolibarrClient:
    """Read side (and, later, write side) of Dolibarr's REST API."""

    def __init__(self, settings: DolibarrSettings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.api_url = api_url(settings.url)
        self.zone = ZoneInfo(settings.timezone)
        self.http = HttpClient(
            "dolibarr",
            self.api_url,
            {"DOLAPIKEY": settings.api_key},
            settings.timeout,
            policy,
            error_hook=sql_errors_are_permanent,
        )

    def __repr__(self) -> str:
        return f"DolibarrClient({self.api_url!r})"

    # -- third parties -------------------------------------------------------------

    def iter_thirdparties(self, modified_since: datetime | None = None) -> Iterator[ThirdParty]:
        """Every third party, or those whose row or extrafields row changed since a time.

        Extrafield-only edits move only `ef.tms`, so both are filtered
        (sqlfilters_tms_only_misses_extrafield_change.json, sqlfilters_tms_or_ef_tms.json).
        """
        params: dict[str, Any] = {"properties": _THIRDPARTY_PROPERTIES}
        if modified_since is not None:
            cutoff = sql_literal(self.local_literal(modified_since))
            params["sqlfilters"] = f"((t.tms:>:{cutoff}) or (ef.tms:>:{cutoff}))"
        rows = self._pages("/thirdparties", params, empty_is_404=True)
        yield from _readable("/thirdparties", rows, parse_thirdparty)

    def iter_thirdparty_ids(self) -> Iterator[int]:
        """All ids, cheaply: deletions leave no trace, so a sweep finds them."""
        rows = self._pages("/thirdparties", {"properties": "id"}, empty_is_404=True)
        yield from _readable("/thirdparties", rows, lambda row: int(row["id"]))

    def get_thirdparty(self, socid: int) -> ThirdParty | None:
        try:
            return parse_thirdparty(self._get(f"/thirdparties/{socid}"))
        except NotFoundError:
            return None

    # -- tags ----------------------------------------------------------------------

    def categories(self) -> list[Category]:
        """Third-party tags (Dolibarr's "customer" categories)."""
        rows = self._pages("/categories", {"type": "customer"}, empty_is_404=False)
        return list(_readable("/categories", rows, parse_category))

    def category_member_ids(self, category_id: int) -> set[int]:
        """Ids of the third parties carrying a tag (category_objects_customer_onlyids.json)."""
        path = f"/categories/{category_id}/objects"
        rows = self._get(path, {"type": "customer", "onlyids": 1})
        return set(_readable(path, rows if isinstance(rows, list) else [], int))

    # -- related objects -------------------------------------------------------------

    def iter_contacts(self, modified_since: datetime | None = None) -> Iterator[ContactRecord]:
        yield from self._related("/contacts", _CONTACT_PROPERTIES, modified_since, parse_contact)

    def iter_proposals(self, modified_since: datetime | None = None) -> Iterator[ProposalRecord]:
        yield from self._related("/proposals", _PROPOSAL_PROPERTIES, modified_since, parse_proposal)

    def iter_invoices(self, modified_since: datetime | None = None) -> Iterator[InvoiceRecord]:
        yield from self._related("/invoices", _INVOICE_PROPERTIES, modified_since, parse_invoice)

    def company_currency(self) -> str | None:
        """The company's currency (invoice_type_setup_company.json `currency_code`).

        Only admins may read `/setup/company`; a 403 means "unknown", not an error.
        """
        try:
            body = self._get("/setup/company")
        except AuthError:
            return None
        code = body.get("currency_code") if isinstance(body, dict) else None
        return code.strip() if isinstance(code, str) and code.strip() else None

    def server_clock(self) -> datetime | None:
        """The server's own time (status.json `timestamp_now_utc`), or None if not given."""
        stamp = self.server_status().get("timestamp_now_utc")
        if isinstance(stamp, bool) or not isinstance(stamp, int | str) or not str(stamp).isdigit():
            return None
        return datetime.fromtimestamp(int(stamp), UTC)

    def server_status(self) -> Mapping[str, Any]:
        """Version and clock of the server (status.json)."""
        body = self._get("/status")
        return dict(body.get("success", {})) if isinstance(body, dict) else {}

    # -- agenda ------------------------------------------------------------------------

    def create_agenda_event(
        self,
        *,
        socid: int,
        label: str,
        note: str,
        at: datetime,
        owner_id: int,
        is_task: bool = False,
        code: str = SYNCD_EVENT_CODE,
    ) -> int:
        """POST /agendaevents (agendaevent_create.json); returns the new id.

        Not idempotent: a lost answer raises OutcomeUnknown; find the event by
        its label (`find_events`) before trying again.
        """
        epoch = int(at.timestamp())
        body = {
            "socid": socid,
            "type_code": "AC_OTH_AUTO",
            "code": code,
            "label": label,
            "note_private": note,
            "datep": epoch,
            "datef": epoch,
            "userownerid": owner_id,
            "percentage": 0 if is_task else -1,
            "fulldayevent": 0,
        }
        answer = self._write("POST", "/agendaevents", body)
        if isinstance(answer, bool) or not str(answer).isdigit():
            # Created or not, we cannot tell from this answer: the outbox reconciles.
            raise OutcomeUnknown(
                "dolibarr", "POST /agendaevents", f"no event id in the answer: {answer!r}"[:200]
            )
        return int(answer)

    def find_events(
        self, label_prefix: str, socid: int | None = None, after_id: int = 0
    ) -> Iterator[AgendaEvent]:
        """Agenda events whose label starts with a prefix (and whose id is above `after_id`).

        agendaevents_by_thirdparty_and_code.json.

        LIKE treats `_` as a wildcard, so the prefix is checked again here.
        """
        escaped = like_prefix(label_prefix)
        sqlfilters = f"(t.label:like:'{escaped}%')"
        if socid is not None:
            sqlfilters = f"(t.fk_soc:=:{socid}) and {sqlfilters}"
        if after_id:
            sqlfilters = f"(t.id:>:{int(after_id)}) and {sqlfilters}"
        params = {"sqlfilters": sqlfilters, "properties": "id,socid,code,label,note_private,datep"}
        # llx_actioncomm's key is `id`, not `rowid`: sorting on t.rowid is an SQL error.
        for row in self._pages("/agendaevents", params, empty_is_404=False, sortfield="t.id"):
            event = parse_event(row)
            if event.label.startswith(label_prefix):
                yield event

    # -- third-party writes ------------------------------------------------------------

    def update_extrafields(self, socid: int, values: Mapping[str, Any]) -> None:
        """PUT only `array_options`: a true partial update (thirdparty_put_partial_extrafield.json).

        A PUT sets values, so repeating it is harmless and it is retried.
        """
        options = {f"options_{code}": value for code, value in values.items()}
        self._write("PUT", f"/thirdparties/{socid}", {"array_options": options}, retry=True)

    def append_private_note(self, socid: int, line: str, marker: str) -> bool:
        """Append a line to the private note unless a line with `marker` is already there.

        Read-modify-write; the marker makes a repeat a no-op. Returns whether it wrote.
        """
        current = self._get(f"/thirdparties/{socid}")
        note = str((current or {}).get("note_private") or "")
        if marker in note:
            return False
        new = f"{note}\n{line}" if note else line
        self._write("PUT", f"/thirdparties/{socid}", {"note_private": new}, retry=True)
        return True

    def tag(self, socid: int, category_id: int) -> None:
        """PUT /thirdparties/{id}/categories/{cid}; tagging twice is harmless (retried)."""
        self._write("PUT", f"/thirdparties/{socid}/categories/{category_id}", None, retry=True)

    def setup_constants(self, prefix: str = "SYNCD_") -> dict[str, str]:
        """Every readable setup constant with the prefix, in one request.

        setup_conf_all_trimmed.json.

        Only admins may read constants; a 403 means "none", not an error.
        """
        try:
            body = self._get("/setup/conf")
        except AuthError:
            return {}
        if not isinstance(body, dict):
            return {}
        return {k: str(v) for k, v in body.items() if k.startswith(prefix)}

    # -- setup: what `syncd check` reads and `--fix-dolibarr` creates ---------------------

    def thirdparty_extrafields(self) -> dict[str, str]:
        """Third-party extrafield codes and their types (extrafields_list_societe.json)."""
        try:
            body = self._get("/setup/extrafields", {"elementtype": "societe"})
        except NotFoundError:
            return {}
        defs = body.get("societe") if isinstance(body, dict) else None
        if not isinstance(defs, dict):
            return {}
        return {
            str(code): str(d.get("type") or "") for code, d in defs.items() if isinstance(d, dict)
        }

    def create_extrafield(self, code: str, label: str, kind: str, size: str, pos: int) -> None:
        """POST /setup/extrafields/societe/{code}, admin only; an existing code is a 409
        (extrafield_create_onboarding_step.json, extrafield_create_duplicate_409.json)."""
        param: Any = (
            {"options": {"Societe:societe/class/societe.class.php": None}} if kind == "link" else ""
        )
        body = {
            "label": label,
            "type": kind,
            "size": size,
            "param": param,
            "pos": pos,
            "alwayseditable": 1,
            "list": "1",
            "required": 0,
            "unique": 0,
            "printable": 0,
            "totalizable": 0,
            "default": "",
            "computed": "",
            "perms": "",
            "langfile": "",
            "help": "",
        }
        self._write("POST", f"/setup/extrafields/societe/{code}", body)

    def create_category(self, label: str, description: str = "") -> int:
        """POST /categories as a third-party tag; answers the new id (category_create.json)."""
        body = {"label": label, "type": "customer", "description": description}
        return _int(self._write("POST", "/categories", body))

    def can_read(self, path: str) -> bool:
        """Whether this key may list `path`: a 403 says the user lacks the right
        (auth_no_permission_403.json); an empty list (a 404 for third parties) is fine."""
        try:
            self._get(path, {"limit": 1})
        except NotFoundError:
            return True
        except AuthError as exc:
            if exc.status == 403:
                return False
            raise
        return True

    # -- plumbing ----------------------------------------------------------------------

    def local_literal(self, moment: datetime) -> str:
        """A sqlfilters date literal: server-local time, as the database compares it.

        An ISO literal with a Z is silently read as local time
        (sqlfilters_iso8601_T_Z_future.json), so the offset must be applied here.
        """
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.http.get_json(path, params)
        except AuthError as exc:
            message = f"Dolibarr rejected the API key for {self.settings.url} ({exc.message})"
            raise AuthError("dolibarr", exc.operation, message, exc.status) from exc

    def _write(self, method: str, path: str, body: Any, *, retry: bool = False) -> Any:
        """One write; an answer that cannot be read is unknown unless the write may be resent."""
        operation = f"{method} {path}"
        try:
            response = self.http.request(method, path, body=body, retry_write=retry)
        except AuthError as exc:
            message = f"Dolibarr rejected the API key for {self.settings.url} ({exc.message})"
            raise AuthError("dolibarr", exc.operation, message, exc.status) from exc
        try:
            return self.http.decode(response, operation)
        except TransientError as exc:
            if retry:
                raise
            # The server acted, then its answer was cut or garbled: the write may be there.
            raise OutcomeUnknown("dolibarr", operation, exc.message, exc.status) from exc

    def _related(
        self,
        path: str,
        properties: str,
        modified_since: datetime | None,
        parse: Callable[[Mapping[str, Any]], T],
    ) -> Iterator[T]:
        params: dict[str, Any] = {"properties": properties}
        if modified_since is not None:
            params["sqlfilters"] = f"(t.tms:>:{sql_literal(self.local_literal(modified_since))})"
        yield from _readable(path, self._pages(path, params, empty_is_404=False), parse)

    def _pages(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        empty_is_404: bool,
        sortfield: str = "t.rowid",
    ) -> Iterator[Mapping[str, Any]]:
        """Rows of a list endpoint, one page in memory at a time.

        Pages count from 0; there is no total. /thirdparties answers 404 for an
        empty list and for a page past the end (thirdparties_list_empty.json,
        thirdparties_list_page_past_end.json); the others answer 200 [].
        """
        size = self.settings.page_size
        page = 0
        previous_first: object = None
        while True:
            query = {
                **params,
                "limit": size,
                "page": page,
                "sortfield": sortfield,
                "sortorder": "ASC",
            }
            try:
                rows = self._get(path, query)
            except NotFoundError:
                if empty_is_404:
                    return
                raise
            if not isinstance(rows, list):
                rows = []
            # A server that ignores `page` would repeat itself forever.
            first = rows[0].get("id") if rows and isinstance(rows[0], dict) else None
            if page and first is not None and first == previous_first:
                raise PermanentError(
                    "dolibarr", f"GET {path}", f"page {page} repeats page {page - 1}"
                )
            previous_first = first
            yield from rows
            if len(rows) < size:
                return
            page += 1


_THIRDPARTY_PROPERTIES = (
    "id,ref,name,email,country_code,client,date_creation,date_modification,array_options"
)
# `date_modification` is the row's `tms` in the database's clock: the poll's bookmark.
_CONTACT_PROPERTIES = "id,socid,firstname,lastname,email,date_modification"
_PROPOSAL_PROPERTIES = "id,socid,ref,statut,date_modification"
# `lines` carries the `(DEPOSIT)` lines of a final invoice
# (invoice_type_list_no_properties_one_row.json, invoice_type_final_lines.json).
_INVOICE_PROPERTIES = (
    "id,socid,ref,type,statut,paye,close_code,fk_facture_source,date,total_ht,total_ttc,"
    "totalpaid,multicurrency_code,multicurrency_total_ht,lines,date_modification"
)


# Dolibarr answers 503 for SQL errors (unknown column or sort field); retrying
# them cannot help (thirdparties_list_sort_invalid.json,
# sqlfilters_malformed_unknown_column.json).
_PERMANENT_503_MARKERS = ("Unknown column", "SQL", "Error when retrieve")


def sql_errors_are_permanent(response: requests.Response, operation: str) -> RemoteError | None:
    message = error_message(response)
    if response.status_code == 503 and any(m in message for m in _PERMANENT_503_MARKERS):
        return PermanentError("dolibarr", operation, message, 503)
    return None


def _readable(path: str, rows: Iterable[Any], parse: Callable[[Any], T]) -> Iterator[T]:
    """Parsed rows; one whose id or owner cannot be read belongs to no case, and is skipped.

    Every other value is kept raw for the core to judge on its case; this
    only guards the keys, so one broken row cannot stop a whole list.
    """
    for row in rows:
        try:
            yield parse(row)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            row_id = shown(row.get("id")) if isinstance(row, Mapping) else shown(row)
            logger.warning("dolibarr GET {}: skipped a row with id {}: {!r}", path, row_id, exc)


def api_url(url: str) -> str:
    """The REST root for the address people type in their browser."""
    url = url.rstrip("/")
    return url if url.endswith(API_SUFFIX) else url + API_SUFFIX


def _int(value: Any, default: int = 0) -> int:
    if value in (None, "", False):
        return default
    return int(value)


# Dolibarr's sqlfilters syntax has no escape (functions.lib.php,
# forgeSQLFromUniversalSearchCriteria): a term is `(field:op:[^()]+)`, so a value
# ends at the first parenthesis and every parenthesis counts towards the balance,
# quoted or not; a LIKE value with a quote inside keeps its quotes; `%` and `_`
# stay LIKE wildcards. A value must therefore be refused, or cut, not escaped.
_FILTER_BREAKERS = re.compile(r"[()'\\\x00-\x1f\x7f]")
_LIKE_STOPS = re.compile(r"[()'%\\\x00-\x1f\x7f]")


def sql_literal(value: str) -> str:
    """`value` quoted for a sqlfilters comparison; one that could change the filter is refused."""
    if _FILTER_BREAKERS.search(value):
        raise ValueError(f"{value!r} cannot be put in a Dolibarr sqlfilters literal")
    return f"'{value}'"


def like_prefix(text: str) -> str:
    """The longest start of `text` that is plain text in a LIKE pattern.

    Cut before a quote, a parenthesis, a backslash, a control character or `%`,
    so the filter can only match more, never differently; callers check the
    exact prefix on what comes back. `_` (any one character) is kept: every rule
    name has one, and cutting there would read far more events.
    """
    stop = _LIKE_STOPS.search(text)
    return text if stop is None else text[: stop.start()]


def _client(value: Any) -> int:
    """`client` is "0".."3" (QUIRKS.md, "Shapes"); syncd reads tags, not this, so junk is 0."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    return int(text) if text in ("0", "1", "2", "3") else 0


def parse_thirdparty(row: Mapping[str, Any]) -> ThirdParty:
    """A third party as thirdparty_get_customer_full.json shows it.

    `array_options` is `[]` when no extrafields are defined; `date_modification`
    is `""` when the third party has no extrafields row
    (thirdparty_get_no_extrafields_row.json).
    """
    options = row.get("array_options") or {}
    if not isinstance(options, dict):
        options = {}
    return ThirdParty(
        id=int(row["id"]),
        ref=str(row.get("ref") or row.get("name") or row["id"]),
        name=str(row.get("name") or ""),
        email=str(row.get("email") or ""),
        country_code=str(row.get("country_code") or ""),
        client=_client(row.get("client")),
        created_at=row.get("date_creation"),
        modified_at=_modified(row),
        array_options={k.removeprefix("options_"): v for k, v in options.items()},
    )


def _modified(row: Mapping[str, Any]) -> Any:
    """`date_modification` as sent, or None where Dolibarr has none ("" without an
    extrafields row, thirdparty_get_no_extrafields_row.json, contact_get.json)."""
    modified = row.get("date_modification")
    return None if modified in (None, "", False) else modified


def parse_category(row: Mapping[str, Any]) -> Category:
    """categories_list_customer.json."""
    return Category(id=int(row["id"]), label=str(row["label"]))


def parse_contact(row: Mapping[str, Any]) -> ContactRecord:
    """contact_get.json: `name` is null; the name is firstname + lastname."""
    name = " ".join(str(row.get(k) or "") for k in ("firstname", "lastname")).strip()
    return ContactRecord(
        id=int(row["id"]),
        socid=_int(row.get("socid")),
        name=name,
        email=str(row.get("email") or ""),
        modified_at=_modified(row),
    )


def parse_proposal(row: Mapping[str, Any]) -> ProposalRecord:
    """proposal_get.json: `statut` is an int here, unlike invoices."""
    return ProposalRecord(
        id=int(row["id"]),
        socid=_int(row.get("socid")),
        ref=str(row.get("ref") or ""),
        status=row.get("statut"),
        modified_at=_modified(row),
    )


def parse_invoice(row: Mapping[str, Any]) -> InvoiceRecord:
    """invoice_type_list_wide_properties.json: one row of any type, values kept raw.

    Paid in full is `paye == "1"`, never `totalpaid` (invoice_after_settopaid.json);
    closed short is `statut "2"` with `paye "0"` (invoice_type_short_paid_get.json).
    """
    deposits = _deposit_lines(row.get("lines"))
    return InvoiceRecord(
        id=int(row["id"]),
        socid=_int(row.get("socid")),
        ref=str(row.get("ref") or ""),
        is_paid=str(row.get("paye")) == "1",
        total_ht=str(row.get("total_ht") or "0"),
        currency=str(row.get("multicurrency_code") or ""),
        type=row.get("type"),
        status=row.get("statut"),
        close_code=row.get("close_code"),
        source_id=row.get("fk_facture_source"),
        total_ttc=row.get("total_ttc"),
        totalpaid=row.get("totalpaid"),
        mc_total_ht=row.get("multicurrency_total_ht"),
        deposits_ht=_line_sum(deposits, "total_ht"),
        mc_deposits_ht=_line_sum(deposits, "multicurrency_total_ht"),
        date=row.get("date"),
        modified_at=_modified(row),
    )


def _deposit_lines(lines: Any) -> list[Mapping[str, Any]]:
    """The lines by which a final invoice absorbs a deposit: `(DEPOSIT)` with
    `fk_remise_except` set, a negative amount (invoice_type_final_lines.json)."""
    if not isinstance(lines, list):
        return []
    return [
        line
        for line in lines
        if isinstance(line, Mapping)
        and line.get("fk_remise_except") not in (None, "", "0", 0)
        and str(line.get("desc") or line.get("description") or "").strip() == "(DEPOSIT)"
    ]


def _line_sum(lines: list[Mapping[str, Any]], key: str) -> str | None:
    """The lines' amounts summed as text; None without lines, the raw value if one is junk."""
    if not lines:
        return None
    total = Decimal(0)
    for line in lines:
        try:
            total += Decimal(str(line.get(key) or "0"))
        except InvalidOperation:
            return str(line.get(key))  # the core reports it on the case
    return str(total)


def parse_event(row: Mapping[str, Any]) -> AgendaEvent:
    return AgendaEvent(
        id=int(row["id"]),
        socid=_int(row.get("socid")),
        label=str(row.get("label") or ""),
        code=str(row.get("code") or ""),
        note=str(row.get("note_private") or ""),
        at=_epoch(row.get("datep")),
    )


def _epoch(value: Any) -> datetime | None:
    """An epoch (int or digit string) as an aware time; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None
