"""Invoices as a real Dolibarr lists them, read all the way into the core's `Invoice`.

The rows are the recorded list answers of 23.0 and 22.0.4 with every property
syncd names (invoice_type_list_wide_properties.json): one of each type. The
final invoice's `(DEPOSIT)` line is the recorded `GET /invoices/8/lines`
answer (invoice_type_final_lines.json), the same line objects a list row
carries in `lines` (invoice_type_list_no_properties_one_row.json).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses

from connectors.dolibarr import DolibarrClient, DolibarrSettings, parse_invoice
from syncd.casebuild import build_cases
from syncd.mirror import InvoiceRow, Mirror, PartyRow
from syncd.model import Invoice
from syncd.poll import _copy

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dolibarr"
PARIS = ZoneInfo("Europe/Paris")


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())["response"]["body"]


def invoices(name: str, lines: dict[str, list[Any]] | None = None) -> dict[str, Invoice]:
    """The recorded rows, parsed by the connector and read by casebuild, by ref."""
    mirror = Mirror(company_currency="EUR")
    for row in body(name):
        record = parse_invoice(row | {"lines": (lines or {}).get(row["ref"], [])})
        mirror.related["invoices"][record.id] = _copy("invoices", record)
        socid = record.socid
    mirror.thirdparties[socid] = PartyRow(
        socid, "CU1", "Fixture Invoices SARL", "", "", 1, None, {}
    )
    (case,) = build_cases(mirror, {}, PARIS).cases
    return {inv.ref: inv for inv in case.invoices}


@pytest.mark.parametrize(
    "name",
    ["invoice_type_list_wide_properties.json", "v22/invoice_type_list_wide_properties.json"],
)
def test_each_recorded_type_is_told_apart(name: str) -> None:
    found = invoices(name)
    standard, credit, short = found["FA2612-0003"], found["AV2612-0001"], found["FA2612-0004"]
    assert standard.is_paid and standard.kind == "standard" and standard.paid_ht is None
    assert credit.kind == "credit_note" and credit.is_settled and not credit.is_paid
    assert credit.source_id == standard.id and credit.total_ht == Decimal("-1000")
    assert short.is_paid and short.close_code == "discount_vat"
    assert short.paid_ht == Decimal("750")  # 900 of 1200 incl. tax came in: 3/4 of 1000
    deposit = found["AC2612-0001"]
    assert deposit.kind == "deposit" and deposit.is_settled and not deposit.is_paid
    assert not found["FA2612-0006"].is_paid  # validated, unpaid
    assert {inv.currency for inv in found.values()} <= {"EUR", "USD"}


def test_an_open_credit_note_refunded_through_the_api_is_not_settled() -> None:
    # invoice_type_credit_note_refunded_get.json: the API adds the "refund" as a payment
    refunded = invoices("invoice_type_list_wide_properties.json")["AV2612-0002"]
    assert refunded.kind == "credit_note" and not refunded.is_settled


def test_the_usd_invoice_is_in_dollars_never_euros_labelled_dollars() -> None:
    usd = invoices("invoice_type_list_wide_properties.json")["FA2612-0007"]
    assert (usd.total_ht, usd.currency) == (Decimal("1100.00000000"), "USD")


def test_a_row_without_a_currency_is_in_the_company_currency() -> None:
    row = body("invoice_type_list_wide_properties.json")[0] | {"multicurrency_code": None}
    mirror = Mirror(company_currency="EUR")
    mirror.related["invoices"][3] = _copy("invoices", parse_invoice(row))
    mirror.thirdparties[122] = PartyRow(122, "CU1", "Fixture", "", "", 1, None, {})
    (case,) = build_cases(mirror, {}, PARIS).cases
    assert (case.invoices[0].total_ht, case.invoices[0].currency) == (Decimal("1000"), "EUR")


def test_the_final_invoice_knows_the_deposit_it_absorbs() -> None:
    lines = body("invoice_type_final_lines.json")
    final = invoices("invoice_type_list_wide_properties.json", {"FA2612-0005": lines})
    absorbed = final["FA2612-0005"]
    assert absorbed.total_ht == Decimal("700") and absorbed.deposits_ht == Decimal("300")


def test_a_list_row_carries_its_lines() -> None:
    (row,) = body("invoice_type_list_no_properties_one_row.json")
    assert isinstance(row["lines"], list) and row["lines"][0]["fk_facture"] == row["id"]
    assert parse_invoice(row).deposits_ht is None  # a plain service line is no deposit


@responses.activate
def test_the_invoice_list_asks_for_what_tells_the_types_apart() -> None:
    api = "http://erp.test/api/index.php"
    responses.get(f"{api}/invoices", json=body("invoice_type_list_wide_properties.json"))
    client = DolibarrClient(DolibarrSettings("http://erp.test", "k"))
    records = list(client.iter_invoices())
    asked = responses.calls[0].request.params["properties"].split(",")
    for needed in ("type", "statut", "paye", "close_code", "totalpaid", "total_ttc"):
        assert needed in asked
    for needed in ("fk_facture_source", "multicurrency_code", "multicurrency_total_ht", "lines"):
        assert needed in asked
    assert [r.type for r in records][:3] == ["0", "2", "0"]


@responses.activate
@pytest.mark.parametrize(
    "name", ["invoice_type_setup_company.json", "v22/invoice_type_setup_company.json"]
)
def test_the_company_currency_comes_from_setup_company(name: str) -> None:
    api = "http://erp.test/api/index.php"
    responses.get(f"{api}/setup/company", json=body(name))
    assert DolibarrClient(DolibarrSettings("http://erp.test", "k")).company_currency() == "EUR"


@responses.activate
def test_a_company_currency_only_admins_may_read_is_unknown_not_an_error() -> None:
    api = "http://erp.test/api/index.php"
    error = {"error": {"code": 403, "message": "Forbidden: Error API open to admin users only"}}
    responses.get(f"{api}/setup/company", json=error, status=403)
    assert DolibarrClient(DolibarrSettings("http://erp.test", "k")).company_currency() is None


def test_an_old_mirror_row_reads_as_a_standard_invoice_of_unknown_status() -> None:
    row = InvoiceRow(1, 1, "FA-1", True, "100", "EUR", mc_total_ht="100")
    mirror = Mirror(company_currency="EUR")
    mirror.related["invoices"][1] = row
    mirror.thirdparties[1] = PartyRow(1, "CU1", "Old", "", "", 1, None, {})
    (case,) = build_cases(mirror, {}, PARIS).cases
    assert not case.invoices[0].is_paid  # no statut: not taken for closed
