"""What the fake Dolibarr says: headers, error bodies and the recorded object bodies.

Role: turn a row into the JSON object the real server recorded in tests/fixtures/dolibarr/
(every null and constant key kept, in the recorded order), and build Restler's error
envelope. Pure functions of their arguments: this module must never speak HTTP, import
`requests`/`responses`, sleep, read the real clock, or change a row.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

from connectors.fakes import sqlfilters as sf
from connectors.fakes.base import Response
from connectors.fakes.dolibarr_rows import (
    COUNTRY_IDS,
    DROP,
    TP_WRITABLE,
    CategoryRow,
    ContactRow,
    EventRow,
    InvoiceRow,
    ProposalRow,
    ThirdPartyRow,
)

Json = Any


# ---------------------------------------------------------------------- headers, errors
JSON_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Powered-By": "Luracast Restler v3.1.0",
    "Cache-Control": "no-cache, must-revalidate",
}
HTML_HEADERS = {"Content-Type": "text/html; charset=UTF-8", "X-Powered-By": "PHP/8.2.36"}
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
MISSING_KEY = (
    "Failed to login to API. Neither parameter 'HTTP_DOLAPIKEY' nor 'Authentication: Bearer' "
    "found on HTTP header (and no parameter DOLAPIKEY in URL)."
)
BAD_KEY = (
    "Error user not valid (not found with api key or bad status or bad validity dates) "
    "(conf->entity=1)"
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


def ok(payload: Json) -> Response:
    return 200, dict(JSON_HEADERS), json.dumps(payload).encode()


def error_body(
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


# ---------------------------------------------------------------------- object bodies
def thirdparty_body(
    tp: ThirdPartyRow,
    view: Literal["get", "list", "put"],
    *,
    extrafields: Mapping[str, str],
    tz: ZoneInfo,
    version: str,
) -> dict[str, Any]:
    """thirdparty_get_customer_full.json / thirdparty_get_prospect_full.json.

    Lists carry no discount totals (thirdparties_list_page0.json); a PUT answer adds
    `socid`/`trackid` and lacks `actiontypecode` (thirdparty_put_fields.json).
    """
    body: dict[str, Any] = dict.fromkeys(_TP_NULLS) | copy.deepcopy(_TP_DEFAULTS)
    f = tp.fields
    body |= {k: f.get(k) for k in TP_WRITABLE}
    country = str(f.get("country_code") or "")
    body |= {
        "id": str(tp.id),
        "ref": f.get("name"),
        "client": str(int(f.get("client") or 0)),
        "fournisseur": str(int(f.get("fournisseur") or 0)),
        "country_code": country,
        "country_id": str(COUNTRY_IDS[country]) if country in COUNTRY_IDS else None,
        "status": "1",
        "name_alias": f.get("name_alias") or "",
        "address": f.get("address") or "",
        "array_options": _array_options(tp, extrafields, tz),
        "date_creation": tp.datec,
        "date_modification": _tp_modified(tp, version),
    }
    _apply_raw(body, tp.raw)
    if view == "list":
        del body["absolute_discount"], body["absolute_creditnote"]
    elif view == "put":
        del body["actiontypecode"]
        body |= {"socid": str(tp.id), "trackid": f"thi{tp.id}"}
    return body


def _apply_raw(body: dict[str, Any], raw: Mapping[str, Any]) -> None:
    """Serve hostile values as given (FakeDolibarr.serve_raw): no real server is this odd."""
    for key, value in raw.items():
        options = body.get("array_options")
        if key == "array_options" and isinstance(value, dict) and isinstance(options, dict):
            body[key] = {k: v for k, v in (options | value).items() if v is not DROP}
        elif value is DROP:
            body.pop(key, None)
        else:
            body[key] = value


def _tp_modified(tp: ThirdPartyRow, version: str) -> int | str:
    if version.startswith("22"):
        return tp.tms  # v22/thirdparty_get_no_extrafields_row.json: s.tms alone
    if tp.ef_tms is None:
        return ""  # thirdparty_get_no_extrafields_row.json: GREATEST(tms, NULL)
    return max(tp.tms, tp.ef_tms)


def _array_options(
    tp: ThirdPartyRow, extrafields: Mapping[str, str], tz: ZoneInfo
) -> dict[str, Any] | list[Any]:
    if not extrafields:
        return []  # QUIRKS "Shapes": a list when no extrafield is defined
    if tp.ef_tms is None:
        return {f"options_{name}": None for name in extrafields}
    return {
        f"options_{name}": _ef_out(kind, tp.extras.get(name), tz)
        for name, kind in extrafields.items()
    }


def _ef_out(kind: str, value: Any, tz: ZoneInfo) -> Any:
    """thirdparty_get_call_passed_with_call_date.json: strings, local-midnight epochs, ""."""
    if kind == "date":
        return sf.local_midnight(value, tz) if value is not None else ""
    if value is None:
        return None
    if kind == "double":
        return f"{value:.8f}"  # "0.15000000"
    return str(value)


def category_body(cat: CategoryRow) -> dict[str, Any]:
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


def category_short(cat: CategoryRow) -> dict[str, Any]:
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


def contact_body(c: ContactRow, socname: Any, version: str) -> dict[str, Any]:
    """contact_get.json (date_modification "" in 23: no extrafields row)."""
    body: dict[str, Any] = dict.fromkeys(_CONTACT_NULLS) | copy.deepcopy(_CONTACT_DEFAULTS)
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
        "socname": socname,
        "date_creation": c.datec,
        "date_modification": c.tms if version.startswith("22") else "",
    }
    return body


def proposal_body(p: ProposalRow) -> dict[str, Any]:
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


def invoice_body(inv: InvoiceRow) -> dict[str, Any]:
    """invoice_get.json: paye/statut strings, amounts as "%.8f" strings, totalpaid a number.

    invoice_type_*_get.json: `type`, `close_code`, `fk_facture_source`, and the
    invoice's own currency in `multicurrency_*` (× `multicurrency_tx`); a credit
    note's totals and `remaintopay` are negative; a final invoice carries a
    `(DEPOSIT)` line per deposit it absorbs (invoice_type_final_lines.json).
    """
    body: dict[str, Any] = dict.fromkeys(_INVOICE_NULLS) | copy.deepcopy(_INVOICE_DEFAULTS)
    remain = round(inv.total_ht * 1.2, 8) - inv.totalpaid  # invoice_after_settopaid.json
    if inv.type != 2:
        remain = max(remain, 0.0)
    body |= _amounts(inv.total_ht, inv.currency, inv.mc_tx) | {
        "id": str(inv.id),
        "ref": inv.ref,
        "type": str(inv.type),
        "statut": str(inv.status),
        "status": str(inv.status),
        "paye": "1" if inv.paye else "0",
        "close_code": inv.close_code,
        "close_note": inv.close_note,
        "fk_facture_source": None if inv.source_id is None else str(inv.source_id),
        "socid": str(inv.socid),
        "date": inv.date,
        "date_lim_reglement": inv.date,
        "online_payment_url": None,
        "date_creation": inv.datec,
        "date_modification": inv.tms,
        "datem": inv.tms,
        "totalpaid": _num(inv.totalpaid),
        "remaintopay": _num_str(remain),
        "lines": [_deposit_line(inv, n, ht) for n, ht in enumerate(inv.deposit_lines, 1)],
    }
    return body


def _deposit_line(inv: InvoiceRow, n: int, total_ht: float) -> dict[str, Any]:
    """invoice_type_final_lines.json: the line `usediscount` adds for a deposit."""
    line_id = str(inv.id * 100 + n)
    return _amounts(total_ht, inv.currency, inv.mc_tx) | {
        "id": line_id,
        "rowid": line_id,
        "desc": "(DEPOSIT)",
        "description": "(DEPOSIT)",
        "qty": "1",
        "info_bits": "2",
        "subprice": f"{total_ht:.8f}",
        "tva_tx": "20.0000",
        "fk_facture": str(inv.id),
        "fk_remise_except": str(n),
        "rang": "-1",
    }


def company_body(currency: str, country_code: str = "FR") -> dict[str, Any]:
    """invoice_type_setup_company.json: the company as a third-party-like object."""
    return {
        "module": "societe",
        "id": 0,
        "entity": 1,
        "ref": None,
        "array_options": [],
        "status": 1,
        "country_id": 1,
        "country_code": country_code,
        "name": "Lab",
        "email": "",
        "date_creation": None,
        "date_modification": None,
        "tva_assuj": 1,
        "default_lang": "en_US",
        "currency_code": currency,
    }


def event_body(e: EventRow) -> dict[str, Any]:
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


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _num_str(value: float) -> str:
    return str(_num(round(value, 8)))


def _amounts(total_ht: float, currency: str, tx: float = 1.0) -> dict[str, Any]:
    """Company-currency totals, and the same × `tx` in the object's own currency
    (invoice_type_multicurrency_usd_get.json)."""
    tva, ttc = round(total_ht * 0.2, 8), round(total_ht * 1.2, 8)
    return {
        "total_ht": f"{total_ht:.8f}",
        "total_tva": f"{tva:.8f}",
        "total_ttc": f"{ttc:.8f}",
        "multicurrency_code": currency,
        "multicurrency_tx": f"{tx:.8f}",
        "multicurrency_total_ht": f"{total_ht * tx:.8f}",
        "multicurrency_total_tva": f"{tva * tx:.8f}",
        "multicurrency_total_ttc": f"{ttc * tx:.8f}",
    }


# ---------------------------------------------------------------------- recorded body templates
def _words(text: str) -> list[str]:
    return text.split()


def _without(keys: list[str], dropped: str) -> list[str]:
    return [k for k in keys if k not in dropped.split()]


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
