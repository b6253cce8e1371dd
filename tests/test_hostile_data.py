"""Hostile data from Dolibarr: one case carries the error, every other case goes on.

The fake serves values no sane Dolibarr would (`serve_raw`), and a whole cycle
runs through the real client, poll, casebuild and engine. Nothing may raise.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings, parse_thirdparty
from connectors.fakes.dolibarr import DROP, FakeDolibarr
from syncd.casebuild import build_cases
from syncd.mirror import ContactRow, InvoiceRow, Mirror, PartyRow
from syncd.model import CaseReport
from tests.harness import World


def seed_pair(d: FakeDolibarr) -> tuple[int, int]:
    bad = d.add_thirdparty("Bad Data", email="bad@x.example", tags=("Trial",))
    good = d.add_thirdparty("Good Data", email="good@x.example", tags=("Trial",))
    return bad, good


def reports(world: World) -> dict[int, CaseReport]:
    return {r.case_id: r for r in world.cycle().plan.reports}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"date_creation": "abc"}, "date_creation: 'abc' is not a date"),
        ({"date_creation": ""}, "date_creation: '' is missing"),
        ({"date_creation": None}, "date_creation: None is missing"),
        ({"date_creation": DROP}, "date_creation: None is missing"),
        ({"date_creation": [1]}, "date_creation: [1] is not a date"),
        ({"date_creation": 10**30}, "is not a date (timestamp out of range)"),
        ({"date_creation": "9" * 5000}, "is not a date (longer than 32 characters)"),
    ],
)
def test_a_bad_creation_date_is_an_error_on_that_case_only(
    world: World, body: dict[str, Any], why: str
) -> None:
    bad, good = seed_pair(world.dolibarr)
    world.dolibarr.serve_raw(bad, **body)
    by_id = reports(world)
    assert len(by_id[bad].errors) == 1
    assert why in by_id[bad].errors[0]
    assert by_id[bad].actions == ()
    assert by_id[good].errors == ()
    assert by_id[good].actions


@pytest.mark.parametrize(
    "created", [1795375862, "1795375862", "2026-11-22", "2026-11-22 20:31:02", 1795375862.0]
)
def test_every_creation_date_shape_dolibarr_used_is_read(world: World, created: Any) -> None:
    bad, _good = seed_pair(world.dolibarr)
    world.dolibarr.serve_raw(bad, date_creation=created)
    assert reports(world)[bad].errors == ()


def test_the_bad_case_is_logged_once_and_the_cycle_records_ok(world: World) -> None:
    bad, _good = seed_pair(world.dolibarr)
    world.dolibarr.serve_raw(bad, date_creation="abc")
    lines: list[str] = []
    sink = logger.add(lines.append, level="ERROR", format="{message}")
    try:
        world.cycle()
        world.advance(minutes=5)
        world.cycle()
    finally:
        logger.remove(sink)
    assert [line for line in lines if f"case {bad} skipped" in line] == [
        f"case {bad} skipped: field date_creation: 'abc' is not a date "
        "(expected YYYY-MM-DD or a UNIX timestamp)\n"
    ]


def test_the_client_keeps_unreadable_values_for_the_core_to_judge() -> None:
    party = parse_thirdparty({"id": "4", "client": "x", "date_creation": "abc"})
    assert (party.client, party.created_at, party.modified_at) == (0, "abc", None)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"name": "Evil\x00Corp"}, "field name: 'Evil\\x00Corp' contains control characters"),
        ({"email": "e" * 1_000_000}, "field email: 'eeee"),
        ({"ref": "\x1b[2J"}, "field ref: '\\x1b[2J' contains control characters"),
    ],
)
def test_bad_text_in_a_standard_field_is_an_error_on_that_case(
    world: World, body: dict[str, Any], why: str
) -> None:
    bad, good = seed_pair(world.dolibarr)
    world.dolibarr.serve_raw(bad, **body)
    by_id = reports(world)
    assert by_id[bad].errors[0].startswith(why)
    assert len(by_id[bad].name) <= 81
    assert by_id[good].actions


def test_right_to_left_names_are_names(world: World) -> None:
    bad, _good = seed_pair(world.dolibarr)
    world.dolibarr.serve_raw(bad, name="\u05e9\u05dc\u05d5\u05dd Ltd")
    assert reports(world)[bad].errors == ()


def test_a_proposal_with_an_unreadable_status_is_an_error_on_its_case(world: World) -> None:
    d = world.dolibarr
    bad, good = seed_pair(d)
    proposal = d.add_proposal(bad, "PR-1")
    d.proposals[proposal].status = "signed?"  # type: ignore[assignment]
    by_id = reports(world)
    assert by_id[bad].errors == ("field proposal PR-1 statut: 'signed?' is not a number",)
    assert by_id[good].actions


def test_an_invoice_total_is_read_with_the_number_limits() -> None:
    mirror = Mirror()
    mirror.thirdparties[1] = PartyRow(1, "C1", "Acme", "", "", 1795375862, None, {})
    mirror.related["invoices"][9] = InvoiceRow(9, 1, "FA-9", True, "1e2000000", "")
    (_row, error), *_ = build_cases(mirror, {}, ZoneInfo("Europe/Paris")).errors
    assert str(error) == "field invoice FA-9 total_ht: '1e2000000' is out of range"
    mirror.related["invoices"][9] = InvoiceRow(9, 1, "FA-9", True, "1", "USD", mc_total_ht="9e99")
    (_row, error), *_ = build_cases(mirror, {}, ZoneInfo("Europe/Paris")).errors
    assert str(error) == "field invoice FA-9 multicurrency_total_ht: '9e99' is out of range"


@responses.activate
def test_a_related_row_with_no_readable_id_is_skipped_not_fatal() -> None:
    api = "http://erp.test/api/index.php"
    rows = [
        {"id": "x1", "socid": "1"},
        {"id": "2", "socid": "1", "email": "a@x.example"},
        {"socid": "1"},
        {"id": "4", "socid": ["1"]},
    ]
    responses.get(f"{api}/contacts", json=rows)
    client = DolibarrClient(DolibarrSettings("http://erp.test", "k"))
    assert [c.id for c in client.iter_contacts()] == [2]


@responses.activate
def test_unreadable_category_rows_and_members_are_skipped() -> None:
    api = "http://erp.test/api/index.php"
    cats = [{"id": "1", "label": "Trial"}, {"id": "two", "label": "X"}, {"id": "3"}]
    responses.get(f"{api}/categories", json=cats)
    responses.get(f"{api}/categories/1/objects", json=["4", "x", None, "5"])
    client = DolibarrClient(DolibarrSettings("http://erp.test", "k"))
    assert [c.id for c in client.categories()] == [1]
    assert client.category_member_ids(1) == {4, 5}


def test_contact_and_invoice_text_is_checked_on_its_case() -> None:
    mirror = Mirror()
    for socid in (1, 2, 3):
        mirror.thirdparties[socid] = PartyRow(
            socid, f"C{socid}", "Acme", "", "", 1795375862, None, {}
        )
    mirror.related["contacts"][5] = ContactRow(5, 1, "Jo", "jo@x.example\x00, all@x.example")
    mirror.related["invoices"][9] = InvoiceRow(9, 2, "FA-9\x1b[2J", True, "100", "")
    built = build_cases(mirror, {}, ZoneInfo("Europe/Paris"))
    assert [str(error) for _row, error in built.errors] == [
        "field contact 5 email: 'jo@x.example\\x00, all@x.example' contains control characters",
        "field invoice 9 ref: 'FA-9\\x1b[2J' contains control characters",
    ]
    assert [case.id for case in built.cases] == [3]
