"""Parse a third party's raw Dolibarr extrafields into a typed `model.Fields`.

Role: turn `array_options` values, in the shapes a real Dolibarr sends them
(numbers and flags as strings, dates as server-local midnight epochs, empty
values as "", None or False; see tests/fixtures/dolibarr/QUIRKS.md), into
Python values, and report a value that cannot be read as a `CaseDataError`
naming the logical field, so that one case is skipped and the others go on.
The third party's own dates and text, and the numbers on its proposals and
invoices, are read here too (`parse_moment`, `parse_text`, …). Every reader
has limits (length, exponent, range, years), so hostile data costs no CPU.

This module must never do I/O, read the clock, guess a value it cannot read,
or decide anything about steps or rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from syncd.errors import CaseDataError
from syncd.model import Fields

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "off"})
_EPOCH = re.compile(r"-?\d+")
_YEARS = (1900, 2199)  # a CRM's dates; far enough from datetime's limits
_MAX_DATE_TEXT = 32  # "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM" is 32; an epoch far fewer
_HUNDRED = Decimal(100)
# Limits on numbers: Dolibarr's int extrafields are INT(11) columns, doubles carry
# eight decimals ("0.15000000"); anything past these is hostile or a typo.
_MAX_WHOLE = 2**31 - 1
_MAX_NUMBER_TEXT = 40
_MAX_DIGITS = 20  # the decimal exponent a number may have, either way
_MAX_TEXT = 255  # Dolibarr's varchar extrafields
# A step, or the steps of both processes joined (`welcome_call / partner_qualification`),
# within the field's 64 characters (extrafields_list_societe.json).
_STEP_WORDS = re.compile(r"[\w-]+(?: / [\w-]+)?")
_MAX_STEP = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR and LF are text


class _Invalid(ValueError):
    """A value failed its parser; the text completes "<value> ..."."""


RATE_UNITS = ("percent", "fraction")


def parse_fields(
    case_id: int,
    raw: Mapping[str, Any],
    codes: Mapping[str, str],
    tz: tzinfo,
    rate_unit: str = "percent",
) -> Fields:
    """Read every logical field of `model.FIELDS` from `raw` (extrafield code → value).

    `codes` maps a logical field name to its extrafield code; a name missing from
    it is looked up under its own name. A missing key or an empty value means
    unset. `tz` is the Dolibarr server's zone, in which date epochs are midnight.
    `rate_unit` says how `commission_rate` is stored (`[dolibarr]
    commission_rate_unit`); it is read into a percentage either way.
    """
    return FieldsReader(codes, tz, rate_unit).read(case_id, raw)


@dataclass(frozen=True, slots=True)
class _Spec:
    """Where one logical field is found in raw extrafields, and how it is read."""

    name: str  # the logical field (`model.FIELDS`), named in errors
    attr: str  # its attribute on `Fields`, whose default it keeps when empty
    code: str  # its extrafield code
    parse: Callable[[Any], Any]


class FieldsReader:
    """`parse_fields` for many cases: codes and parsers are settled once, not per case."""

    def __init__(self, codes: Mapping[str, str], tz: tzinfo, rate_unit: str = "percent") -> None:
        day = _date(tz)
        layout: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
            # In the order they are read: the first unreadable one is the case's error.
            ("signup_date", "signup_date", day),
            ("onboarding_call_date", "onboarding_call_date", day),
            ("logins_count", "logins_count", _count),
            ("frameworks_mapped", "frameworks_mapped", _count),
            ("referred_by", "referred_by", _thirdparty_id),
            ("commission_rate", "commission_rate", _rate(rate_unit)),
            ("syncd_pause", "is_paused", _flag),
            ("syncd_skip_rules", "skip_rules", _names),
            ("onboarding_step", "onboarding_step", _own_text),
            ("onboarding_step_override", "step_override", _step_name),
            ("mautic_contact_id", "mautic_contact_id", _text),
            ("discovery_call_date", "discovery_call_date", day),
            ("briefing_date", "briefing_date", day),
            ("directory_consent", "has_directory_consent", _flag),
            ("agreement_signed_date", "agreement_signed_date", day),
            ("dpa_signed", "has_dpa_signed", _flag),
            ("marketing_opt_out", "has_opted_out", _flag),
        )
        self._specs = tuple(
            _Spec(name, attr, codes.get(name, name), parse) for name, attr, parse in layout
        )
        self._known: dict[tuple[str, type, Any], Any] = {}  # (field, type, raw value) → read

    def read(self, case_id: int, raw: Mapping[str, Any]) -> Fields:
        """The case's fields; one missing or empty in `raw` is unset (`Fields`' default)."""
        values: dict[str, Any] = {}
        for spec in self._specs:
            value = _lookup(raw, spec.code)
            if not _is_empty(value):
                values[spec.attr] = self._value(case_id, spec, value)
        return Fields(**values)

    def _value(self, case_id: int, spec: _Spec, value: Any) -> Any:
        """Values repeat from case to case (counts, flags, dates at midnight, steps):
        each readable one is parsed once per reader. One that is not raises each time,
        naming its case. Only text and whole numbers are kept: equal floats can read
        differently (-0.0 and 0.0 as a rate), and other shapes may not be hashable."""
        if not isinstance(value, str | int):
            return _parse(case_id, spec.name, value, spec.parse)
        key = (spec.name, type(value), value)
        if key not in self._known:
            self._known[key] = _parse(case_id, spec.name, value, spec.parse)
        return self._known[key]


def _lookup(raw: Mapping[str, Any], code: str) -> Any:
    """The value under the extrafield's code, else under the API's `options_` key."""
    if code in raw:
        return raw[code]
    return raw.get(f"options_{code}")


def _parsed(case_id: int, name: str, value: Any, parse: Callable[[Any], T], default: T) -> T:
    """`value` read by `parse`, `default` when it is empty."""
    if _is_empty(value):
        return default
    return _parse(case_id, name, value, parse)


def _parse(case_id: int, name: str, value: Any, parse: Callable[[Any], T]) -> T:
    """`value` read by `parse`; a value it cannot read is a `CaseDataError` naming `name`."""
    try:
        return parse(value)
    except _Invalid as bad:
        raise CaseDataError(case_id, name, value, str(bad)) from None


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    return isinstance(value, str) and not value.strip()


def parse_moment(case_id: int, name: str, value: Any, tz: tzinfo) -> datetime:
    """A date Dolibarr always sets (`date_creation`), in any shape `_moment` reads.

    Missing or unreadable, it is a `CaseDataError` naming `name`: guessing one
    (the epoch 0, say) would start every timer of the case at once.
    """
    if _is_empty(value):
        raise CaseDataError(case_id, name, value, "is missing (Dolibarr always sets it)")
    try:
        return _moment(value, tz)
    except _Invalid as bad:
        raise CaseDataError(case_id, name, value, str(bad)) from None


def parse_text(case_id: int, name: str, value: str) -> str:
    """A standard text field of the third party (`name`, `email`): varchar-sized, no controls.

    Such text goes out in messages and emails; a NUL or a megabyte must not.
    """
    try:
        return _text(value) or ""
    except _Invalid as bad:
        raise CaseDataError(case_id, name, value, str(bad)) from None


def parse_whole(case_id: int, name: str, value: Any) -> int:
    """A whole number on a related object (a proposal's status); empty is 0."""
    return _parsed(case_id, name, value, _whole, 0)


def parse_amount(case_id: int, name: str, value: Any) -> Decimal:
    """An amount on a related object (an invoice's total), read with the number limits."""
    if _is_empty(value):
        raise CaseDataError(case_id, name, value, "is missing")
    return _parsed(case_id, name, value, _number, Decimal(0))


def parse_day(case_id: int, name: str, value: Any, tz: tzinfo) -> date | None:
    """An optional date on a related object (an invoice's date); empty is None."""
    return _parsed(case_id, name, value, _date(tz), None)


def _date(tz: tzinfo) -> Callable[[Any], date]:
    def parse(value: Any) -> date:
        return _moment(value, tz).date()

    return parse


def _moment(value: Any, tz: tzinfo) -> datetime:
    """A plausible moment: rules add days to it, and year 1 or 9999 overflows them."""
    moment = _any_moment(value, tz)
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        raise _Invalid(f"is not a date (year {moment.year} is outside {_YEARS[0]}–{_YEARS[1]})")
    return moment


def _any_moment(value: Any, tz: tzinfo) -> datetime:
    """An epoch (int, float or digits), or an ISO date or date-time, local to `tz`."""
    if isinstance(value, bool):
        raise _Invalid("is not a date")
    if isinstance(value, int | float):
        return _epoch(value, tz)
    if not isinstance(value, str):
        raise _Invalid("is not a date")
    text = value.strip()
    if len(text) > _MAX_DATE_TEXT:
        raise _Invalid(f"is not a date (longer than {_MAX_DATE_TEXT} characters)")
    if _EPOCH.fullmatch(text):
        return _epoch(int(text), tz)
    return _iso(text, tz)


def _epoch(value: float, tz: tzinfo) -> datetime:
    if isinstance(value, float) and not value.is_integer():
        raise _Invalid("is not a date (a UNIX timestamp must be whole seconds)")
    try:
        return datetime.fromtimestamp(int(value), tz)
    except (OverflowError, OSError, ValueError):
        raise _Invalid("is not a date (timestamp out of range)") from None


def _iso(text: str, tz: tzinfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a date (expected YYYY-MM-DD or a UNIX timestamp)") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(tz)
    except OverflowError:  # "0001-01-01T00:00:00+14:00"
        raise _Invalid("is not a date (out of range)") from None


def _number(value: Any) -> Decimal:
    """A decimal number, read with limits: a hostile `1e2000000` must not cost CPU."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("is not a number")
    if isinstance(value, int) and abs(value) > _MAX_WHOLE:
        raise _Invalid(f"is out of range (more than {_MAX_WHOLE})")
    text = str(value).strip()
    if len(text) > _MAX_NUMBER_TEXT:
        raise _Invalid(f"is not a number (longer than {_MAX_NUMBER_TEXT} characters)")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Invalid("is not a number") from None
    if not number.is_finite():
        raise _Invalid("is not a number")
    if not -_MAX_DIGITS <= number.adjusted() <= _MAX_DIGITS:
        raise _Invalid("is out of range")
    return number


def _whole(value: Any) -> int:
    """Digits within Dolibarr's INT column; `1e309` is not a count, whatever Decimal says."""
    number = _number(value)
    if number != number.to_integral_value():
        raise _Invalid("is not a whole number")
    if abs(number) > _MAX_WHOLE:
        raise _Invalid(f"is out of range (more than {_MAX_WHOLE})")
    return int(number)


def _count(value: Any) -> int:
    count = _whole(value)
    if count < 0:
        raise _Invalid("is negative (a count must be 0 or more)")
    return count


def referred_by(case_id: int, raw: Mapping[str, Any], codes: Mapping[str, str]) -> int | None:
    """The partner a third party's `referred_by` names; None when none, or unreadable."""
    value = _lookup(raw, codes.get("referred_by", "referred_by"))
    try:
        return _parsed(case_id, "referred_by", value, _thirdparty_id, None)
    except CaseDataError:
        return None


def _thirdparty_id(value: Any) -> int | None:
    ident = _whole(value)
    if ident < 0:
        raise _Invalid("is not a third-party id (negative)")
    return ident or None


def _rate(unit: str) -> Callable[[Any], Decimal]:
    """A commission rate as a percentage: "15" is 15 % (or, stored as fractions, "0.15").

    "15%" is a percentage whatever the unit. Outside 0–100 % is an error: a
    rate of 150 % is a typo, never a commission.
    """

    def parse(value: Any) -> Decimal:
        text = value.strip() if isinstance(value, str) else value
        is_percent = isinstance(text, str) and text.endswith("%")
        rate = _number(text[:-1] if is_percent else text)
        if unit == "fraction" and not is_percent:
            if not 0 <= rate <= 1:
                raise _Invalid("is not between 0 and 1 (rates are fractions here: 0.15 = 15 %)")
            return rate * _HUNDRED
        if not 0 <= rate <= _HUNDRED:
            raise _Invalid("is not between 0 and 100 (a percentage: 15 = 15 %)")
        return rate

    return parse


def rate_warning(rate: Decimal | None, unit: str) -> str:
    """A stored percentage of 1 or less is most likely a fraction typed by habit."""
    if unit != "percent" or rate is None or not 0 < rate <= 1:
        return ""
    return f"commission_rate {percent(rate)} %; write 100 for 100 % (15 for 15 %)"


def percent(rate: Decimal) -> str:
    """A rate as people write it: 15, 2.5, 100 (no trailing zeros, no exponent)."""
    return format(rate.normalize(), "f")


def _flag(value: Any) -> bool:
    if value is True or value == 1:
        return True
    if value == 0:
        return False
    if not isinstance(value, str):
        raise _Invalid("is not a yes/no value (expected 1/0, yes/no or true/false)")
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid("is not a yes/no value (expected 1/0, yes/no or true/false)")


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid("is not text")
    if isinstance(value, int):
        return str(_whole(value))
    if len(value) > _MAX_TEXT:
        raise _Invalid(f"is longer than {_MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise _Invalid("contains control characters")
    return value.strip() or None


def _own_text(value: Any) -> str | None:
    """`onboarding_step`: syncd's own output, compared, never obeyed; junk is overwritten.

    Only a word-like value (or two joined by " / ") is kept: it goes into
    step_writeback's key, and so into an agenda event's label (varchar 255)
    and a sqlfilters LIKE.
    """
    try:
        text = _text(value)
    except _Invalid:
        return None
    if not text or len(text) > _MAX_STEP or not _STEP_WORDS.fullmatch(text):
        return None
    return text


def _step_name(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _names(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        raise _Invalid("is not a comma-separated list of rule names")
    _text(value)
    return frozenset(part.strip().lower() for part in value.split(",") if part.strip())
