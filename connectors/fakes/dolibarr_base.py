"""The shared core of the fake Dolibarr's route handlers: state, ids, request bodies, lists.

Role: declare the state every handler mixin reads (`DolibarrBase`; `FakeDolibarr.__init__`
sets it), hand out ids and timestamps from the fake clock, decode request bodies, and answer
any list endpoint (sqlfilters, sortfield, limit/page, properties, pagination_data) the way
Dolibarr does. It must never speak HTTP, import `requests`/`responses`, sleep, or read the
real clock: `now` is state that tests advance.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes import sqlfilters as sf
from connectors.fakes.base import FakeBase, Response
from connectors.fakes.base import Request as BaseRequest
from connectors.fakes.dolibarr_bodies import HTML_HEADERS, HttpError, Json, ok
from connectors.fakes.dolibarr_rows import (
    CategoryRow,
    ContactRow,
    EventRow,
    InvoiceRow,
    ProposalRow,
    ThirdPartyRow,
)


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


class DolibarrBase(FakeBase):
    """The state the handler mixins share, the fake clock's stamps, and the generic list."""

    now: float
    # How far the database's clock runs from PHP's, in seconds: `tms` columns are the
    # database's, `date_creation` and /status are PHP's (QUIRKS.md, "Time").
    db_clock_offset: float
    timezone: str
    version: str
    production_mode: bool
    extrafields: dict[str, str]  # name → type, as in llx_extrafields
    api_keys: dict[str, bool]  # key → has rights
    conf: dict[str, str]
    thirdparties: dict[int, ThirdPartyRow]
    categories: dict[int, CategoryRow]
    members: dict[int, set[int]]  # category id → third-party ids
    contacts: dict[int, ContactRow]
    proposals: dict[int, ProposalRow]
    invoices: dict[int, InvoiceRow]
    events: dict[int, EventRow]
    auth_failures: int
    _next_ids: dict[str, int]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _stamp(self) -> int:
        """PHP's time: `date_creation`, `datep`, /status."""
        return int(self.now)

    def _tms(self) -> int:
        """The database's time, as `tms` (and so `date_modification`) comes back.

        With the database session in UTC and PHP in Europe/Paris, `tms` comes
        back an hour early (QUIRKS.md, "The database's clock zone can differ").
        """
        return int(self.now + self.db_clock_offset)

    def _new_id(self, kind: str, explicit: int | None = None) -> int:
        new = explicit if explicit is not None else self._next_ids.get(kind, 1)
        self._next_ids[kind] = max(self._next_ids.get(kind, 1), new + 1)
        return new

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
        limit, page = int_param(q, "limit", 100), int_param(q, "page", 0)
        total = len(selected)
        shown = selected[page * limit : (page + 1) * limit] if limit > 0 else selected
        if not shown and spec.empty_404:  # thirdparties_list_empty.json / …page_past_end.json
            raise HttpError(404, spec.empty_404, "api_thirdparties.class.php:270")
        wants_envelope = q.get("pagination_data", "").lower() in ("true", "1")
        if wants_envelope and limit == 0:  # thirdparties_list_limit0_pagination_data.json
            return 500, dict(HTML_HEADERS), b""
        props = requested_props(q)
        out: Json = [trim_props(spec.render(r), props) for r in shown]
        if wants_envelope:  # thirdparties_list_pagination_data.json
            count = math.ceil(total / limit)
            pagination = {"total": total, "page": page, "page_count": count, "limit": limit}
            out = {"data": out, "pagination": pagination}
        return ok(out)

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


def _sql_error(spec: ListSpec, column: str, clause: str) -> str:
    return f"Error when retrieve {spec.resource} : Unknown column '{column}' in '{clause}'"


def parse_id(raw: str) -> int:
    if not raw.isdigit():  # thirdparty_get_bad_id.json
        raise HttpError(400, "invalid value specified for `id`", "Routes.php:457", "route")
    return int(raw)


def int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise HttpError(400, f"invalid value specified for `{name}`", "Routes.php:457") from None


def requested_props(query: Mapping[str, str]) -> list[str]:
    return [p.strip() for p in (query.get("properties") or "").split(",") if p.strip()]


def trim_props(obj: dict[str, Any], props: list[str]) -> dict[str, Any]:
    """properties=a,b trims keys, keeping the object's own key order."""
    return {k: v for k, v in obj.items() if k in props} if props else obj


def _column_key(spec: ListSpec, col: str) -> Callable[[Any], tuple[int, Any]]:
    return lambda row: _sort_key(spec.resolver(row)(col))


def _sort_key(value: sf.Scalar) -> tuple[int, Any]:
    if value is None:
        return (0, 0)  # NULLs first in ascending order, as in MariaDB
    return (1, value.casefold() if isinstance(value, str) else value)


def by_socids(rows: Iterable[Any], raw: str | None) -> list[Any]:
    if not raw:
        return list(rows)
    wanted = {int(p) for p in str(raw).split(",") if p.strip().isdigit()}
    return [r for r in rows if r.socid in wanted]
