"""A stateful, in-memory fake of Dolibarr's REST API (23.0.0-beta, optionally 22.0.4).

Role: answer parsed requests exactly as the real server recorded in
tests/fixtures/dolibarr/ does (status, body shape, quirks listed in QUIRKS.md), keep the
state those requests change, and inject faults on demand. Adapters in `connectors.fakes.web`
put it behind `responses` or a loopback HTTP server.
This module holds `FakeDolibarr` (state, route table, auth, seeding helpers); the
handlers live in `dolibarr_thirdparties` and `dolibarr_records`, the shared state and
list logic in `dolibarr_base`, rows in `dolibarr_rows`, response bodies in
`dolibarr_bodies`.
It must never speak HTTP itself, import `requests`/`responses`, sleep, or read the real clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.fakes.base import Request as BaseRequest
from connectors.fakes.base import Response
from connectors.fakes.dolibarr_base import Handler, ListSpec, Request
from connectors.fakes.dolibarr_bodies import (
    BAD_KEY,
    HTML_HEADERS,
    JSON_HEADERS,
    MISSING_KEY,
    HttpError,
    Json,
    error_body,
)
from connectors.fakes.dolibarr_records import AGENDA_TYPE_CODES, RecordRoutes
from connectors.fakes.dolibarr_rows import (
    DROP,
    TP_WRITABLE,
    CategoryRow,
    ContactRow,
    EventRow,
    InvoiceRow,
    ProposalRow,
    ThirdPartyRow,
)
from connectors.fakes.dolibarr_thirdparties import ThirdPartyRoutes

__all__ = [
    "AGENDA_TYPE_CODES",
    "API_PREFIX",
    "DEFAULT_NOW",
    "DROP",
    "SYNCD_EXTRAFIELDS",
    "CategoryRow",
    "ContactRow",
    "EventRow",
    "FakeDolibarr",
    "Handler",
    "HttpError",
    "InvoiceRow",
    "Json",
    "ListSpec",
    "ProposalRow",
    "Request",
    "ThirdPartyRow",
]

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
    "marketing_opt_out": "boolean",
}
_KNOWN_RESOURCES = frozenset(
    [
        "thirdparties",
        "categories",
        "contacts",
        "proposals",
        "invoices",
        "agendaevents",
        "setup",
        "status",
        "webhook",
    ]
)


class FakeDolibarr(ThirdPartyRoutes, RecordRoutes):
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
        db_clock_offset: float = 0.0,
    ) -> None:
        super().__init__()
        self.json_headers = JSON_HEADERS
        self.now = now
        self.db_clock_offset = db_clock_offset
        self.timezone = timezone
        self.version = version
        self.production_mode = production_mode
        self.extrafields = dict(SYNCD_EXTRAFIELDS if extrafields is None else extrafields)
        self.api_keys = {}  # key → has rights
        self.api_key = api_key
        self.conf = {
            "MAIN_LANG_DEFAULT": "en_US",
            "MAIN_INFO_SOCIETE_NOM": "Lab Company SAS",
            "MAIN_MONNAIE": "EUR",
        }
        self.thirdparties = {}
        self.categories = {}
        self.members = {}  # category id → third-party ids
        self.contacts = {}
        self.proposals = {}
        self.invoices = {}
        self.events = {}
        self.auth_failures = 0
        self._next_ids = {}
        self._routes = self._route_table()

    # ------------------------------------------------------------------ clock, keys, log
    @property
    def api_key(self) -> str:
        return self._api_key

    @api_key.setter
    def api_key(self, key: str) -> None:
        self._api_key = key
        self.api_keys[key] = True

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def add_api_key(self, key: str, *, rights: bool = True) -> None:
        """Register another key; `rights=False` is a user without permissions (→ 403)."""
        self.api_keys[key] = rights

    def _norm_path(self, path: str) -> str:
        return _norm_path(path)

    def _fault_body(self, status: int) -> bytes:
        return error_body(status, "", None, "", self.production_mode)

    def _dispatch(self, base: BaseRequest) -> Response:
        req = Request(base.method, base.path, base.query, base.headers, base.body)
        resource = req.path.strip("/").split("/", 1)[0]
        if resource not in _KNOWN_RESOURCES:
            # unknown_api_resource_501.json: plain text, not JSON
            return 501, dict(HTML_HEADERS), b"API not found (failed to include API file)"
        try:
            self._authenticate(req)
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(req.path)
                if match and method == req.method:
                    return handler(req, match)
            raise HttpError(404, "", "Routes.php:436", "route")
        except HttpError as err:
            body = error_body(err.status, err.text, err, err.source, self.production_mode)
            return err.status, dict(JSON_HEADERS), body

    def _authenticate(self, req: Request) -> None:
        bearer = req.headers.get("authorization", "")
        key = (
            req.headers.get("dolapikey")
            or req.query.get("DOLAPIKEY")
            or req.query.get("api_key")
            or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        )
        if not key:  # auth_missing_key.json
            raise HttpError(401, MISSING_KEY, "api_access.class.php:317", "authenticate")
        if key not in self.api_keys:  # auth_bad_key.json (the real server also sleeps ~1 s)
            self.auth_failures += 1
            raise HttpError(401, BAD_KEY, "api_access.class.php:242", "authenticate")
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
            ("GET", "/setup/company", self._get_company),
            ("GET", "/setup/conf", self._get_conf_all),
            ("GET", "/setup/conf/(?P<name>[^/]+)", self._get_conf),
            ("GET", "/setup/extrafields", self._list_extrafields),
            ("POST", "/setup/extrafields/societe/(?P<name>[^/]+)", self._post_extrafield),
            ("GET", "/webhook(?:/.*)?", self._webhook_forbidden),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

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
        self._check_names(fields, TP_WRITABLE)
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

    def serve_raw(self, socid: int, **body: Any) -> None:
        """Serve these body values as given from now on, as a corrupted database would.

        For hostile-data tests: `date_creation="abc"`, `array_options={"options_x": …}`
        (merged), `email=DROP` (key left out). Moves `tms`, so polling sees it.
        """
        tp = self._tp_or_404(str(socid))
        tp.raw.update(body)
        tp.tms = self._tms()

    def update_thirdparty(self, socid: int, **fields: Any) -> None:
        """As `PUT /thirdparties/{id}` with standard fields (and optional array_options)."""
        options = fields.pop("array_options", None)
        self._check_names(fields, TP_WRITABLE)
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
        row = ProposalRow(
            self._new_id("proposal", id), socid, ref, status, 1000.0, stamp, self._tms()
        )
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
        type: int = 0,
        mc_tx: float = 1.0,
        source_id: int | None = None,
        id: int | None = None,
    ) -> int:
        """A validated invoice; `total_ht` in the company currency, `currency` its own
        (× `mc_tx`). A credit note (`type=2`) is stored negative, as Dolibarr does
        with the positive lines it is given (invoice_type_credit_note_create.json)."""
        stamp = self._stamp()
        amount = -abs(float(total_ht)) if type == 2 else float(total_ht)
        inv = InvoiceRow(
            self._new_id("invoice", id),
            socid,
            ref,
            amount,
            currency,
            1,
            False,
            0.0,
            stamp,
            stamp,
            self._tms(),
            type=type,
            mc_tx=mc_tx,
            source_id=source_id,
        )
        self.invoices[inv.id] = inv
        if paid:
            self.pay_invoice(inv.id)
        return inv.id

    def pay_invoice(self, invoice_id: int) -> None:
        """Record a full payment and close the invoice (paye "1", statut "2")."""
        self._record_payment(self.invoices[invoice_id], f"FAKE-{invoice_id}", close=True)

    def close_partially(
        self, invoice_id: int, paid_ttc: float, close_code: str = "discount_vat"
    ) -> None:
        """Pay part, then settopaid with a close_code: statut 2, paye stays "0"
        (invoice_type_short_paid_get.json)."""
        inv = self.invoices[invoice_id]
        inv.totalpaid, inv.status, inv.paye = paid_ttc, 2, False
        inv.close_code, inv.tms = close_code, self._stamp()

    def credit_available(self, invoice_id: int) -> None:
        """markAsCreditAvailable on a credit note: statut 2, paye "1", totalpaid 0
        (invoice_type_credit_note_converted_get.json)."""
        inv = self.invoices[invoice_id]
        inv.status, inv.paye, inv.tms = 2, True, self._stamp()

    def absorb_deposit(self, invoice_id: int, deposit_id: int) -> None:
        """usediscount on a draft final invoice: a (DEPOSIT) line of minus the deposit's
        total, so the invoice's own total drops by it (invoice_type_final_lines.json)."""
        inv, deposit = self.invoices[invoice_id], self.invoices[deposit_id]
        inv.deposit_lines.append(-deposit.total_ht)
        inv.total_ht -= deposit.total_ht
        inv.tms = self._stamp()

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


def _norm_path(path: str) -> str:
    path = path.split("?", 1)[0]
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    return "/" + path.strip("/")
