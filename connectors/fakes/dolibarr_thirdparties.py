"""Route handlers of the fake Dolibarr for third parties and their customer categories.

Role: `ThirdPartyRoutes`, a mixin of `FakeDolibarr`: /thirdparties (list, get, by email,
create, partial update, delete), /categories and the links between the two, with the
extrafield conversions Dolibarr applies on the way in. It changes only the state declared
on `DolibarrBase`; it must never speak HTTP, import `requests`/`responses`, sleep, or read
the real clock.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from connectors.fakes import sqlfilters as sf
from connectors.fakes.base import Response
from connectors.fakes.dolibarr_base import (
    DolibarrBase,
    ListSpec,
    Request,
    int_param,
    parse_id,
)
from connectors.fakes.dolibarr_bodies import (
    HttpError,
    category_body,
    category_short,
    ok,
    thirdparty_body,
)
from connectors.fakes.dolibarr_rows import (
    COUNTRY_IDS,
    TP_WRITABLE,
    CategoryRow,
    ThirdPartyRow,
    category_resolver,
)


class ThirdPartyRoutes(DolibarrBase):
    """/thirdparties and /categories: the objects syncd reads, tags and updates."""

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
                "t.fk_pays": COUNTRY_IDS.get(str(tp.fields.get("country_code") or "")),
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
        mode = int_param(req.query, "mode", 0)
        category = int_param(req.query, "category", 0)
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
        tp = self.thirdparties.get(parse_id(raw))
        if tp is None:  # thirdparty_get_404.json / thirdparty_get_404_deleted.json
            raise HttpError(404, "Thirdparty not found", source)
        return tp

    def _get_thirdparty(self, _req: Request, m: re.Match[str]) -> Response:
        return ok(self._tp_body(self._tp_or_404(m["id"])))

    def _get_thirdparty_by_email(self, _req: Request, m: re.Match[str]) -> Response:
        wanted = m["email"].casefold()  # thirdparty_by_email.json
        for tp in self.thirdparties.values():
            if str(tp.fields.get("email") or "").casefold() == wanted:
                return ok(self._tp_body(tp))
        raise HttpError(404, "Thirdparty not found", "api_thirdparties.class.php:2611")

    def _post_thirdparty(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()
        if not data.get("name"):  # thirdparty_create_missing_name.json
            raise HttpError(400, "name field missing", "api_thirdparties.class.php:2569")
        options = data.get("array_options") or {}
        # thirdparty_create.json: on create, only `options_`-prefixed keys are taken
        extras = {k[8:]: v for k, v in options.items() if k.startswith("options_")}
        fields = {k: v for k, v in data.items() if k in TP_WRITABLE}
        return ok(self._create_thirdparty(fields, extras if options else None))

    def _create_thirdparty(
        self, fields: Mapping[str, Any], extras: Mapping[str, Any] | None, *, id: int | None = None
    ) -> int:
        stamp = self._stamp()
        defaults: dict[str, Any] = {"client": 0, "fournisseur": 0, "email": "", "country_code": ""}
        tp = ThirdPartyRow(self._new_id("thirdparty", id), {}, stamp, self._tms())
        tp.fields = defaults | {k: _normalise_std(k, v) for k, v in fields.items()}
        if extras is not None:
            tp.extras = self._convert_extras(extras)
            tp.ef_tms = tp.tms
        self.thirdparties[tp.id] = tp
        return tp.id

    def _put_thirdparty(self, req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"], "api_thirdparties.class.php:375")  # thirdparty_put_404.json
        data = req.json_object()
        self._update(tp, data, data.get("array_options"))
        # thirdparty_put_partial_extrafield.json: returns the refetched object
        return ok(self._tp_body(tp, "put"))

    def _update(self, tp: ThirdPartyRow, fields: Mapping[str, Any], options: Any) -> None:
        """A partial update: bump `tms` / `ef_tms` only for what really changed."""
        new_extras = self._convert_extras(options) if isinstance(options, dict) else {}
        std = {k: _normalise_std(k, v) for k, v in fields.items() if k in TP_WRITABLE}
        if any(tp.fields.get(k) != v for k, v in std.items()):  # thirdparty_put_fields.json
            tp.fields.update(std)
            tp.tms = self._tms()
        merged = tp.extras | new_extras
        if isinstance(options, dict) and (tp.ef_tms is None or merged != tp.extras):
            # sqlfilters_tms_only_misses_extrafield_change.json: only the ef row moves;
            # thirdparty_put_noop.json: identical values move nothing
            tp.extras = merged
            tp.ef_tms = self._tms()

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
        return ok({"success": {"code": 200, "message": "Object deleted"}})  # thirdparty_delete.json

    def _remove_thirdparty(self, socid: int) -> None:
        del self.thirdparties[socid]
        for members in self.members.values():
            members.discard(socid)

    def _tp_body(
        self, tp: ThirdPartyRow, view: Literal["get", "list", "put"] = "get"
    ) -> dict[str, Any]:
        return thirdparty_body(
            tp, view, extrafields=self.extrafields, tz=self.tz, version=self.version
        )

    # ------------------------------------------------------------------ categories
    def _cat_or_404(self, raw: str, source: str = "api_categories.class.php:87") -> CategoryRow:
        cat = self.categories.get(parse_id(raw))
        if cat is None:  # category_get_404.json / thirdparty_add_category_404_category.json
            raise HttpError(404, "category not found", source)
        return cat

    def _cat_spec(self) -> ListSpec:
        kinds: dict[str, sf.Kind] = {"t.rowid": "int", "t.label": "str", "t.type": "int"}
        return ListSpec("categories", kinds, category_resolver, category_body, "t.rowid")

    def _list_categories(self, req: Request, _m: re.Match[str]) -> Response:
        wanted = req.query.get("type", "customer")
        rows = [c for c in self.categories.values() if c.type == wanted]
        return self._list(req, rows, self._cat_spec())  # categories_list_empty.json: 200 []

    def _post_category(self, req: Request, _m: re.Match[str]) -> Response:
        data = req.json_object()  # category_create.json: returns the bare id
        if not data.get("label"):
            raise HttpError(400, "label field missing", "api_categories.class.php:300")
        kind = str(data.get("type", "customer"))
        return ok(
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
        return ok(category_body(self._cat_or_404(m["id"])))

    def _get_category_objects(self, req: Request, m: re.Match[str]) -> Response:
        cat = self._cat_or_404(m["id"])
        if req.query.get("type") != "customer":
            return ok([])  # category_objects_empty.json
        ids = sorted(self.members.get(cat.id, set()) & self.thirdparties.keys())
        if req.query.get("onlyids") in ("1", "true"):
            return ok([str(i) for i in ids])  # category_objects_customer_onlyids.json
        return ok([self._tp_body(self.thirdparties[i], "list") for i in ids])

    def _link_object(self, req: Request, m: re.Match[str]) -> Response:
        cat, tp = self._link_target(m)
        self.members[cat.id].add(tp.id)  # category_link_object(_duplicate).json; tms untouched
        msg = "Objects successfully linked to the category"
        return ok({"success": {"code": 200, "message": msg}})

    def _unlink_object(self, req: Request, m: re.Match[str]) -> Response:
        cat, tp = self._link_target(m)
        self.members[cat.id].discard(tp.id)  # category_unlink_object.json
        msg = "Objects successfully unlinked from the category"
        return ok({"success": {"code": 200, "message": msg}})

    def _link_target(self, m: re.Match[str]) -> tuple[CategoryRow, ThirdPartyRow]:
        cat = self._cat_or_404(m["id"])
        if m["sub"] != "customer":
            raise HttpError(400, "Only customer type is supported by this fake")
        return cat, self._tp_or_404(m["oid"])

    def _get_thirdparty_categories(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        return ok([category_short(c) for c in self._categories_of(tp.id)])

    def _get_object_categories(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        return ok([category_short(c) for c in self._categories_of(tp.id)])

    def _categories_of(self, socid: int) -> list[CategoryRow]:
        return [c for cid, c in sorted(self.categories.items()) if socid in self.members[cid]]

    def _put_thirdparty_category(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        cat = self._cat_or_404(m["sub"], "api_thirdparties.class.php:718")
        self.members[cat.id].add(tp.id)  # thirdparty_add_category.json: tms untouched
        return ok(self._tp_body(tp, "list"))

    def _delete_thirdparty_category(self, _req: Request, m: re.Match[str]) -> Response:
        tp = self._tp_or_404(m["id"])
        cat = self._cat_or_404(m["sub"], "api_thirdparties.class.php:760")
        self.members[cat.id].discard(tp.id)  # thirdparty_remove_category.json
        return ok(self._tp_body(tp, "list"))


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
