"""`syncd.fields.parse_fields`: every value shape a real Dolibarr sends, and every bad one."""

from __future__ import annotations

import json
import time
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import CaseDataError
from syncd.fields import FieldsReader, parse_fields, rate_warning
from syncd.model import FIELDS, Fields
from tests.factories import PARIS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dolibarr"
CODES = {name: name for name in FIELDS}


def parse(raw: dict[str, Any], codes: dict[str, str] | None = None) -> Fields:
    return parse_fields(7, raw, CODES if codes is None else codes, PARIS)


def array_options(name: str, part: str = "response") -> dict[str, Any]:
    """A recorded `array_options`, with the `options_` prefix removed as casebuild does."""
    recorded = json.loads((FIXTURES / name).read_text())
    options: dict[str, Any] = recorded[part]["body"]["array_options"]
    return {key.removeprefix("options_"): value for key, value in options.items()}


# --- recorded fixtures -------------------------------------------------------------

RECORDED = [
    (
        "thirdparty_get_customer_full.json",
        "response",
        Fields(
            signup_date=date(2026, 9, 30),
            referred_by=2,
            logins_count=31,
            frameworks_mapped=2,
            onboarding_step="converted",
        ),
    ),
    (
        "thirdparty_get_call_passed_with_call_date.json",
        "response",
        Fields(
            signup_date=date(2026, 10, 20),
            onboarding_call_date=date(2026, 11, 18),
            logins_count=14,
            frameworks_mapped=2,
            onboarding_step="call_passed",
        ),
    ),
    (
        "thirdparty_put_extrafield_bool_true.json",
        "response",
        Fields(
            signup_date=date(2026, 11, 17),
            logins_count=1,
            is_paused=True,
            onboarding_step="trial_signup",
        ),
    ),
    (
        "thirdparty_put_extrafield_bool_true.json",
        "request",
        Fields(signup_date=None, logins_count=1, is_paused=True, onboarding_step="trial_signup"),
    ),
    (
        "thirdparty_put_extrafield_bool_false.json",
        "response",
        Fields(signup_date=date(2026, 11, 17), logins_count=1, onboarding_step="trial_signup"),
    ),
    ("thirdparty_put_extrafield_bool_false.json", "request", Fields()),
    ("thirdparty_get_no_extrafields_row.json", "response", Fields()),
    ("v22/thirdparty_get_no_extrafields_row.json", "response", Fields()),
    (
        "thirdparty_get_partner.json",
        "response",
        Fields(commission_rate=Decimal("0.15"), onboarding_step="partner"),
    ),
]


@pytest.mark.parametrize(("name", "part", "expected"), RECORDED)
def test_recorded_array_options(name: str, part: str, expected: Fields) -> None:
    assert parse(array_options(name, part)) == expected


def test_date_epochs_are_server_local_midnight() -> None:
    raw = array_options("thirdparty_put_extrafield_bool_true.json")  # signup 1794870000
    assert parse_fields(1, raw, CODES, PARIS).signup_date == date(2026, 11, 17)
    # the same epoch read in the wrong zone lands on the day before
    assert parse_fields(1, raw, CODES, UTC).signup_date == date(2026, 11, 16)


# --- one value at a time -----------------------------------------------------------

GOOD: list[tuple[str, Any, str, Any]] = [
    # dates: epoch int, epoch string, ISO date, ISO datetime, empties
    ("signup_date", 1794870000, "signup_date", date(2026, 11, 17)),
    ("signup_date", "1794870000", "signup_date", date(2026, 11, 17)),
    ("signup_date", 1794870000.0, "signup_date", date(2026, 11, 17)),
    ("signup_date", "2026-11-17", "signup_date", date(2026, 11, 17)),
    ("signup_date", " 2026-11-17 ", "signup_date", date(2026, 11, 17)),
    ("signup_date", "2026-11-17 00:00:00", "signup_date", date(2026, 11, 17)),
    ("signup_date", "2026-11-16T23:00:00Z", "signup_date", date(2026, 11, 17)),
    ("signup_date", "", "signup_date", None),
    ("signup_date", None, "signup_date", None),
    ("signup_date", False, "signup_date", None),
    ("onboarding_call_date", 1794956400, "onboarding_call_date", date(2026, 11, 18)),
    ("discovery_call_date", "2026-11-20", "discovery_call_date", date(2026, 11, 20)),
    ("briefing_date", "1795042800", "briefing_date", date(2026, 11, 19)),
    ("agreement_signed_date", "2026-11-02", "agreement_signed_date", date(2026, 11, 2)),
    # counts
    ("logins_count", "31", "logins_count", 31),
    ("logins_count", 31, "logins_count", 31),
    ("logins_count", "0", "logins_count", 0),
    ("logins_count", " 7 ", "logins_count", 7),
    ("logins_count", "3.00000000", "logins_count", 3),
    ("logins_count", None, "logins_count", 0),
    ("logins_count", "", "logins_count", 0),
    ("frameworks_mapped", "2", "frameworks_mapped", 2),
    ("frameworks_mapped", False, "frameworks_mapped", 0),
    # referred_by
    ("referred_by", "2", "referred_by", 2),
    ("referred_by", 2, "referred_by", 2),
    ("referred_by", "0", "referred_by", None),
    ("referred_by", 0, "referred_by", None),
    ("referred_by", None, "referred_by", None),
    # commission_rate
    ("commission_rate", "0.15000000", "commission_rate", Decimal("0.15")),
    ("commission_rate", "15", "commission_rate", Decimal("15")),
    ("commission_rate", 15, "commission_rate", Decimal("15")),
    ("commission_rate", "2.5", "commission_rate", Decimal("2.5")),
    ("commission_rate", "15%", "commission_rate", Decimal("15")),
    ("commission_rate", "0.5%", "commission_rate", Decimal("0.5")),
    ("commission_rate", "1", "commission_rate", Decimal("1")),
    ("commission_rate", "100", "commission_rate", Decimal("100")),
    ("commission_rate", "0", "commission_rate", Decimal("0")),
    ("commission_rate", None, "commission_rate", None),
    # booleans
    ("syncd_pause", "1", "is_paused", True),
    ("syncd_pause", 1, "is_paused", True),
    ("syncd_pause", True, "is_paused", True),
    ("syncd_pause", "0", "is_paused", False),
    ("syncd_pause", 0, "is_paused", False),
    ("syncd_pause", None, "is_paused", False),
    ("syncd_pause", False, "is_paused", False),
    ("syncd_pause", "", "is_paused", False),
    ("directory_consent", "yes", "has_directory_consent", True),
    ("directory_consent", "Yes", "has_directory_consent", True),
    ("directory_consent", "no", "has_directory_consent", False),
    ("directory_consent", "true", "has_directory_consent", True),
    ("directory_consent", "false", "has_directory_consent", False),
    ("directory_consent", "1", "has_directory_consent", True),
    ("dpa_signed", "1", "has_dpa_signed", True),
    ("dpa_signed", None, "has_dpa_signed", False),
    # text
    ("syncd_skip_rules", "welcome_call, Check_In,,  ", "skip_rules", {"welcome_call", "check_in"}),
    ("syncd_skip_rules", "nurture", "skip_rules", {"nurture"}),
    ("syncd_skip_rules", " , ", "skip_rules", frozenset()),
    ("syncd_skip_rules", None, "skip_rules", frozenset()),
    ("onboarding_step_override", "  Follow_Up ", "step_override", "follow_up"),
    ("onboarding_step_override", "", "step_override", None),
    ("onboarding_step_override", None, "step_override", None),
    ("mautic_contact_id", "1234", "mautic_contact_id", "1234"),
    ("mautic_contact_id", 1234, "mautic_contact_id", "1234"),
    ("mautic_contact_id", "", "mautic_contact_id", None),
    ("onboarding_step", "follow_up", "onboarding_step", "follow_up"),
]


@pytest.mark.parametrize(("field", "value", "attribute", "expected"), GOOD)
def test_value_shapes(field: str, value: Any, attribute: str, expected: Any) -> None:
    assert getattr(parse({field: value}), attribute) == expected


BAD: list[tuple[str, Any, str]] = [
    ("signup_date", "soon", "is not a date"),
    ("signup_date", "2026-13-01", "is not a date"),
    ("signup_date", "17/11/2026", "is not a date"),
    ("signup_date", True, "is not a date"),
    ("signup_date", 1794870000.5, "is not a date"),
    ("signup_date", 10**20, "is not a date"),
    ("signup_date", ["2026-11-17"], "is not a date"),
    ("briefing_date", "next week", "is not a date"),
    ("logins_count", "abc", "is not a number"),
    ("logins_count", "2.5", "is not a whole number"),
    ("logins_count", "-1", "is negative"),
    ("logins_count", "NaN", "is not a number"),
    ("logins_count", True, "is not a number"),
    ("frameworks_mapped", "many", "is not a number"),
    ("referred_by", "Acme", "is not a number"),
    ("referred_by", "-4", "is not a third-party id"),
    ("referred_by", "2.5", "is not a whole number"),
    ("commission_rate", "abc", "is not a number"),
    ("commission_rate", "Infinity", "is not a number"),
    ("commission_rate", "-0.1", "is not between 0 and 100 (a percentage: 15 = 15 %)"),
    ("commission_rate", "150", "is not between 0 and 100"),
    ("commission_rate", "100.5%", "is not between 0 and 100"),
    ("commission_rate", "%", "is not a number"),
    ("syncd_pause", "maybe", "is not a yes/no value"),
    ("syncd_pause", 2, "is not a yes/no value"),
    ("directory_consent", "perhaps", "is not a yes/no value"),
    ("syncd_skip_rules", 5, "is not a comma-separated list"),
    ("mautic_contact_id", {"id": 5}, "is not text"),
    ("onboarding_step_override", ["follow_up"], "is not text"),
]


@pytest.mark.parametrize(("field", "value", "why"), BAD)
def test_bad_values_name_the_case_and_field(field: str, value: Any, why: str) -> None:
    with pytest.raises(CaseDataError) as caught:
        parse({field: value})
    error = caught.value
    assert (error.case_id, error.field, error.value) == (7, field, value)
    assert error.why.startswith(why)
    assert str(error).startswith(f"field {field}: {value!r} {why}")


def test_error_names_the_logical_field_not_the_extrafield_code() -> None:
    codes = {**CODES, "commission_rate": "partner_rate"}
    with pytest.raises(CaseDataError) as caught:
        parse({"partner_rate": "abc"}, codes)
    assert caught.value.field == "commission_rate"


def test_codes_map_logical_names_to_extrafield_codes() -> None:
    codes = {**CODES, "signup_date": "trial_start", "syncd_pause": "automation_off"}
    fields = parse({"trial_start": "2026-11-12", "automation_off": "1", "signup_date": "x"}, codes)
    assert fields.signup_date == date(2026, 11, 12)
    assert fields.is_paused is True


def test_missing_keys_and_empty_mapping_are_unset() -> None:
    assert parse({}) == Fields()
    assert parse({"unrelated_field": "whatever"}) == Fields()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.15000000", Decimal("15")),
        ("0.025", Decimal("2.5")),
        ("1", Decimal("100")),
        ("15%", Decimal("15")),
    ],
)
def test_a_company_storing_fractions_switches_the_unit(value: str, expected: Decimal) -> None:
    fields = parse_fields(7, {"commission_rate": value}, CODES, PARIS, rate_unit="fraction")
    assert fields.commission_rate == expected


def test_a_fraction_above_one_is_an_error_naming_the_unit() -> None:
    with pytest.raises(CaseDataError) as caught:
        parse_fields(7, {"commission_rate": "15"}, CODES, PARIS, rate_unit="fraction")
    assert caught.value.why == "is not between 0 and 1 (rates are fractions here: 0.15 = 15 %)"


@pytest.mark.parametrize(
    ("rate", "unit", "warning"),
    [
        (Decimal("1"), "percent", "commission_rate 1 %; write 100 for 100 % (15 for 15 %)"),
        (Decimal("0.15"), "percent", "commission_rate 0.15 %; write 100 for 100 % (15 for 15 %)"),
        (Decimal("1.5"), "percent", ""),
        (Decimal("0"), "percent", ""),
        (None, "percent", ""),
        (Decimal("1"), "fraction", ""),
    ],
)
def test_a_rate_of_one_percent_or_less_is_a_warning(
    rate: Decimal | None, unit: str, warning: str
) -> None:
    assert rate_warning(rate, unit) == warning


def test_prefixed_keys_are_tolerated() -> None:
    assert parse({"options_logins_count": "4"}).logins_count == 4


# --- hostile values: bounded work, a clear error --------------------------------------

HOSTILE: list[tuple[str, Any, str]] = [
    ("logins_count", "1e2000000", "is out of range"),
    ("logins_count", "1e309", "is out of range"),
    ("logins_count", "1e12", "is out of range (more than 2147483647)"),
    ("logins_count", 10**12, "is out of range (more than 2147483647)"),
    ("logins_count", 10**5000, "is out of range"),
    ("logins_count", "9" * 41, "is not a number (longer than 40 characters)"),
    ("logins_count", 1e308, "is out of range"),
    ("frameworks_mapped", "-1e-2000000", "is out of range"),
    ("referred_by", "2e9999", "is out of range"),
    ("commission_rate", "1e-2000000", "is out of range"),
    ("commission_rate", "1e2000000%", "is out of range"),
    ("syncd_pause", 10**5000, "is not a yes/no value"),
    ("mautic_contact_id", 10**5000, "is out of range"),
    ("signup_date", "9" * 5000, "is not a date (longer than 32 characters)"),
    ("signup_date", "1" * 30, "is not a date (timestamp out of range)"),
    ("signup_date", "9999-12-31", "is not a date (year 9999 is outside 1900–2199)"),
    ("briefing_date", "0001-01-01", "is not a date (year 1 is outside 1900–2199)"),
    ("agreement_signed_date", -(10**10), "is not a date (year 1653 is outside 1900–2199)"),
    ("signup_date", "0001-01-01T00:00:00+14:00", "is not a date (out of range)"),
]


@pytest.mark.parametrize(
    ("field", "value", "why"), HOSTILE, ids=[f"{f}-{n}" for n, (f, _, _) in enumerate(HOSTILE)]
)
def test_hostile_values_are_rejected_quickly_with_a_short_message(
    field: str, value: Any, why: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(CaseDataError) as caught:
        parse({field: value})
    assert time.perf_counter() - started < 0.5
    assert caught.value.why.startswith(why)
    assert len(str(caught.value)) < 200


def test_a_huge_value_is_shown_cut_short() -> None:
    with pytest.raises(CaseDataError) as caught:
        parse({"signup_date": "x" * 1_000_000})
    assert str(caught.value).startswith("field signup_date: 'xxxxx")
    assert "(1000002 characters)" in str(caught.value)


TEXTS: list[tuple[str, Any, str]] = [
    ("mautic_contact_id", "12\x0034", "contains control characters"),
    ("mautic_contact_id", "x" * 256, "is longer than 255 characters"),
    ("onboarding_step_override", "follow\x1b[31m_up", "contains control characters"),
    ("syncd_skip_rules", "nurture,\x00", "contains control characters"),
]


@pytest.mark.parametrize(("field", "value", "why"), TEXTS)
def test_text_with_control_characters_or_past_varchar_is_rejected(
    field: str, value: Any, why: str
) -> None:
    with pytest.raises(CaseDataError) as caught:
        parse({field: value})
    assert caught.value.why == why


def test_right_to_left_text_is_text() -> None:
    assert parse({"mautic_contact_id": "\u05e9\u05dc\u05d5\u05dd 42"}).mautic_contact_id == (
        "\u05e9\u05dc\u05d5\u05dd 42"
    )


def test_both_steps_in_syncd_own_step_field_are_kept() -> None:
    shown = "welcome_call / partner_qualification"
    assert parse({"onboarding_step": shown}).onboarding_step == shown


def test_junk_in_syncd_own_step_field_reads_as_unset_so_it_is_overwritten() -> None:
    assert parse({"onboarding_step": "x\x00" * 500}).onboarding_step is None


@pytest.mark.parametrize(
    "junk",
    [
        "x') or (t.rowid:>:'0",
        "trial signup",
        "a" * 65,
        "50%",
        "a / b / c",
        "a/b",
        f"a / {'b' * 61}",
    ],
)
def test_only_a_word_in_syncd_own_step_field_is_kept(junk: str) -> None:
    assert parse({"onboarding_step": junk}).onboarding_step is None


# --- one reader for many cases ---------------------------------------------------


def test_one_reader_reads_each_case_as_parse_fields_does() -> None:
    reader = FieldsReader(CODES, PARIS, "fraction")
    cases = [
        {"logins_count": "3", "commission_rate": "0.15", "signup_date": 1763420400},
        {"logins_count": "3", "commission_rate": "0.15", "syncd_skip_rules": "a, b"},
        {"logins_count": 3, "commission_rate": 0.15, "signup_date": "2026-11-17"},
    ]
    for case_id, raw in enumerate(cases, start=1):
        assert reader.read(case_id, raw) == parse_fields(case_id, raw, CODES, PARIS, "fraction")


def test_a_bad_value_shared_by_cases_is_an_error_on_each() -> None:
    reader = FieldsReader(CODES, PARIS)
    for case_id in (1, 2):
        with pytest.raises(CaseDataError) as caught:
            reader.read(case_id, {"logins_count": "-1"})
        assert caught.value.case_id == case_id
