"""Route handlers of the fake Dolibarr for everything but third parties and categories.

Role: `RecordRoutes`, a mixin of `FakeDolibarr`: /contacts, /proposals, /invoices (with
payments and settopaid), /agendaevents, /setup (conf, extrafields), /status and the
forbidden /webhook. It changes only the state declared on `DolibarrBase`; it must never
speak HTTP, import `requests`/`responses`, sleep, or read the real clock.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from connectors.fakes import sqlfilters as sf
from connectors.fakes.base import Response
from connectors.fakes.dolibarr_base import (
    DolibarrBase,
    ListSpec,
    Request,
    by_socids,
    parse_id,
    requested_props,
    trim_props,
)
from connectors.fakes.dolibarr_bodies import (
    JSON_HEADERS,
    HttpError,
    company_body,
    contact_body,
    event_body,
    invoice_body,
    ok,
    proposal_body,
)
from connectors.fakes.dolibarr_rows import (
    ContactRow,
    EventRow,
    InvoiceRow,
    contact_resolver,
    event_resolver,
    invoice_resolver,
    proposal_resolver,
)

AGENDA_TYPE_CODES = frozenset(
    [
        "AC_OTH_AUTO",
        "AC_OTH",
        "AC_TEL",
        "AC_FAX",
        "AC_EMAIL",
        "AC_EMAIL_IN",
        "AC_RDV",
        "AC_INT",
        "AC_EO_ONLINECONF",
    ]
)


class RecordRoutes(DolibarrBase):
    """Contacts, proposals, invoices, agenda events, setup and status."""

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
        return ListSpec("contacts", kinds, contact_resolver, self._contact_body, "t.rowid")

    def _contact_body(self, c: ContactRow) -> dict[str, Any]:
        soc = self.thirdparties.get(c.socid) if c.socid else None
        return contact_body(c, soc.fields.get("name") if soc else None, self.version)

    def _list_contacts(self, req: Request, _m: re.Match[str]) -> Response:
        rows = by_socids(self.contacts.values(), req.query.get("thirdparty_ids"))
        return self._list(req, rows, self._contact_spec())  # contacts_list_empty.json: 200 []

    def _get_contact(self, _req: Request, m: re.Match[str]) -> Response:
        contact = self.contacts.get(parse_id(m["id"]))
        if contact is None:
            raise HttpError(404, "Contact not found", "api_contacts.class.php:120")
        return ok(self._contact_body(contact))

    def _post_contact(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()  # contact_create.json: bare id
        if not data.get("lastname"):
            raise HttpError(400, "lastname field missing", "api_contacts.class.php:700")
        socid = int(data["socid"]) if data.get("socid") else None
        return ok(
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
            self._new_id("contact", id),
            socid,
            firstname,
            lastname,
            email,
            poste,
            stamp,
            self._tms(),
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
        return ListSpec("proposals", kinds, proposal_resolver, proposal_body, "t.rowid")

    def _list_proposals(self, req: Request, _m: re.Match[str]) -> Response:
        rows = by_socids(self.proposals.values(), req.query.get("thirdparty_ids"))
        return self._list(req, rows, self._proposal_spec())  # proposals_list_empty.json

    def _get_proposal(self, _req: Request, m: re.Match[str]) -> Response:
        proposal = self.proposals.get(parse_id(m["id"]))
        if proposal is None:
            raise HttpError(404, "Commercial Proposal not found", "api_proposals.class.php:150")
        return ok(proposal_body(proposal))

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
            "t.type": "int",
            "t.fk_statut": "int",
            "t.total_ht": "float",
        }
        return ListSpec("invoices", kinds, invoice_resolver, invoice_body, "t.rowid")

    def _list_invoices(self, req: Request, _m: re.Match[str]) -> Response:
        rows = by_socids(self.invoices.values(), req.query.get("thirdparty_ids"))
        wanted = {"draft": 0, "unpaid": 1, "paid": 2, "cancelled": 3}.get(
            req.query.get("status", "")
        )
        if wanted is not None:  # invoices_by_thirdparty_paid.json / …_unpaid.json
            rows = [r for r in rows if r.status == wanted]
        return self._list(req, rows, self._invoice_spec())  # invoices_list_empty.json

    def _invoice_or_404(self, raw: str) -> InvoiceRow:
        invoice = self.invoices.get(parse_id(raw))
        if invoice is None:  # invoice_get_404.json
            raise HttpError(404, "Invoice not found", "api_invoices.class.php:149")
        return invoice

    def _get_invoice(self, req: Request, m: re.Match[str]) -> Response:
        # invoice_before_payment.json: a single invoice GET honours properties=
        return ok(
            trim_props(invoice_body(self._invoice_or_404(m["id"])), requested_props(req.query))
        )

    def _set_invoice_paid(self, _req: Request, m: re.Match[str]) -> Response:
        inv = self._invoice_or_404(m["id"])
        if inv.paye:  # invoice_settopaid_again.json
            return 304, dict(JSON_HEADERS), b""
        inv.paye, inv.status, inv.tms = True, 2, self._tms()  # invoice_settopaid.json
        body = invoice_body(inv)
        del body["actiontypecode"]
        return ok(body | {"trackid": f"inv{inv.id}"})

    def _post_invoice_payment(self, req: Request, m: re.Match[str]) -> Response:
        inv = self._invoice_or_404(m["id"])  # invoice_add_payment.json: bare payment id
        data = req.json_object()
        close = str(data.get("closepaidinvoices", "")) == "yes"
        return ok(self._record_payment(inv, str(data.get("num_payment") or ""), close))

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
        inv.tms = self._tms()
        return pid

    def _get_invoice_payments(self, _req: Request, m: re.Match[str]) -> Response:
        return ok(list(self._invoice_or_404(m["id"]).payments))  # invoice_payments.json

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
        return ListSpec("agendaevents", kinds, event_resolver, event_body, "t.id")

    def _list_events(self, req: Request, _m: re.Match[str]) -> Response:
        # agendaevents_by_thirdparty_none.json: 200 [] when nothing matches
        return self._list(req, list(self.events.values()), self._event_spec())

    def _get_event(self, _req: Request, m: re.Match[str]) -> Response:
        event = self.events.get(parse_id(m["id"]))
        if event is None:  # agendaevent_get_404.json
            raise HttpError(404, "Agenda Events not found", "api_agendaevents.class.php:88")
        return ok(event_body(event))

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
        return ok(  # agendaevent_create.json: bare id, custom `code` kept
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
            self._tms(),
        )
        self.events[event.id] = event
        return event.id

    # ------------------------------------------------------------------ setup, status
    def _get_company(self, _req: Request, _m: re.Match[str]) -> Response:
        return ok(company_body(self.conf.get("MAIN_MONNAIE", "EUR")))

    def _get_conf_all(self, _req: Request, _m: re.Match[str]) -> Response:
        return ok(dict(self.conf))  # setup_conf_all_trimmed.json

    def _get_conf(self, _req: Request, m: re.Match[str]) -> Response:
        if m["name"] not in self.conf:  # setup_conf_unknown_400.json: 400, not 404
            msg = "Error Bad or unknown value for constantname"
            raise HttpError(400, msg, "api_setup.class.php:2780")
        return ok(self.conf[m["name"]])  # setup_conf_get.json: a bare JSON string

    def _list_extrafields(self, req: Request, _m: re.Match[str]) -> Response:
        if req.query.get("elementtype", "societe") != "societe":
            return ok({})
        defs = {
            name: {"id": str(i), "type": kind, "label": name, "elementtype": "societe"}
            for i, (name, kind) in enumerate(self.extrafields.items(), 1)
        }
        return ok({"societe": defs})  # extrafields_list_societe.json

    def _post_extrafield(self, req: Request, m: re.Match[str]) -> Response:
        if m["name"] in self.extrafields:  # extrafield_create_duplicate_409.json
            msg = "Duplicate extrafield already found from attrname and elementtype"
            raise HttpError(409, msg, "api_setup.class.php:1633")
        self.extrafields[m["name"]] = str(req.json_object().get("type") or "varchar")
        return ok(len(self.extrafields))  # extrafield_create_onboarding_step.json

    def _get_status(self, _req: Request, _m: re.Match[str]) -> Response:
        local = datetime.fromtimestamp(self.now, self.tz)
        return ok(  # status.json
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
