"""A stateful, in-memory fake of Dolibarr's REST API (23.0.0-beta, optionally 22.0.4).

Role: answer parsed requests exactly as the real server recorded in
tests/fixtures/dolibarr/ does (status, body shape, quirks listed in QUIRKS.md), keep the
state those requests change, and inject faults on demand. Adapters in `connectors.fakes.web`
put it behind `responses` or a loopback HTTP server.
It must never speak HTTP itself, import `requests`/`responses`, sleep, or read the real clock.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from connectors.fakes import sqlfilters as sf
from connectors.fakes.base import FakeBase, Response
from connectors.fakes.base import Request as BaseRequest


def _words(text: str) -> list[str]:
    return text.split()


def _without(keys: list[str], dropped: str) -> list[str]:
    return [k for k in keys if k not in dropped.split()]


Json = Any
API_PREFIX = "/api/index.php"
DEFAULT_NOW = 1795375862.0  # 2026-11-22 20:31:02 Europe/Paris, the recording session (status.json)
SYNCD_EXTRAFIELDS: dict[str, str] = {
    "onboarding_step": "varchar",
    "onboarding_step_override": "varchar",
    "signup_date": "date",
    "onboarding_call_date": "date",
    "logins_count": "int",
    "frameworks_mapped": "int",
    "referred_by": "link",
    "commission_rate": "double",
    "syncd_pause": "boolean",
    "syncd_skip_rules": "varchar",
    "mautic_contact_id": "varchar",
    "discovery_call_date": "date",
    "briefing_date": "date",
    "directory_consent": "boolean",
    "agreement_signed_date": "date",
    "dpa_signed": "boolean",
}
AGENDA_TYPE_CODES = frozenset(
    _words("AC_OTH_AUTO AC_OTH AC_TEL AC_FAX AC_EMAIL AC_EMAIL_IN AC_RDV AC_INT AC_EO_ONLINECONF")
)
_JSON_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Powered-By": "Luracast Restler v3.1.0",
    "Cache-Control": "no-cache, must-revalidate",
}
_HTML_HEADERS = {"Content-Type": "text/html; charset=UTF-8", "X-Powered-By": "PHP/8.2.36"}
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_STAGES = {
    "call": (["get", "route", "negotiate", "authenticate", "validate"], ["call", "message"]),
    "authenticate": (["get", "route", "negotiate"], ["authenticate", "message"]),
    "route": (["get"], ["route", "negotiate", "message"]),
}
_COUNTRY_IDS = {"FR": 1, "BE": 2, "IT": 3, "ES": 4, "DE": 5, "CH": 6, "GB": 7, "IE": 8, "US": 11}
_TP_WRITABLE = frozenset(
    _words(
        "name name_alias email phone url address zip town country_code client fournisseur "
        "note_private note_public code_client tva_intra idprof1 idprof2"
    )
)
_KNOWN_RESOURCES = frozenset(
    _words("thirdparties categories contacts proposals invoices agendaevents setup status webhook")
)


class HttpError(Exception):
    """Raised inside a route handler: becomes a Dolibarr/Restler error body."""

    def __init__(
        self,
        status: int,
        text: str = "",
        source: str = "api.class.php:0",
        stage: str = "call",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {text}")
        self.status, self.text, self.source, self.stage = status, text, source, stage
        self.extra = dict(extra or {})


@dataclass
class ThirdPartyRow:
    id: int
    fields: dict[str, Any]
    datec: int
    tms: int
    ef_tms: int | None = None  # None: no llx_societe_extrafields row yet
    extras: dict[str, Any] = field(default_factory=dict)  # names WITHOUT `options_`


@dataclass
class CategoryRow:
    id: int
    label: str
    type: str = "customer"
    description: str = ""
    color: str = ""
    datec: int = 0


@dataclass
class ContactRow:
    id: int
    socid: int | None
    firstname: str
    lastname: str
    email: str
    poste: str
    datec: int
    tms: int


@dataclass
class ProposalRow:
    id: int
    socid: int
    ref: str
    status: int
    total_ht: float
    datec: int
    tms: int


@dataclass
class InvoiceRow:
    id: int
    socid: int
    ref: str
    total_ht: float
    currency: str
    status: int  # 0 draft, 1 validated, 2 closed, 3 abandoned
    paye: bool
    totalpaid: float
    date: int
    datec: int
    tms: int
    payments: list[dict[str, str]] = field(default_factory=list)


@dataclass
class EventRow:
    id: int
    socid: int | None
    type_code: str
    code: str
    label: str
    note_private: str
    datep: int
    datec: int
    tms: int


@dataclass(frozen=True)
class Request(BaseRequest):
    def json(self) -> Json:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            # thirdparty_put_invalid_json.json
            raise HttpError(
                400, "Error encoding/decoding JSON: Syntax error", "JsonFormat.php:154", "route"
            ) from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise HttpError(400, "Error encoding/decoding JSON: Syntax error", "JsonFormat.php:154")
        return data


@dataclass(frozen=True)
class ListSpec:
    resource: str  # as named in Dolibarr's "Error when retrieve <resource>" messages
    kinds: Mapping[str, sf.Kind]
    resolver: Callable[[Any], sf.Resolver]
    render: Callable[[Any], dict[str, Any]]
    default_sort: str
    empty_404: str | None = None


Handler = Callable[[Request, "re.Match[str]"], Response]


class FakeDolibarr(FakeBase):
    """The fake server: state, seeding helpers, faults, and `handle()`."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        timezone: str = "Europe/Paris",
        now: float = DEFAULT_NOW,
        version: str = "23.0.0-beta",
        production_mode: bool = False,
        extrafields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.json_headers = _JSON_HEADERS
        self.now = now
        self.timezone = timezone
        self.version = version
        self.production_mode = production_mode
        self.extrafields: dict[str, str] = dict(
            SYNCD_EXTRAFIELDS if extrafields is None else extrafields
        )
        self.api_keys: dict[str, bool] = {}  # key → has rights
        self.api_key = api_key
        self.conf: dict[str, str] = {
            "MAIN_LANG_DEFAULT": "en_US",
            "MAIN_INFO_SOCIETE_NOM": "Lab Company SAS",
            "MAIN_MONNAIE": "EUR",
        }
        self.thirdparties: dict[int, ThirdPartyRow] = {}
        self.categories: dict[int, CategoryRow] = {}
        self.members: dict[int, set[int]] = {}  # category id → third-party ids
        self.contacts: dict[int, ContactRow] = {}
        self.proposals: dict[int, ProposalRow] = {}
        self.invoices: dict[int, InvoiceRow] = {}
        self.events: dict[int, EventRow] = {}
        self.auth_failures = 0
        self._next_ids: dict[str, int] = {}
        self._routes = self._route_table()

    # ------------------------------------------------------------------ clock, keys, log
    @property
    def api_key(self) -> str:
        return self._api_key

    @api_key.setter
    def api_key(self, key: str) -> None:
        self._api_key = key
        self.api_keys[key] = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def add_api_key(self, key: str, *, rights: bool = True) -> None:
        """Register another key; `rights=False` is a user without permissions (→ 403)."""
        self.api_keys[key] = rights

    def _stamp(self) -> int:
        return int(self.now)

    def _new_id(self, kind: str, explicit: int | None = None) -> int:
        new = explicit if explicit is not None else self._next_ids.get(kind, 1)
        self._next_ids[kind] = max(self._next_ids.get(kind, 1), new + 1)
        return new

    def _norm_path(self, path: str) -> str:
        return _norm_path(path)

    def _fault_body(self, status: int) -> bytes:
        return _error_body(status, "", None, "", self.production_mode)

    def _dispatch(self, base: BaseRequest) -> Response:
        req = Request(base.method, base.path, base.query, base.headers, base.body)
        resource = req.path.strip("/").split("/", 1)[0]
        if resource not in _KNOWN_RESOURCES:
            # unknown_api_resource_501.json: plain text, not JSON
            return 501, dict(_HTML_HEADERS), b"API not found (failed to include API file)"
        try:
            self._authenticate(req)
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(req.path)
                if match and method == req.method:
                    return handler(req, match)
            raise HttpError(404, "", "Routes.php:436", "route")
        except HttpError as err:
            body = _error_body(err.status, err.text, err, err.source, self.production_mode)
            return err.status, dict(_JSON_HEADERS), body

    def _authenticate(self, req: Request) -> None:
        bearer = req.headers.get("authorization", "")
        key = (
            req.headers.get("dolapikey")
            or req.query.get("DOLAPIKEY")
            or req.query.get("api_key")
            or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        )
        if not key:  # auth_missing_key.json
            raise HttpError(401, _MISSING_KEY, "api_access.class.php:317", "authenticate")
        if key not in self.api_keys:  # auth_bad_key.json (the real server also sleeps ~1 s)
            self.auth_failures += 1
            raise HttpError(401, _BAD_KEY, "api_access.class.php:242", "authenticate")
        if not self.api_keys[key] and req.path != "/status":  # auth_no_permission_403.json
            raise HttpError(403, "", "api_thirdparties.class.php:155")

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        num, seg = r"(?P<id>[^/]+)", r"(?P<sub>[^/]+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/status", self._get_status),
            ("GET", "/thirdparties", self._list_thirdparties),
            ("POST", "/thirdparties", self._post_thirdparty),
            ("GET", "/thirdparties/email/(?P<email>.+)", self._get_thirdparty_by_email),
            ("GET", f"/thirdparties/{num}", self._get_thirdparty),
            ("PUT", f"/thirdparties/{num}", self._put_thirdparty),
            ("DELETE", f"/thirdparties/{num}", self._delete_thirdparty),
            ("GET", f"/thirdparties/{num}/categories", self._get_thirdparty_categories),
            ("PUT", f"/thirdparties/{num}/categories/{seg}", self._put_thirdparty_category),
            ("DELETE", f"/thirdparties/{num}/categories/{seg}", self._delete_thirdparty_category),
            ("GET", "/categories", self._list_categories),
            ("POST", "/categories", self._post_category),
            ("GET", f"/categories/object/customer/{num}", self._get_object_categories),
            ("GET", f"/categories/{num}", self._get_category),
            ("GET", f"/categories/{num}/objects", self._get_category_objects),
            ("POST", f"/categories/{num}/objects/{seg}/(?P<oid>[^/]+)", self._link_object),
            ("DELETE", f"/categories/{num}/objects/{seg}/(?P<oid>[^/]+)", self._unlink_object),
            ("GET", "/contacts", self._list_contacts),
            ("POST", "/contacts", self._post_contact),
            ("GET", f"/contacts/{num}", self._get_contact),
            ("GET", "/proposals", self._list_proposals),
            ("GET", f"/proposals/{num}", self._get_proposal),
            ("GET", "/invoices", self._list_invoices),
            ("GET", f"/invoices/{num}", self._get_invoice),
            ("POST", f"/invoices/{num}/settopaid", self._set_invoice_paid),
            ("POST", f"/invoices/{num}/payments", self._post_invoice_payment),
            ("GET", f"/invoices/{num}/payments", self._get_invoice_payments),
            ("GET", "/agendaevents", self._list_events),
            ("POST", "/agendaevents", self._post_event),
            ("GET", f"/agendaevents/{num}", self._get_event),
            ("GET", "/setup/conf", self._get_conf_all),
            ("GET", "/setup/conf/(?P<name>[^/]+)", self._get_conf),
            ("GET", "/setup/extrafields", self._list_extrafields),
            ("POST", "/setup/extrafields/societe/(?P<name>[^/]+)", self._post_extrafield),
            ("GET", "/webhook(?:/.*)?", self._webhook_forbidden),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ------------------------------------------------------------------ generic list
    def _list(self, req: Request, rows: Iterable[Any], spec: ListSpec) -> Response:
        q = req.query
        node = self._parse_filter(q.get("sqlfilters"), spec)
        order = self._sort_columns(q.get("sortfield") or spec.default_sort, spec)
        ctx = sf.Context(self.tz, self.now, spec.kinds)
        selected = [r for r in rows if node is None or sf.evaluate(node, spec.resolver(r), ctx)]
        descending = (q.get("sortorder") or "ASC").upper() == "DESC"
        for col in reversed(order):
            selected.sort(key=_column_key(spec, col), reverse=descending)
        limit, page = _int_param(q, "limit", 100), _int_param(q, "page", 0)
        total = len(selected)
        shown = selected[page * limit : (page + 1) * limit] if limit > 0 else selected
        if not shown and spec.empty_404:  # thirdparties_list_empty.json / …page_past_end.json
            raise HttpError(404, spec.empty_404, "api_thirdparties.class.php:270")
        wants_envelope = q.get("pagination_data", "").lower() in ("true", "1")
        if wants_envelope and limit == 0:  # thirdparties_list_limit0_pagination_data.json
            return 500, dict(_HTML_HEADERS), b""
        props = _props(q)
        out: Json = [_trim(spec.render(r), props) for r in shown]
        if wants_envelope:  # thirdparties_list_pagination_data.json
            count = math.ceil(total / limit)
            pagination = {"total": total, "page": page, "page_count": count, "limit": limit}
            out = {"data": out, "pagination": pagination}
        return _ok(out)

    def _parse_filter(self, text: str | None, spec: ListSpec) -> sf.Node | None:
        if not text:
            return None
        src = f"api_{spec.resource}.class.php:250"
        try:
            node = sf.parse(text)
            sf.validate(node, spec.kinds)
        except sf.SqlFilterSyntaxError as err:  # sqlfilters_malformed_*.json
            raise HttpError(
                400, f"Error when validating parameter sqlfilters -> {err}", src
            ) from None
        except sf.UnknownColumnError as err:  # sqlfilters_malformed_unknown_column.json
            raise HttpError(503, _sql_error(spec, err.column, "WHERE"), src) from None
        return node

    def _sort_columns(self, sortfield: str, spec: ListSpec) -> list[str]:
        # thirdparties_list_sort_injection_attempt.json: non-identifier chars are stripped
        cleaned = re.sub(r"[^A-Za-z0-9_.,]", "", sortfield)
        cols = [c.strip() for c in cleaned.split(",") if c.strip()]
        for col in cols:
            if col.lower() not in spec.kinds:  # thirdparties_list_sort_invalid.json
                src = f"api_{spec.resource}.class.php:250"
                raise HttpError(503, _sql_error(spec, col, "ORDER BY"), src)
        return [c.lower() for c in cols]

    # ------------------------------------------------------------------ third parties
    def _tp_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {
            "t.rowid": "int",
            "t.tms": "datetime",
            "t.datec": "datetime",
            "t.nom": "str",
            "t.name_alias": "str",
            "t.email": "str",
            "t.client": "int",
            "t.fournisseur": "int",
            "t.status": "int",
            "t.town": "str",
            "t.code_client": "str",
            "t.fk_pays": "int",
            "ef.tms": "datetime",
            "ef.fk_object": "int",
        }
        kinds |= {f"ef.{name}": _ef_kind(kind) for name, kind in self.extrafields.items()}
        return ListSpec(
            "thirdparties",
            kinds,
            self._tp_resolver,
            functools.partial(self._tp_body, view="list"),
            "t.rowid",
            "No third parties found",
        )

    def _tp_resolver(self, tp: ThirdPartyRow) -> sf.Resolver:
        def resolve(col: str) -> sf.Scalar:
            if col.startswith("ef."):
                return self._tp_ef_value(tp, col[3:])
            mapping: dict[str, sf.Scalar] = {
                "t.rowid": tp.id,
                "t.tms": tp.tms,
                "t.datec": tp.datec,
                "t.nom": tp.fields.get("name"),
                "t.status": 1,
                "t.fk_pays": _COUNTRY_IDS.get(str(tp.fields.get("country_code") or "")),
            }
            return mapping[col] if col in mapping else tp.fields.get(col[2:])

        return resolve

    def _tp_ef_value(self, tp: ThirdPartyRow, name: str) -> sf.Scalar:
        if tp.ef_tms is None:
            return None  # LEFT JOIN with no extrafields row
        if name in ("tms", "fk_object"):
            return tp.ef_tms if name == "tms" else tp.id
        value = tp.extras.get(name)
        if isinstance(value, date):
            return sf.local_midnight(value, self.tz)
        return value if value is None or isinstance(value, int | float | str) else str(value)

    def _list_thirdparties(self, req: Request, _m: re.Match[str]) -> Response:
        mode = _int_param(req.query, "mode", 0)
        category = _int_param(req.query, "category", 0)
        rows = list(self.thirdparties.values())
        if mode in (1, 2):  # thirdparties_list_mode1_customers.json / …mode2_prospects.json
            rows = [r for r in rows if int(r.fields.get("client") or 0) in (mode, 3)]
        elif mode == 3:
            rows = [r for r in rows if int(r.fields.get("fournisseur") or 0) == 1]
        if category:
            # thirdparties_list_by_category.json: category needs mode 1 or 2, else 404
            members = self.members.get(category, set()) if mode in (1, 2) else set()
            rows = [r for r in rows if r.id in members]
        return self._list(req, rows, self._tp_spec())

    def _tp_or_404(
        self, raw: str, source: str = "api_thirdparties.class.php:2611"
    ) -> ThirdPartyRow:
        tp = self.thirdparties.get(_parse_id(raw))
        if tp is None:  # thirdparty_get_404.json / thirdparty_get_404_deleted.json
            raise HttpError(404, "Thirdparty not found", source)
        return tp

    def _get_thirdparty(self, _req: Request, m: re.Match[str]) -> Response:
        return _ok(self._tp_body(self._tp_or_404(m["id"])))

    def _get_thirdparty_by_email(self, _req: Request, m: re.Match[str]) -> Response:
        wanted = m["email"].casefold()  # thirdparty_by_email.json
        for tp in self.thirdparties.values():
            if str(tp.fields.get("email") or "").casefold() == wanted:
                return _ok(self._tp_body(tp))
        raise HttpError(404, "Thirdparty not found", "api_thirdparties.class.php:2611")

    def _post_thirdparty(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()
        if not data.get("name"):  # thirdparty_create_missing_name.json
            raise HttpError(400, "name field missing", "api_thirdparties.class.php:2569")
        options = data.get("array_options") or {}
        # thirdparty_create.json: on create, only `options_`-prefixed keys are taken
        extras = {k[8:]: v for k, v in options.items() if k.startswith("options_")}
        fields = {k: v for k, v in data.items() if k in _TP_WRITABLE}
        return _ok(self._create_thirdparty(fields, extras if options else None))

    def _create_thirdparty(
        self, fields: Mapping[str, Any], extras: Mapping[str, Any] | None, *, id: int | None = None
    ) -> int:
        stamp = self._stamp()
        defaults: dict[str, Any] = {"client": 0, "fournisseur": 0, "email": "", "country_code": ""}
        tp = ThirdPartyRow(self._new_id("thirdparty", id), {}, stamp, stamp)
        tp.fields = defaults | {k: _normalise_std(k, v) for k, v in fields.items()}
        if extras is not None:
            tp.extras = self._convert_extras(extras)
            tp.ef_tms = stamp
        self.thirdparties[tp.id] = tp
        return tp.id

    def _put_thirdparty(self, req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"], "api_thirdparties.class.php:375")  # thirdparty_put_404.json
        data = req.json_object()
        self._update(tp, data, data.get("array_options"))
        # thirdparty_put_partial_extrafield.json: returns the refetched object
        return _ok(self._tp_body(tp, "put"))

    def _update(self, tp: ThirdPartyRow, fields: Mapping[str, Any], options: Any) -> None:
        """A partial update: bump `tms` / `ef_tms` only for what really changed."""
        new_extras = self._convert_extras(options) if isinstance(options, dict) else {}
        std = {k: _normalise_std(k, v) for k, v in fields.items() if k in _TP_WRITABLE}
        if any(tp.fields.get(k) != v for k, v in std.items()):  # thirdparty_put_fields.json
            tp.fields.update(std)
            tp.tms = self._stamp()
        merged = tp.extras | new_extras
        if isinstance(options, dict) and (tp.ef_tms is None or merged != tp.extras):
            # sqlfilters_tms_only_misses_extrafield_change.json: only the ef row moves;
            # thirdparty_put_noop.json: identical values move nothing
            tp.extras = merged
            tp.ef_tms = self._stamp()

    def _convert_extras(self, options: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in options.items():
            name = key[8:] if key.startswith("options_") else key  # …_no_prefix.json
            if name in self.extrafields:
                out[name] = _ef_in(self.extrafields[name], value, self.tz)
        return out

    def _delete_thirdparty(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"], "api_thirdparties.class.php:560")
        self._remove_thirdparty(tp.id)
        return _ok(
            {"success": {"code": 200, "message": "Object deleted"}}
        )  # thirdparty_delete.json

    def _remove_thirdparty(self, socid: int) -> None:
        del self.thirdparties[socid]
        for members in self.members.values():
            members.discard(socid)

    def _tp_body(
        self, tp: ThirdPartyRow, view: Literal["get", "list", "put"] = "get"
    ) -> dict[str, Any]:
        """thirdparty_get_customer_full.json / thirdparty_get_prospect_full.json.

        Lists carry no discount totals (thirdparties_list_page0.json); a PUT answer adds
        `socid`/`trackid` and lacks `actiontypecode` (thirdparty_put_fields.json).
        """
        body: dict[str, Any] = dict.fromkeys(_TP_NULLS) | copy.deepcopy(_TP_DEFAULTS)
        f = tp.fields
        body |= {k: f.get(k) for k in _TP_WRITABLE}
        country = str(f.get("country_code") or "")
        body |= {
            "id": str(tp.id),
            "ref": f.get("name"),
            "client": str(int(f.get("client") or 0)),
            "fournisseur": str(int(f.get("fournisseur") or 0)),
            "country_code": country,
            "country_id": str(_COUNTRY_IDS[country]) if country in _COUNTRY_IDS else None,
            "status": "1",
            "name_alias": f.get("name_alias") or "",
            "address": f.get("address") or "",
            "array_options": self._ef_out(tp),
            "date_creation": tp.datec,
            "date_modification": self._tp_modified(tp),
        }
        if view == "list":
            del body["absolute_discount"], body["absolute_creditnote"]
        elif view == "put":
            del body["actiontypecode"]
            body |= {"socid": str(tp.id), "trackid": f"thi{tp.id}"}
        return body

    def _tp_modified(self, tp: ThirdPartyRow) -> int | str:
        if self.version.startswith("22"):
            return tp.tms  # v22/thirdparty_get_no_extrafields_row.json: s.tms alone
        if tp.ef_tms is None:
            return ""  # thirdparty_get_no_extrafields_row.json: GREATEST(tms, NULL)
        return max(tp.tms, tp.ef_tms)

    def _ef_out(self, tp: ThirdPartyRow) -> dict[str, Any] | list[Any]:
        if not self.extrafields:
            return []  # QUIRKS "Shapes": a list when no extrafield is defined
        if tp.ef_tms is None:
            return {f"options_{name}": None for name in self.extrafields}
        return {
            f"options_{name}": _ef_out(kind, tp.extras.get(name), self.tz)
            for name, kind in self.extrafields.items()
        }

    # ------------------------------------------------------------------ categories
    def _cat_or_404(self, raw: str, source: str = "api_categories.class.php:87") -> CategoryRow:
        cat = self.categories.get(_parse_id(raw))
        if cat is None:  # category_get_404.json / thirdparty_add_category_404_category.json
            raise HttpError(404, "category not found", source)
        return cat

    def _cat_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {"t.rowid": "int", "t.label": "str", "t.type": "int"}
        return ListSpec("categories", kinds, _cat_resolver, self._cat_body, "t.rowid")

    def _cat_body(self, cat: CategoryRow) -> dict[str, Any]:
        """category_get.json / categories_list_customer.json."""
        body: dict[str, Any] = dict.fromkeys(_CAT_NULLS) | copy.deepcopy(_CAT_DEFAULTS)
        body |= {
            "id": str(cat.id),
            "label": cat.label,
            "description": cat.description,
            "color": cat.color,
            "date_creation": cat.datec,
            "date_modification": cat.datec,
        }
        return body

    @staticmethod
    def _cat_short(cat: CategoryRow) -> dict[str, Any]:
        """thirdparty_get_categories.json / categories_for_object.json."""
        return {
            "id": str(cat.id),
            "fk_parent": 0,
            "label": cat.label,
            "description": cat.description,
            "color": cat.color,
            "position": "0",
            "socid": 0,
            "ref_ext": None,
            "visible": 0,
            "type": "2",
            "entity": 1,
            "array_options": [],
        }

    def _list_categories(self, req: Request, _m: re.Match[str]) -> Response:
        wanted = req.query.get("type", "customer")
        rows = [c for c in self.categories.values() if c.type == wanted]
        return self._list(req, rows, self._cat_spec())  # categories_list_empty.json: 200 []

    def _post_category(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()  # category_create.json: returns the bare id
        if not data.get("label"):
            raise HttpError(400, "label field missing", "api_categories.class.php:300")
        kind = str(data.get("type", "customer"))
        return _ok(
            self._create_category(
                str(data["label"]),
                kind="customer" if kind in ("2", "customer") else kind,
                description=str(data.get("description") or ""),
                color=str(data.get("color") or ""),
            )
        )

    def _create_category(
        self,
        label: str,
        *,
        kind: str = "customer",
        description: str = "",
        color: str = "",
        id: int | None = None,
    ) -> int:
        cat = CategoryRow(
            self._new_id("category", id), label, kind, description, color, self._stamp()
        )
        self.categories[cat.id] = cat
        self.members.setdefault(cat.id, set())
        return cat.id

    def _get_category(self, _req: Request, m: re.Match[str]) -> Response:
        return _ok(self._cat_body(self._cat_or_404(m["id"])))

    def _get_category_objects(self, req: Request, m: re.Match[str]) -> Response:
        cat = self._cat_or_404(m["id"])
        if req.query.get("type") != "customer":
            return _ok([])  # category_objects_empty.json
        ids = sorted(self.members.get(cat.id, set()) & self.thirdparties.keys())
        if req.query.get("onlyids") in ("1", "true"):
            return _ok([str(i) for i in ids])  # category_objects_customer_onlyids.json
        return _ok([self._tp_body(self.thirdparties[i], "list") for i in ids])

    def _link_object(self, req: Request, m: re.Match[str]) -> Response:
        cat, tp = self._link_target(m)
        self.members[cat.id].add(tp.id)  # category_link_object(_duplicate).json; tms untouched
        msg = "Objects successfully linked to the category"
        return _ok({"success": {"code": 200, "message": msg}})

    def _unlink_object(self, req: Request, m: re.Match[str]) -> Response:
        cat, tp = self._link_target(m)
        self.members[cat.id].discard(tp.id)  # category_unlink_object.json
        msg = "Objects successfully unlinked from the category"
        return _ok({"success": {"code": 200, "message": msg}})

    def _link_target(self, m: re.Match[str]) -> tuple[CategoryRow, ThirdPartyRow]:
        cat = self._cat_or_404(m["id"])
        if m["sub"] != "customer":
            raise HttpError(400, "Only customer type is supported by this fake")
        return cat, self._tp_or_404(m["oid"])

    def _get_thirdparty_categories(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        return _ok([self._cat_short(c) for c in self._categories_of(tp.id)])

    def _get_object_categories(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        return _ok([self._cat_short(c) for c in self._categories_of(tp.id)])

    def _categories_of(self, socid: int) -> list[CategoryRow]:
        return [c for cid, c in sorted(self.categories.items()) if socid in self.members[cid]]

    def _put_thirdparty_category(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        cat = self._cat_or_404(m["sub"], "api_thirdparties.class.php:718")
        self.members[cat.id].add(tp.id)  # thirdparty_add_category.json: tms untouched
        return _ok(self._tp_body(tp, "list"))

    def _delete_thirdparty_category(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        cat = self._cat_or_404(m["sub"], "api_thirdparties.class.php:760")
        self.members[cat.id].discard(tp.id)  # thirdparty_remove_category.json
        return _ok(self._tp_body(tp, "list"))

    # ------------------------------------------------------------------ contacts
    def _contact_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {
            "t.rowid": "int",
            "t.tms": "datetime",
            "t.datec": "datetime",
            "t.fk_soc": "int",
            "t.email": "str",
            "t.lastname": "str",
            "t.firstname": "str",
        }
        return ListSpec("contacts", kinds, _contact_resolver, self._contact_body, "t.rowid")

    def _contact_body(self, c: ContactRow) -> dict[str, Any]:
        """contact_get.json (date_modification "" in 23: no extrafields row)."""
        body: dict[str, Any] = dict.fromkeys(_CONTACT_NULLS) | copy.deepcopy(_CONTACT_DEFAULTS)
        soc = self.thirdparties.get(c.socid) if c.socid else None
        body |= {
            "id": str(c.id),
            "ref": str(c.id),
            "statut": "1",
            "status": "1",
            "lastname": c.lastname,
            "firstname": c.firstname,
            "email": c.email,
            "mail": c.email,
            "poste": c.poste,
            "socid": str(c.socid) if c.socid else None,
            "fk_soc": str(c.socid) if c.socid else None,
            "socname": soc.fields.get("name") if soc else None,
            "date_creation": c.datec,
            "date_modification": c.tms if self.version.startswith("22") else "",
        }
        return body

    def _list_contacts(self, req: Request, _m: re.Match[str]) -> Response:
        rows = _by_socids(self.contacts.values(), req.query.get("thirdparty_ids"))
        return self._list(req, rows, self._contact_spec())  # contacts_list_empty.json: 200 []

    def _get_contact(self, _req: Request, m: re.Match[str]) -> Response:
        contact = self.contacts.get(_parse_id(m["id"]))
        if contact is None:
            raise HttpError(404, "Contact not found", "api_contacts.class.php:120")
        return _ok(self._contact_body(contact))

    def _post_contact(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()  # contact_create.json: bare id
        if not data.get("lastname"):
            raise HttpError(400, "lastname field missing", "api_contacts.class.php:700")
        socid = int(data["socid"]) if data.get("socid") else None
        return _ok(
            self._create_contact(
                socid,
                str(data.get("firstname") or ""),
                str(data["lastname"]),
                str(data.get("email") or ""),
                poste=str(data.get("poste") or ""),
            )
        )

    def _create_contact(
        self,
        socid: int | None,
        firstname: str,
        lastname: str,
        email: str,
        *,
        poste: str = "",
        id: int | None = None,
    ) -> int:
        stamp = self._stamp()  # tms_experiment_thirdparty.json: never bumps the third party
        row = ContactRow(
            self._new_id("contact", id), socid, firstname, lastname, email, poste, stamp, stamp
        )
        self.contacts[row.id] = row
        return row.id

    # ------------------------------------------------------------------ proposals
    def _proposal_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {
            "t.rowid": "int",
            "t.tms": "datetime",
            "t.datec": "datetime",
            "t.fk_soc": "int",
            "t.ref": "str",
            "t.fk_statut": "int",
        }
        return ListSpec("proposals", kinds, _proposal_resolver, self._proposal_body, "t.rowid")

    def _proposal_body(self, p: ProposalRow) -> dict[str, Any]:
        """proposal_get.json: statut/status are ints here."""
        body: dict[str, Any] = dict.fromkeys(_PROPAL_NULLS) | copy.deepcopy(_PROPAL_DEFAULTS)
        body |= _amounts(p.total_ht, "EUR") | {
            "id": str(p.id),
            "ref": p.ref,
            "statut": p.status,
            "status": p.status,
            "socid": str(p.socid),
            "date_creation": p.datec,
            "datec": p.datec,
            "date": p.datec,
            "datep": p.datec,
            "datev": p.datec,
            "date_signature": p.datec if p.status == 2 else None,
            "fin_validite": p.datec + 15 * 86400,
            "total": f"{p.total_ht * 1.2:.8f}",
            "date_modification": p.tms,
            "lines": [],
        }
        return body

    def _list_proposals(self, req: Request, _m: re.Match[str]) -> Response:
        rows = _by_socids(self.proposals.values(), req.query.get("thirdparty_ids"))
        return self._list(req, rows, self._proposal_spec())  # proposals_list_empty.json

    def _get_proposal(self, _req: Request, m: re.Match[str]) -> Response:
        proposal = self.proposals.get(_parse_id(m["id"]))
        if proposal is None:
            raise HttpError(404, "Commercial Proposal not found", "api_proposals.class.php:150")
        return _ok(self._proposal_body(proposal))

    # ------------------------------------------------------------------ invoices
    def _invoice_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {
            "t.rowid": "int",
            "t.tms": "datetime",
            "t.datec": "datetime",
            "t.datef": "datetime",
            "t.fk_soc": "int",
            "t.ref": "str",
            "t.paye": "int",
            "t.fk_statut": "int",
            "t.total_ht": "float",
        }
        return ListSpec("invoices", kinds, _invoice_resolver, self._invoice_body, "t.rowid")

    def _invoice_body(self, inv: InvoiceRow) -> dict[str, Any]:
        """invoice_get.json: paye/statut strings, amounts as "%.8f" strings, totalpaid a number."""
        body: dict[str, Any] = dict.fromkeys(_INVOICE_NULLS) | copy.deepcopy(_INVOICE_DEFAULTS)
        remain = round(inv.total_ht * 1.2, 8) - inv.totalpaid  # invoice_after_settopaid.json
        body |= _amounts(inv.total_ht, inv.currency) | {
            "id": str(inv.id),
            "ref": inv.ref,
            "statut": str(inv.status),
            "status": str(inv.status),
            "paye": "1" if inv.paye else "0",
            "socid": str(inv.socid),
            "date": inv.date,
            "date_lim_reglement": inv.date,
            "online_payment_url": None,
            "date_creation": inv.datec,
            "date_modification": inv.tms,
            "datem": inv.tms,
            "totalpaid": _num(inv.totalpaid),
            "remaintopay": _num_str(max(remain, 0.0)),
            "lines": [],
        }
        return body

    def _list_invoices(self, req: Request, _m: re.Match[str]) -> Response:
        rows = _by_socids(self.invoices.values(), req.query.get("thirdparty_ids"))
        wanted = {"draft": 0, "unpaid": 1, "paid": 2, "cancelled": 3}.get(
            req.query.get("status", "")
        )
        if wanted is not None:  # invoices_by_thirdparty_paid.json / …_unpaid.json
            rows = [r for r in rows if r.status == wanted]
        return self._list(req, rows, self._invoice_spec())  # invoices_list_empty.json

    def _invoice_or_404(self, raw: str) -> InvoiceRow:
        invoice = self.invoices.get(_parse_id(raw))
        if invoice is None:  # invoice_get_404.json
            raise HttpError(404, "Invoice not found", "api_invoices.class.php:149")
        return invoice

    def _get_invoice(self, req: Request, m: re.Match[str]) -> Response:
        # invoice_before_payment.json: a single invoice GET honours properties=
        return _ok(_trim(self._invoice_body(self._invoice_or_404(m["id"])), _props(req.query)))

    def _set_invoice_paid(self, _req: Request, m: re.Match[str]) -> Response:
        inv = self._invoice_or_404(m["id"])
        if inv.paye:  # invoice_settopaid_again.json
            return 304, dict(_JSON_HEADERS), b""
        inv.paye, inv.status, inv.tms = True, 2, self._stamp()  # invoice_settopaid.json
        body = self._invoice_body(inv)
        del body["actiontypecode"]
        return _ok(body | {"trackid": f"inv{inv.id}"})

    def _post_invoice_payment(self, req: Request, m: re.Match[str]) -> Response:
        inv = self._invoice_or_404(m["id"])  # invoice_add_payment.json: bare payment id
        data = req.json_object()
        close = str(data.get("closepaidinvoices", "")) == "yes"
        return _ok(self._record_payment(inv, str(data.get("num_payment") or ""), close))

    def _record_payment(self, inv: InvoiceRow, num: str, close: bool) -> int:
        pid = self._new_id("payment")
        amount = round(inv.total_ht * 1.2, 8) - inv.totalpaid
        local = datetime.fromtimestamp(self.now, self.tz)
        inv.payments.append(
            {
                "amount": f"{amount:.8f}",
                "type": "VIR",
                "typeline": "payment",
                "date": local.strftime("%Y-%m-%d %H:%M:%S"),
                "num": num,
                "ref": f"PAY{local:%y%m}-{pid:04d}",
                "ref_ext": "",
                "fk_bank_line": str(pid),
            }
        )
        inv.totalpaid += amount
        if close:  # invoice_after_payment.json: paye "1", statut "2"
            inv.paye, inv.status = True, 2
        inv.tms = self._stamp()
        return pid

    def _get_invoice_payments(self, _req: Request, m: re.Match[str]) -> Response:
        return _ok(list(self._invoice_or_404(m["id"]).payments))  # invoice_payments.json

    # ------------------------------------------------------------------ agenda events
    def _event_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {
            "t.id": "int",
            "t.fk_soc": "int",
            "t.label": "str",
            "t.code": "str",
            "t.datep": "datetime",
            "t.tms": "datetime",
            "t.datec": "datetime",
        }
        return ListSpec("agendaevents", kinds, _event_resolver, self._event_body, "t.id")

    def _event_body(self, e: EventRow) -> dict[str, Any]:
        """agendaevent_get.json."""
        body: dict[str, Any] = dict.fromkeys(_EVENT_NULLS) | copy.deepcopy(_EVENT_DEFAULTS)
        body |= {
            "id": str(e.id),
            "ref": str(e.id),
            "type_code": e.type_code,
            "code": e.code,
            "label": e.label,
            "note_private": e.note_private,
            "datec": e.datec,
            "datem": e.tms,
            "datep": e.datep,
            "datef": e.datep,
            "percentage": "-1",
            "socid": str(e.socid) if e.socid else None,
        }
        return body

    def _list_events(self, req: Request, _m: re.Match[str]) -> Response:
        # agendaevents_by_thirdparty_none.json: 200 [] when nothing matches
        return self._list(req, list(self.events.values()), self._event_spec())

    def _get_event(self, _req: Request, m: re.Match[str]) -> Response:
        event = self.events.get(_parse_id(m["id"]))
        if event is None:  # agendaevent_get_404.json
            raise HttpError(404, "Agenda Events not found", "api_agendaevents.class.php:88")
        return _ok(self._event_body(event))

    def _post_event(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()
        if not data.get("type_code"):  # agendaevent_create_missing_type.json
            raise HttpError(400, "type_code field missing", "api_agendaevents.class.php:398")
        if data["type_code"] not in AGENDA_TYPE_CODES:  # agendaevent_create_bad_type.json
            raise HttpError(
                500,
                "Error creating event",
                "api_agendaevents.class.php:265",
                extra={"0": "ErrorActionCommBadType"},
            )
        return _ok(  # agendaevent_create.json: bare id, custom `code` kept
            self._create_event(
                int(data["socid"]) if data.get("socid") else None,
                str(data["type_code"]),
                code=str(data.get("code") or data["type_code"]),
                label=str(data.get("label") or ""),
                note_private=str(data.get("note_private") or data.get("note") or ""),
                datep=int(data.get("datep") or self.now),
            )
        )

    def _create_event(
        self,
        socid: int | None,
        type_code: str,
        *,
        code: str,
        label: str,
        note_private: str = "",
        datep: int | None = None,
        id: int | None = None,
    ) -> int:
        stamp = self._stamp()
        event = EventRow(
            self._new_id("event", id),
            socid,
            type_code,
            code,
            label,
            note_private,
            stamp if datep is None else datep,
            stamp,
            stamp,
        )
        self.events[event.id] = event
        return event.id

    # ------------------------------------------------------------------ setup, status
    def _get_conf_all(self, _req: Request, _m: re.Match[str]) -> Response:
        return _ok(dict(self.conf))  # setup_conf_all_trimmed.json

    def _get_conf(self, _req: Request, m: re.Match[str]) -> Response:
        if m["name"] not in self.conf:  # setup_conf_unknown_400.json: 400, not 404
            msg = "Error Bad or unknown value for constantname"
            raise HttpError(400, msg, "api_setup.class.php:2780")
        return _ok(self.conf[m["name"]])  # setup_conf_get.json: a bare JSON string

    def _list_extrafields(self, req: Request, _m: re.Match[str]) -> Response:
        if req.query.get("elementtype", "societe") != "societe":
            return _ok({})
        defs = {
            name: {"id": str(i), "type": kind, "label": name, "elementtype": "societe"}
            for i, (name, kind) in enumerate(self.extrafields.items(), 1)
        }
        return _ok({"societe": defs})  # extrafields_list_societe.json

    def _post_extrafield(self, req: Request, m: re.Match[str]) -> Response:
        if m["name"] in self.extrafields:  # extrafield_create_duplicate_409.json
            msg = "Duplicate extrafield already found from attrname and elementtype"
            raise HttpError(409, msg, "api_setup.class.php:1633")
        self.extrafields[m["name"]] = str(req.json_object().get("type") or "varchar")
        return _ok(len(self.extrafields))  # extrafield_create_onboarding_step.json

    def _get_status(self, _req: Request, _m: re.Match[str]) -> Response:
        local = datetime.fromtimestamp(self.now, self.tz)
        return _ok(  # status.json
            {
                "success": {
                    "code": 200,
                    "dolibarr_version": self.version,
                    "access_locked": "0",
                    "environment": "production" if self.production_mode else "non-production",
                    "timestamp_now_utc": int(self.now),
                    "timestamp_php_tz": self.timezone,
                    "date_tz": local.strftime("%Y-%m-%d %H:%M:%S"),
                }
            }
        )

    def _webhook_forbidden(self, _req: Request, _m: re.Match[str]) -> Response:
        raise HttpError(403, "", "api_webhook.class.php:92")  # webhook_api_list_403.json

    # ------------------------------------------------------------------ seeding helpers
    def add_category(self, label: str, *, id: int | None = None) -> int:
        return self._create_category(label, id=id)

    def category_id(self, label: str) -> int:
        """The id of a customer category by label, created if missing."""
        for cat in self.categories.values():
            if cat.label == label and cat.type == "customer":
                return cat.id
        return self.add_category(label)

    def add_thirdparty(
        self,
        name: str,
        *,
        email: str = "",
        client: int = 2,
        country_code: str = "",
        array_options: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        created_at: float | datetime | None = None,
        id: int | None = None,
        **fields: Any,
    ) -> int:
        """Create a third party; with array_options (names with or without `options_`)
        it gets an extrafields row, without it has none (date_modification "")."""
        self._check_names(fields, _TP_WRITABLE)
        self._check_names(array_options or {}, self.extrafields)
        saved = self.now
        if created_at is not None:
            self.now = created_at.timestamp() if isinstance(created_at, datetime) else created_at
        try:
            std = {"name": name, "email": email, "client": client, "country_code": country_code}
            extras = {k.removeprefix("options_"): v for k, v in (array_options or {}).items()}
            socid = self._create_thirdparty(
                std | fields, extras if array_options is not None else None, id=id
            )
        finally:
            self.now = saved
        for label in tags:
            self.tag(socid, label)
        return socid

    def tag(self, socid: int, label: str) -> None:
        self._tp_or_404(str(socid))
        self.members[self.category_id(label)].add(socid)

    def untag(self, socid: int, label: str) -> None:
        self.members[self.category_id(label)].discard(socid)

    def set_fields(self, socid: int, **extrafields: Any) -> None:
        """As `PUT /thirdparties/{id}` with only array_options (moves only ef.tms)."""
        self._check_names(extrafields, self.extrafields)
        self._update(self._tp_or_404(str(socid)), {}, extrafields)

    @staticmethod
    def _check_names(given: Mapping[str, Any], known: Iterable[str]) -> None:
        unknown = {k.removeprefix("options_") for k in given} - set(known)
        if unknown:  # a seeding typo, which the real server would silently ignore
            raise KeyError(f"unknown field(s) for the fake: {sorted(unknown)}")

    def update_thirdparty(self, socid: int, **fields: Any) -> None:
        """As `PUT /thirdparties/{id}` with standard fields (and optional array_options)."""
        options = fields.pop("array_options", None)
        self._check_names(fields, _TP_WRITABLE)
        self._check_names(options or {}, self.extrafields)
        self._update(self._tp_or_404(str(socid)), fields, options)

    def delete_thirdparty(self, socid: int) -> None:
        self._remove_thirdparty(socid)

    def add_contact(
        self, socid: int | None, firstname: str, lastname: str, email: str, *, id: int | None = None
    ) -> int:
        return self._create_contact(socid, firstname, lastname, email, id=id)

    def add_proposal(self, socid: int, ref: str, status: int = 1, *, id: int | None = None) -> int:
        stamp = self._stamp()
        row = ProposalRow(self._new_id("proposal", id), socid, ref, status, 1000.0, stamp, stamp)
        self.proposals[row.id] = row
        return row.id

    def add_invoice(
        self,
        socid: int,
        ref: str,
        total_ht: float | str,
        currency: str = "EUR",
        paid: bool = False,
        *,
        id: int | None = None,
    ) -> int:
        stamp = self._stamp()
        inv = InvoiceRow(
            self._new_id("invoice", id),
            socid,
            ref,
            float(total_ht),
            currency,
            1,
            False,
            0.0,
            stamp,
            stamp,
            stamp,
        )
        self.invoices[inv.id] = inv
        if paid:
            self.pay_invoice(inv.id)
        return inv.id

    def pay_invoice(self, invoice_id: int) -> None:
        """Record a full payment and close the invoice (paye "1", statut "2")."""
        self._record_payment(self.invoices[invoice_id], f"FAKE-{invoice_id}", close=True)

    def add_event(
        self,
        socid: int | None,
        label: str,
        *,
        type_code: str = "AC_OTH_AUTO",
        code: str | None = None,
        datep: int | None = None,
        id: int | None = None,
    ) -> int:
        return self._create_event(
            socid, type_code, code=code or type_code, label=label, datep=datep, id=id
        )

    def set_conf(self, name: str, value: str) -> None:
        self.conf[name] = str(value)


# ---------------------------------------------------------------------- module helpers
_MISSING_KEY = (
    "Failed to login to API. Neither parameter 'HTTP_DOLAPIKEY' nor 'Authentication: Bearer' "
    "found on HTTP header (and no parameter DOLAPIKEY in URL)."
)
_BAD_KEY = (
    "Error user not valid (not found with api key or bad status or bad validity dates) "
    "(conf->entity=1)"
)


def _norm_path(path: str) -> str:
    path = path.split("?", 1)[0]
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    return "/" + path.strip("/")


def _ok(payload: Json) -> Response:
    return 200, dict(_JSON_HEADERS), json.dumps(payload).encode()


def _error_body(
    status: int, text: str, err: HttpError | None, source: str, production: bool
) -> bytes:
    """`{"error":{"code","message":"<Reason>: <text>"},"debug":{…}}` (auth_*.json, prodmode_*)."""
    reason = _REASONS.get(status, "Error")
    error: dict[str, Any] = {"code": status, "message": f"{reason}: {text}" if text else reason}
    if err is not None:
        error |= err.extra
    body: dict[str, Any] = {"error": error}
    if not production:
        success, failure = _STAGES[err.stage if err else "call"]
        stage = err.stage if err else "call"
        body["debug"] = {
            "source": f"{source or 'api.class.php:0'} at {stage} stage",
            "stages": {"success": success, "failure": failure},
        }
    return json.dumps(body).encode()


def _sql_error(spec: ListSpec, column: str, clause: str) -> str:
    return f"Error when retrieve {spec.resource} : Unknown column '{column}' in '{clause}'"


def _parse_id(raw: str) -> int:
    if not raw.isdigit():  # thirdparty_get_bad_id.json
        raise HttpError(400, "invalid value specified for `id`", "Routes.php:457", "route")
    return int(raw)


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise HttpError(400, f"invalid value specified for `{name}`", "Routes.php:457") from None


def _props(query: Mapping[str, str]) -> list[str]:
    return [p.strip() for p in (query.get("properties") or "").split(",") if p.strip()]


def _trim(obj: dict[str, Any], props: list[str]) -> dict[str, Any]:
    """properties=a,b trims keys, keeping the object's own key order."""
    return {k: v for k, v in obj.items() if k in props} if props else obj


def _column_key(spec: ListSpec, col: str) -> Callable[[Any], tuple[int, Any]]:
    return lambda row: _sort_key(spec.resolver(row)(col))


def _sort_key(value: sf.Scalar) -> tuple[int, Any]:
    if value is None:
        return (0, 0)  # NULLs first in ascending order, as in MariaDB
    return (1, value.casefold() if isinstance(value, str) else value)


def _by_socids(rows: Iterable[Any], raw: str | None) -> list[Any]:
    if not raw:
        return list(rows)
    wanted = {int(p) for p in str(raw).split(",") if p.strip().isdigit()}
    return [r for r in rows if r.socid in wanted]


def _normalise_std(name: str, value: Any) -> Any:
    if name in ("client", "fournisseur"):
        return int(value or 0)
    if name in ("note_private", "note_public") and isinstance(value, str):
        # thirdparty_put_note_public.json: <script> tags stripped, their text kept
        return re.sub(r"</?script[^>]*>", "", value, flags=re.IGNORECASE)
    return value


def _ef_kind(kind: str) -> sf.Kind:
    kinds: dict[str, sf.Kind] = {"date": "date", "int": "int", "link": "int", "boolean": "int"}
    return "float" if kind == "double" else kinds.get(kind, "str")


def _ef_in(kind: str, value: Any, tz: ZoneInfo) -> Any:
    """Store an incoming extrafield value as the database would (or fail like Dolibarr)."""
    if value is None or value == "":
        return None  # thirdparty_put_extrafield_null_clear.json / …_empty_string.json
    try:
        if kind == "date":
            return _to_date(value, tz)
        if kind == "boolean":
            # thirdparty_put_extrafield_bool_false.json: false is stored as NULL
            return None if value is False else int(value)
        if kind in ("int", "link"):
            return int(value)
        if kind == "double":
            return float(value)
    except (TypeError, ValueError):
        # thirdparty_put_extrafield_int_as_string_garbage.json: 500 with no detail
        raise HttpError(500, "", "api_thirdparties.class.php:407") from None
    return str(value)


def _to_date(value: Any, tz: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return value.astimezone(tz).date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        # thirdparty_put_extrafield_date_epoch.json: the server-local date of the epoch
        return datetime.fromtimestamp(value, tz).date()
    return date.fromisoformat(str(value)[:10])  # thirdparty_put_extrafield_date_string.json


def _ef_out(kind: str, value: Any, tz: ZoneInfo) -> Any:
    """thirdparty_get_call_passed_with_call_date.json: strings, local-midnight epochs, ""."""
    if kind == "date":
        return sf.local_midnight(value, tz) if value is not None else ""
    if value is None:
        return None
    if kind == "double":
        return f"{value:.8f}"  # "0.15000000"
    return str(value)


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _num_str(value: float) -> str:
    return str(_num(round(value, 8)))


def _amounts(total_ht: float, currency: str) -> dict[str, Any]:
    tva, ttc = round(total_ht * 0.2, 8), round(total_ht * 1.2, 8)
    return {
        "total_ht": f"{total_ht:.8f}",
        "total_tva": f"{tva:.8f}",
        "total_ttc": f"{ttc:.8f}",
        "multicurrency_code": currency,
        "multicurrency_total_ht": f"{total_ht:.8f}",
        "multicurrency_total_tva": f"{tva:.8f}",
        "multicurrency_total_ttc": f"{ttc:.8f}",
    }


def _cat_resolver(c: CategoryRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {"t.rowid": c.id, "t.label": c.label, "t.type": 2}
    return values.get


def _contact_resolver(c: ContactRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": c.id,
        "t.tms": c.tms,
        "t.datec": c.datec,
        "t.fk_soc": c.socid,
        "t.email": c.email,
        "t.lastname": c.lastname,
        "t.firstname": c.firstname,
    }
    return values.get


def _proposal_resolver(p: ProposalRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": p.id,
        "t.tms": p.tms,
        "t.datec": p.datec,
        "t.fk_soc": p.socid,
        "t.ref": p.ref,
        "t.fk_statut": p.status,
    }
    return values.get


def _invoice_resolver(i: InvoiceRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.rowid": i.id,
        "t.tms": i.tms,
        "t.datec": i.datec,
        "t.datef": i.date,
        "t.fk_soc": i.socid,
        "t.ref": i.ref,
        "t.paye": int(i.paye),
        "t.fk_statut": i.status,
        "t.total_ht": i.total_ht,
    }
    return values.get


def _event_resolver(e: EventRow) -> sf.Resolver:
    values: dict[str, sf.Scalar] = {
        "t.id": e.id,
        "t.fk_soc": e.socid,
        "t.label": e.label,
        "t.code": e.code,
        "t.datep": e.datep,
        "t.tms": e.tms,
        "t.datec": e.datec,
    }
    return values.get


# ---------------------------------------------------------------------- recorded body templates
# Keys that are null / constant in the recorded bodies; the dynamic keys are set by the renderers.
_COMMON_NULLS = _words("""
import_key array_languages contacts_ids contacts_ids_internal linkedObjectsIds
canvas fk_project contact_id user product origin_type origin_id ref_ext state_id region_id
barcode_type barcode_type_coder mode_reglement_id cond_reglement_id demand_reason_id
transport_mode_id shipping_method_id shipping_method multicurrency_tx multicurrency_total_ht
multicurrency_total_tva multicurrency_total_localtax1 multicurrency_total_localtax2
multicurrency_total_ttc last_main_doc actiontypecode civility_id civility_code date_validation
tms date_cloture user_validation_id user_closing_id fk_user_creat fk_user_modif totalpaid
totalpaid_multicurrency cond_reglement_supplier_id deposit_percent
retained_warranty_fk_cond_reglement warehouse_id""")
_TP_NULLS = _COMMON_NULLS + _words("""
statut lastname firstname prefixCustomerIsRequired phone_mobile
fax no_email skype twitter facebook linkedin barcode idprof7 idprof8 idprof9 idprof10
socialobject managers capital typent_code effectif_id forme_juridique_code
mode_reglement_supplier_id transport_mode_supplier_id user_modification user_creation
code_fournisseur code_compta_client accountancy_code_customer_general accountancy_code_customer
code_compta_fournisseur accountancy_code_supplier_general accountancy_code_supplier
code_compta_product stcomm_picto price_level outstanding_limit order_min_amount
supplier_order_min_amount parent default_lang ip webservices_url webservices_key logo logo_small
logo_mini logo_squarred logo_squarred_small logo_squarred_mini currency_code fk_warehouse
termsofsale bank_account code_compta label_incoterms location_incoterms""")
_TP_DEFAULTS: dict[str, Any] = {
    "module": "societe", "entity": "1", "fk_multicurrency": "0", "multicurrency_code": "",
    "model_pdf": "", "fk_account": "0", "user_creation_id": "1", "user_modification_id": "1",
    "specimen": 0, "extraparams": [], "SupplierCategories": [], "idprof1": "", "idprof2": "",
    "idprof3": "", "idprof4": "", "idprof5": "", "idprof6": "", "tva_assuj": "1", "tva_intra": "",
    "vat_reverse_charge": 0, "localtax1_assuj": "0", "localtax1_value": "0.0000",
    "localtax2_assuj": "0", "localtax2_value": "0.0000", "typent_id": "0", "effectif": "",
    "forme_juridique": "", "birth": "", "remise_percent": 0, "remise_supplier_percent": "0",
    "fk_prospectlevel": "", "prospect": 0, "stcomm_id": "0",
    "status_prospect_label": "Never contacted", "accountancy_code_sell": "",
    "accountancy_code_buy": "", "partnerships": [], "fk_incoterms": "0", "socialnetworks": [],
    "absolute_discount": "0", "absolute_creditnote": "0",
}  # fmt: skip
_CONTACT_NULLS = _COMMON_NULLS + _words("""module country_id fk_multicurrency multicurrency_code
model_pdf fk_account note_public note_private name birthday_alert civilite fullname code url
no_email photo default_lang ref_facturation ref_contrat ref_commande ref_propal user_id
user_login ip roles stcomm_picto""")
_CONTACT_DEFAULTS: dict[str, Any] = {
    "entity": "1", "array_options": [], "country_code": "", "civility_code": "",
    "user_creation_id": "1", "user_modification_id": "1", "specimen": 0, "extraparams": [],
    "civility": "", "name_alias": "", "address": "", "zip": "", "town": "", "socialnetworks": [],
    "phone_pro": "", "phone_perso": "", "phone_mobile": "", "fax": "", "priv": "0",
    "birthday": "", "cacheprospectstatus": [], "fk_prospectlevel": "", "stcomm_id": "0",
    "statut_commercial": "Never contacted",
}  # fmt: skip
_PROPAL_NULLS = _without(_COMMON_NULLS, "civility_id") + _words("""
module country_id country_code fk_account user_creation_id
user_modification_id contactid user_signature price tva cond_reglement_code cond_reglement_doc
mode_reglement_code fk_address address_type fk_availability availability_code availability
demand_reason_code demand_reason line label_incoterms""")
_PROPAL_DEFAULTS: dict[str, Any] = {
    "entity": "1", "array_options": [], "contacts_ids": [], "contacts_ids_internal": [],
    "linkedObjectsIds": [], "ref_ext": "", "demand_reason_id": "0", "fk_multicurrency": "0",
    "multicurrency_tx": "1.00000000", "model_pdf": "", "note_public": "", "note_private": "",
    "total_localtax1": "0.00000000", "total_localtax2": "0.00000000", "specimen": 0,
    "extraparams": [], "code": "", "ref_client": "", "ref_customer": "", "delivery_date": "",
    "user_author_id": "1", "availability_id": "0", "duree_validite": 15, "fk_incoterms": "0",
    "location_incoterms": "",
}  # fmt: skip
_INVOICE_NULLS = _without(_COMMON_NULLS, "barcode_type barcode_type_coder canvas")
_INVOICE_NULLS += _words("""
module country_id country_code model_pdf fk_account
note_public note_private name lastname firstname user_modification_id title subtype fk_soc
cond_reglement_label totaldeposits totalcreditnotes nbofopendirectdebitorcredittransfer
stripechargedone stripechargeerror payment_reference description ref_client
situation_cycle_ref close_code close_note postactionmessages label_incoterms delivery_date
ref_customer resteapayer module_source pos_source fk_fac_rec_source fk_facture_source line
fac_rec situation_counter availability_id source remise_percent ip date_closing""")
_INVOICE_DEFAULTS: dict[str, Any] = {
    "entity": "1", "array_options": [], "contacts_ids": [], "linkedObjectsIds": [],
    "mode_reglement_id": "2", "cond_reglement_id": "1", "fk_multicurrency": "0",
    "multicurrency_tx": "1.00000000", "total_localtax1": "0.00000000",
    "total_localtax2": "0.00000000", "user_creation_id": "1", "user_validation_id": "1",
    "specimen": 0, "extraparams": [], "retained_warranty_fk_cond_reglement": "0", "type": "0",
    "cond_reglement_code": "RECEP", "cond_reglement_doc": "Due upon receipt",
    "mode_reglement_code": "VIR", "revenuestamp": "0.00000000", "creditnote_ids": [],
    "dispute_status": "0", "fk_incoterms": "0", "location_incoterms": "", "fk_user_author": "1",
    "fk_user_valid": "1", "pos_print_counter": "0", "email_sent_counter": 0,
    "date_pointoftax": "", "situation_final": "0", "tab_previous_situation_invoice": [],
    "tab_next_situation_invoice": [], "retained_warranty": "0",
    "retained_warranty_date_limit": "",
}  # fmt: skip
_EVENT_NULLS = _words("""
module import_key array_languages contacts_ids contacts_ids_internal fk_project
product origin_type shipping_method fk_multicurrency multicurrency_code multicurrency_tx
multicurrency_total_ht multicurrency_total_tva multicurrency_total_localtax1
multicurrency_total_localtax2 multicurrency_total_ttc model_pdf last_main_doc note_public
actiontypecode civility_code date_creation date_validation date_modification tms date_cloture
user_creation_id user_validation_id user_closing_id user_modification_id fk_user_creat
fk_user_modif totalpaid totalpaid_multicurrency extraparams cond_reglement_supplier_id
deposit_percent retained_warranty_fk_cond_reglement warehouse_id type_color type_picto duree
usermodid date_start_in_calendar date_end_in_calendar datep2 ponctuel fk_task elementid
elementtype fk_bookcal_calendar icalname icalcolor email_msgid email_from email_reply_to
email_sender email_to email_tocc email_tobcc email_subject errors_to num_vote ip recurid
recurrule calling_duration""")
_EVENT_DEFAULTS: dict[str, Any] = {
    "entity": "1", "array_options": [], "linkedObjectsIds": [], "status": "0", "specimen": 0,
    "type_id": "40", "type": "systemauto", "type_label": "Other (automatically inserted events)",
    "authorid": "1", "durationp": -1, "fulldayevent": "0", "location": "", "transparency": "0",
    "priority": "0",
    "userassigned": {"1": {"id": "1", "mandatory": "0", "answer_status": "0", "transparency": "0"}},
    "userownerid": "1", "socpeopleassigned": [], "otherassigned": [], "reminders": [],
    "event_paid": "0", "recurdateend": "",
}  # fmt: skip
_CAT_NULLS = _words("""module import_key array_languages contacts_ids contacts_ids_internal
linkedObjectsIds product origin_type origin_id ref ref_ext status state_id region_id
demand_reason_id transport_mode_id shipping_method fk_multicurrency multicurrency_code
multicurrency_tx multicurrency_total_ht multicurrency_total_tva multicurrency_total_localtax1
multicurrency_total_localtax2 multicurrency_total_ttc model_pdf last_main_doc note_public
note_private actiontypecode civility_code date_validation tms date_cloture user_validation_id
user_closing_id fk_user_creat fk_user_modif totalpaid totalpaid_multicurrency
cond_reglement_supplier_id deposit_percent retained_warranty_fk_cond_reglement
warehouse_id""")
_CAT_DEFAULTS: dict[str, Any] = {
    "entity": 1, "array_options": [], "user_creation_id": 1, "user_modification_id": 0,
    "specimen": 0, "extraparams": [], "fk_parent": 0, "position": "0", "visible": 0,
    "type": "2", "childs": [], "multilangs": [],
    "MAP_ID": {
        "product": 0, "supplier": 1, "customer": 2, "member": 3, "contact": 4, "bank_account": 5,
        "project": 6, "user": 7, "bank_line": 8, "warehouse": 9, "actioncomm": 10,
        "website_page": 11, "ticket": 12, "knowledgemanagement": 13, "fichinter": 14,
        "order": 16, "invoice": 17, "supplier_order": 20, "supplier_invoice": 21,
        "supplier_proposal": 22, "propal": 23, "project_task": 24,
    },
}  # fmt: skip
