"""The fake Dolibarr against the recordings of the real one, plus its stateful behaviour.

The replay test seeds the fake with the minimum state a recorded request needs (ids taken
from the recording), sends the same request and compares status and body shape. The
behaviour tests pin the quirks syncd relies on. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.fakes.base import ConnectionLost
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.web import serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dolibarr"
PARIS = ZoneInfo("Europe/Paris")
KEY = {"DOLAPIKEY": "test-key"}

_WEBHOOK_PAYLOAD = "webhook payload captured by a sink, not a REST request"
SKIPPED: dict[str, str] = {
    "webhook_ACTION_CREATE_auto_event.json": _WEBHOOK_PAYLOAD,
    "webhook_CATEGORY_MODIFY_link.json": _WEBHOOK_PAYLOAD,
    "webhook_CATEGORY_MODIFY_unlink.json": _WEBHOOK_PAYLOAD,
    "webhook_COMPANY_CREATE.json": _WEBHOOK_PAYLOAD,
    "webhook_COMPANY_DELETE.json": _WEBHOOK_PAYLOAD,
    "webhook_COMPANY_MODIFY_no_caller.json": _WEBHOOK_PAYLOAD,
    "webhook_COMPANY_MODIFY_phantom_rolled_back.json": _WEBHOOK_PAYLOAD,
    "webhook_COMPANY_MODIFY_with_caller.json": _WEBHOOK_PAYLOAD,
    "webhook_blocking_target_down_put_fails.json": (
        "needs a blocking webhook target that is down; the fake has no webhook targets "
        "(reproduce it with fail('PUT', '/thirdparties', status=500))"
    ),
    "invoice_type_final_lines.json": (
        "GET /invoices/{id}/lines is not modelled; its (DEPOSIT) line is what list rows "
        "carry in `lines`, read by test_dolibarr_client"
    ),
    "tms_experiment_thirdparty.json": "experiment summary (steps), not one request",
    "timezone_experiment.json": "experiment summary across two PHP servers, not one request",
    "v22/tms_experiment_thirdparty.json": "experiment summary (steps), not one request",
    "v22/webhook_api_list.json": "the 22.0.4 webhook REST API is not modelled",
    "v22/webhook_target_create.json": "the 22.0.4 webhook REST API is not modelled",
    "v22/webhook_target_list.json": "the 22.0.4 webhook REST API is not modelled",
}
CLIENT_KEYS: tuple[str, ...] = ("id", "ref", "name", "email", "client", "country_code")
CLIENT_KEYS += ("date_creation", "date_modification", "array_options")


def _all_fixtures() -> list[str]:
    names = [p.name for p in FIXTURES.glob("*.json")]
    names += [f"v22/{p.name}" for p in (FIXTURES / "v22").glob("*.json")]
    return sorted(names)


REPLAYED = [n for n in _all_fixtures() if n not in SKIPPED]


def test_every_skip_names_a_real_fixture() -> None:
    assert set(SKIPPED) <= set(_all_fixtures())


# ---------------------------------------------------------------------- seeding
def _rows(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and "data" in body:
        body = body["data"]
    if isinstance(body, dict) and "id" in body:
        return [body]
    return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []


def _epoch(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else default


def _options_in(fake: FakeDolibarr, options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = key.removeprefix("options_")
        if fake.extrafields.get(name) == "date" and isinstance(value, int):
            out[name] = datetime.fromtimestamp(value, PARIS).date()
        elif value not in ("", None, False):
            out[name] = value
    return out


def _seed_tp(fake: FakeDolibarr, row: dict[str, Any], **extra: Any) -> int:
    socid = int(row["id"])
    if socid in fake.thirdparties:
        return socid
    modified = row.get("date_modification")
    options = row.get("array_options")
    has_row = modified != "" and not (
        isinstance(options, dict) and all(v is None for v in options.values())
    )
    fake.add_thirdparty(
        str(row.get("name") or f"Third party {socid}"),
        email=str(row.get("email") or ""),
        client=int(row.get("client") or 2),
        country_code=str(row.get("country_code") or ""),
        array_options=_options_in(fake, options if isinstance(options, dict) else {})
        if has_row
        else None,
        created_at=_epoch(modified, fake.now - 1),
        id=socid,
        **extra,
    )
    if isinstance(row.get("date_creation"), int):
        fake.thirdparties[socid].datec = row["date_creation"]
    return socid


def _seed_invoice(fake: FakeDolibarr, row: dict[str, Any]) -> None:
    _seed_tp(fake, {"id": row.get("socid") or 1})
    inv_id = int(row["id"])
    total = float(row.get("total_ht") or float(row.get("total_ttc") or 1200) / 1.2)
    fake.add_invoice(int(row.get("socid") or 1), str(row.get("ref") or inv_id), total, id=inv_id)
    inv = fake.invoices[inv_id]
    inv.status = int(row.get("statut") or 1)
    inv.paye = row.get("paye") == "1"
    inv.totalpaid = float(row.get("totalpaid") or 0)
    inv.type = int(row.get("type") or 0)
    inv.close_code, inv.close_note = row.get("close_code"), row.get("close_note")
    inv.source_id = int(row["fk_facture_source"]) if row.get("fk_facture_source") else None
    inv.currency = str(row.get("multicurrency_code") or "EUR")
    inv.mc_tx = float(row.get("multicurrency_tx") or 1)
    inv.tms = int(_epoch(row.get("date_modification"), fake.now - 1))


def _seed_event(fake: FakeDolibarr, row: dict[str, Any]) -> None:
    socid = int(row["socid"]) if row.get("socid") else None
    if socid:
        _seed_tp(fake, {"id": socid})
    fake.add_event(
        socid,
        str(row.get("label") or ""),
        type_code=str(row.get("type_code") or "AC_OTH_AUTO"),
        code=row.get("code"),
        datep=row.get("datep"),
        id=int(row["id"]),
    )


def _fill(fake: FakeDolibarr, res: str, query: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """Add rows before (earlier pages) and after (a recorded pagination total) the page."""
    limit, page = int(query.get("limit", 100)), int(query.get("page", 0))
    taken = {int(r["id"]) for r in rows}
    before = [i for i in range(1, 10_000) if i not in taken][: page * limit]
    template = rows[0]
    for fid in before:
        _seed_any(fake, res, template | {"id": str(fid)})
    after = max(_RECORDED_TOTALS.get("total", 0) - page * limit - len(rows), 0)
    start = max(taken | set(before)) + 1
    for fid in range(start, start + after):
        _seed_any(fake, res, template | {"id": str(fid)})


_RECORDED_TOTALS: dict[str, int] = {}


def _seed_any(fake: FakeDolibarr, res: str, row: dict[str, Any]) -> None:
    if res == "thirdparties":
        _seed_tp(fake, row)
    elif res == "invoices":
        _seed_invoice(fake, row)
    elif res == "agendaevents":
        _seed_event(fake, row)


def _seed_categories(fake: FakeDolibarr, rows: list[dict[str, Any]], socid: int | None) -> None:
    for row in rows:
        cid = int(row["id"])
        if cid not in fake.categories:
            fake.add_category(str(row["label"]), id=cid)
        if socid is not None:
            fake.members[cid].add(socid)


def _seed_thirdparty_paths(
    fake: FakeDolibarr, parts: list[str], status: int, body: Any, query: dict[str, str]
) -> None:
    rows = _rows(body)
    for row in rows:
        if "id" in row and "label" not in row:
            _seed_tp(fake, row)
    if len(parts) == 4:  # PUT/DELETE /thirdparties/{id}/categories/{cid}
        _seed_tp(fake, {"id": parts[1]})
        if status != 404:
            fake.add_category("Tag", id=int(parts[3]))
    elif len(parts) >= 2 and parts[1].isdigit() and status != 404:
        socid = _seed_tp(fake, {"id": parts[1]})
        if len(parts) == 3:  # GET /thirdparties/{id}/categories
            _seed_categories(fake, _rows(body), socid)
    if parts[1:2] == ["3"] and status == 404:  # thirdparty_get_404_deleted.json
        fake.delete_thirdparty(_seed_tp(fake, {"id": 3}))
    if len(parts) == 1 and status == 500:  # limit=0 + pagination_data needs rows
        _seed_tp(fake, {"id": 1})
    if query.get("category"):
        cid = int(query["category"])
        fake.add_category("Category", id=cid)
        fake.members[cid].update(int(r["id"]) for r in rows)
    if len(parts) == 1 and rows:
        _fill(fake, "thirdparties", query, rows)


def _seed_category_paths(
    fake: FakeDolibarr, parts: list[str], status: int, body: Any, query: dict[str, str]
) -> None:
    if len(parts) == 1:
        _seed_categories(fake, _rows(body), None)
        return
    if parts[1] == "object":  # GET /categories/object/customer/{id}
        _seed_categories(fake, _rows(body), _seed_tp(fake, {"id": parts[3]}))
        return
    if status == 404:
        return
    cid = int(parts[1])
    fake.add_category(str(body.get("label", "Tag")) if isinstance(body, dict) else "Tag", id=cid)
    if len(parts) == 5:  # POST/DELETE /categories/{id}/objects/customer/{oid}
        fake.members[cid].add(_seed_tp(fake, {"id": parts[4]}))
    elif isinstance(body, list):
        ids = [int(x) for x in body] if body and isinstance(body[0], str) else []
        ids += [_seed_tp(fake, row) for row in _rows(body)]
        for socid in ids:
            _seed_tp(fake, {"id": socid})
            fake.members[cid].add(socid)


def _seed_simple(fake: FakeDolibarr, res: str, parts: list[str], fx: dict[str, Any]) -> None:
    req, resp = fx["request"], fx["response"]
    body, rows = resp["body"], _rows(resp["body"])
    if res == "contacts":
        for row in rows:
            socid = _seed_tp(fake, {"id": row["socid"]}) if row.get("socid") else None
            names = (row.get("firstname") or "", row.get("lastname") or "", row.get("email") or "")
            fake.add_contact(socid, *names, id=int(row["id"]))
    elif res == "proposals":
        for row in rows:
            socid = _seed_tp(fake, {"id": row["socid"]})
            fake.add_proposal(socid, str(row["ref"]), int(row["statut"]), id=int(row["id"]))
    elif res == "invoices":
        _seed_invoices(fake, parts, fx, rows)
    elif res == "agendaevents":
        for row in rows:
            _seed_event(fake, row)
        if isinstance(body, dict) and "pagination" in body:
            _fill(fake, "agendaevents", _query(req), rows)
    elif res == "setup" and parts[1:2] == ["conf"]:
        fake.conf.update(body if isinstance(body, dict) else {})
        if isinstance(body, str) and len(parts) == 3:
            fake.set_conf(parts[2], body)
    elif res == "setup" and resp["status"] == 200 and req["method"] == "POST":
        del fake.extrafields[parts[-1]]
    if isinstance(req.get("body"), dict) and req["body"].get("socid"):
        _seed_tp(fake, {"id": req["body"]["socid"]})


def _seed_invoices(
    fake: FakeDolibarr, parts: list[str], fx: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    resp = fx["response"]
    if len(parts) == 3:  # settopaid / payments on one invoice
        _seed_invoice(fake, {"id": parts[1], "socid": 20, "total_ht": 800})
        if resp["status"] == 304 or (parts[2] == "payments" and fx["request"]["method"] == "GET"):
            fake.pay_invoice(int(parts[1]))
        return
    for row in rows:
        _seed_invoice(fake, row)
    if isinstance(resp["body"], dict) and "pagination" in resp["body"]:
        _fill(fake, "invoices", _query(fx["request"]), rows)


_ADJUST: dict[str, dict[str, Any]] = {
    "sqlfilters_datec_and_client.json": {"client": 1},
    "sqlfilters_like_email.json": {"email": "ops@acme-analytics.example"},
}
_EXTRAS: dict[str, dict[str, Any]] = {
    "sqlfilters_extrafield.json": {"onboarding_step": "trial_signup"},
    "v22/sqlfilters_extrafield.json": {"onboarding_step": "trial_signup"},
    "sqlfilters_is_null.json": {"referred_by": 2},
}


def _seed(fake: FakeDolibarr, name: str, fx: dict[str, Any]) -> None:
    req, resp = fx["request"], fx["response"]
    parts = req["path"].removeprefix("/api/index.php").strip("/").split("/")
    _RECORDED_TOTALS.clear()
    body = resp["body"]
    if isinstance(body, dict) and isinstance(body.get("pagination"), dict):
        _RECORDED_TOTALS["total"] = int(body["pagination"]["total"])
    if parts[0] == "thirdparties":
        _seed_thirdparty_paths(fake, parts, resp["status"], body, _query(req))
    elif parts[0] == "categories":
        _seed_category_paths(fake, parts, resp["status"], body, _query(req))
    else:
        _seed_simple(fake, parts[0], parts, fx)
    for tp in fake.thirdparties.values():
        tp.fields.update(_ADJUST.get(name, {}))
        tp.extras.update(_EXTRAS.get(name, {}))


def _query(req: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in req.get("query", {}).items()}


def _fake_for(name: str, fx: dict[str, Any]) -> FakeDolibarr:
    recorded_at = fx["response"]["headers"].get("Date")
    fake = FakeDolibarr(
        api_key="<API_KEY>",
        version="22.0.4" if name.startswith("v22/") else "23.0.0-beta",
        production_mode=name.startswith("prodmode_"),
        now=parsedate_to_datetime(recorded_at).timestamp() if recorded_at else 1795375862.0,
    )
    fake.add_api_key("<API_KEY_NOPERM>", rights=False)
    return fake


# ---------------------------------------------------------------------- replay
def _send(fake: FakeDolibarr, req: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    raw = req.get("body")
    body = raw.encode() if isinstance(raw, str) else None if raw is None else json.dumps(raw)
    payload = body.encode() if isinstance(body, str) else body
    return fake.handle(req["method"], req["path"], _query(req), req["headers"], payload)


def _same_type(ours: Any, theirs: Any) -> bool:
    numbers = (int, float)
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return type(ours) is type(theirs)
    if isinstance(theirs, numbers) and isinstance(ours, numbers):
        return True
    return type(ours) is type(theirs) or theirs is None


def _check_object(ours: dict[str, Any], theirs: dict[str, Any], trimmed: bool) -> None:
    if trimmed:
        assert set(ours) == set(theirs)
    keys = [k for k in (theirs if trimmed else CLIENT_KEYS) if k in theirs]
    for key in keys:
        assert key in ours, key
        assert _same_type(ours[key], theirs[key]), (key, ours[key], theirs[key])
    options = theirs.get("array_options")
    if isinstance(options, dict) and options:
        assert set(options) <= set(ours["array_options"])
        for key, value in options.items():
            assert _same_type(ours["array_options"][key], value), (key, value)


def _check_body(ours: Any, theirs: Any, trimmed: bool) -> None:
    assert _same_type(ours, theirs), (ours, theirs)
    if isinstance(theirs, dict) and "error" in theirs:
        assert ours["error"]["code"] == theirs["error"]["code"]
        assert ours["error"]["message"] == theirs["error"]["message"]
        assert ("debug" in ours) == ("debug" in theirs)
    elif isinstance(theirs, dict) and "pagination" in theirs:
        assert ours["pagination"] == theirs["pagination"]
        _check_body(ours["data"], theirs["data"], trimmed)
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs)
        if theirs and isinstance(theirs[0], dict) and "id" in theirs[0]:
            by_id = {row["id"]: row for row in ours}
            assert set(by_id) == {row["id"] for row in theirs}
            for row in theirs:
                _check_object(by_id[row["id"]], row, trimmed)
        elif theirs and isinstance(theirs[0], dict):
            assert [set(row) for row in ours] == [set(row) for row in theirs]
        else:
            assert ours == theirs
    elif isinstance(theirs, dict) and "id" in theirs:
        _check_object(ours, theirs, trimmed)
    elif isinstance(theirs, dict) and "success" in theirs:
        assert set(ours["success"]) == set(theirs["success"])


@pytest.mark.parametrize("name", REPLAYED)
def test_replay(name: str) -> None:
    fx = json.loads((FIXTURES / name).read_text())
    fake = _fake_for(name, fx)
    _seed(fake, name, fx)
    status, _headers, raw = _send(fake, fx["request"])
    expected = fx["response"]
    assert status == expected["status"], raw[:300]
    content_type = expected["headers"].get("Content-Type") or ""
    if "json" not in content_type:
        assert raw.decode() == expected["body"]
        return
    ours = json.loads(raw) if raw else ""
    _check_body(ours, expected["body"], trimmed=bool(_query(fx["request"]).get("properties")))


# ---------------------------------------------------------------------- behaviour
def _get(fake: FakeDolibarr, path: str, **query: str) -> tuple[int, Any]:
    status, _headers, raw = fake.handle("GET", f"/api/index.php{path}", query, KEY, None)
    return status, json.loads(raw) if raw else None


def _put(fake: FakeDolibarr, path: str, payload: Any) -> tuple[int, Any]:
    data = json.dumps(payload).encode()
    status, _headers, raw = fake.handle("PUT", f"/api/index.php{path}", {}, KEY, data)
    return status, json.loads(raw) if raw else None


def test_pagination_404_past_end(dolibarr: FakeDolibarr) -> None:
    for i in range(7):
        dolibarr.add_thirdparty(f"Company {i}")
    assert [len(_get(dolibarr, "/thirdparties", limit="5", page=p)[1]) for p in "01"] == [5, 2]
    status, body = _get(dolibarr, "/thirdparties", limit="5", page="2")
    assert (status, body["error"]["message"]) == (404, "Not Found: No third parties found")
    status, body = _get(dolibarr, "/thirdparties", limit="5", page="1", pagination_data="true")
    assert body["pagination"] == {"total": 7, "page": 1, "page_count": 2, "limit": 5}


def test_tagging_leaves_date_modification_unchanged(dolibarr: FakeDolibarr) -> None:
    socid = dolibarr.add_thirdparty("Acme", array_options={"onboarding_step": "trial_signup"})
    before = _get(dolibarr, f"/thirdparties/{socid}")[1]["date_modification"]
    dolibarr.advance(120)
    trial = dolibarr.category_id("Trial")
    dolibarr.handle("PUT", f"/thirdparties/{socid}/categories/{trial}", {}, KEY, None)
    dolibarr.handle("POST", f"/categories/2/objects/customer/{socid}", {}, KEY, None)
    assert _get(dolibarr, f"/thirdparties/{socid}")[1]["date_modification"] == before
    members = _get(dolibarr, f"/categories/{trial}/objects", type="customer", onlyids="1")[1]
    assert members == [str(socid)]
    dolibarr.handle("DELETE", f"/categories/{trial}/objects/customer/{socid}", {}, KEY, None)
    assert _get(dolibarr, f"/categories/{trial}/objects", type="customer", onlyids="1")[1] == []
    assert _get(dolibarr, f"/thirdparties/{socid}")[1]["date_modification"] == before


def test_extrafield_only_put_moves_only_ef_tms(dolibarr: FakeDolibarr) -> None:
    socid = dolibarr.add_thirdparty("Acme", array_options={"logins_count": 3})
    cutoff = datetime.fromtimestamp(dolibarr.now, PARIS).strftime("%Y-%m-%d %H:%M:%S")
    dolibarr.advance(60)
    status, body = _put(dolibarr, f"/thirdparties/{socid}", {"array_options": {"logins_count": 4}})
    assert status == 200 and body["array_options"]["options_logins_count"] == "4"
    assert body["date_modification"] == int(dolibarr.now)  # v23: GREATEST(tms, ef.tms)
    status, _ = _get(dolibarr, "/thirdparties", sqlfilters=f"(t.tms:>:'{cutoff}')")
    assert status == 404
    both = f"((t.tms:>:'{cutoff}') or (ef.tms:>:'{cutoff}'))"
    assert [r["id"] for r in _get(dolibarr, "/thirdparties", sqlfilters=both)[1]] == [str(socid)]
    dolibarr.advance(60)
    _put(dolibarr, f"/thirdparties/{socid}", {"array_options": {"options_logins_count": 4}})
    assert dolibarr.thirdparties[socid].ef_tms == int(dolibarr.now) - 60  # no-op PUT


def test_sqlfilters_read_literals_in_server_local_time(dolibarr: FakeDolibarr) -> None:
    created = datetime(2026, 11, 22, 20, 30, tzinfo=PARIS)  # 19:30 UTC
    dolibarr.add_thirdparty("Acme", created_at=created, array_options={})
    found = _get(dolibarr, "/thirdparties", sqlfilters="(t.tms:>:'2026-11-22 20:00:00')")
    assert found[0] == 200
    # The UTC rendering of a cutoff just before creation is read as local time: it misses.
    utc_cutoff = "(t.tms:>:'2026-11-22T19:45:00Z')"
    assert _get(dolibarr, "/thirdparties", sqlfilters=utc_cutoff)[0] == 200
    assert _get(dolibarr, "/thirdparties", sqlfilters="(t.tms:>:'2026-11-22T20:45:00Z')")[0] == 404


def test_date_extrafields_are_local_midnight_epochs(dolibarr: FakeDolibarr) -> None:
    socid = dolibarr.add_thirdparty("Acme", array_options={"signup_date": date(2026, 11, 11)})
    options = _get(dolibarr, f"/thirdparties/{socid}")[1]["array_options"]
    assert options["options_signup_date"] == 1794351600  # thirdparty_put_extrafield_date_string
    assert options["options_briefing_date"] == ""


def test_fault_429_with_retry_after_then_recovers(dolibarr: FakeDolibarr) -> None:
    dolibarr.add_thirdparty("Acme")
    dolibarr.fail("GET", "/thirdparties", status=429, headers={"Retry-After": "7"})
    status, headers, _ = dolibarr.handle("GET", "/api/index.php/thirdparties", {}, KEY, None)
    assert (status, headers["Retry-After"]) == (429, "7")
    assert _get(dolibarr, "/thirdparties")[0] == 200


def test_drop_after_apply_keeps_the_write(dolibarr: FakeDolibarr) -> None:
    socid = dolibarr.add_thirdparty("Acme", array_options={})
    dolibarr.drop("PUT", "/thirdparties", after_apply=True)
    with pytest.raises(ConnectionLost):
        _put(dolibarr, f"/thirdparties/{socid}", {"array_options": {"onboarding_step": "x"}})
    assert dolibarr.thirdparties[socid].extras["onboarding_step"] == "x"


def test_request_log_counts(dolibarr: FakeDolibarr) -> None:
    dolibarr.add_thirdparty("Acme")
    _get(dolibarr, "/thirdparties")
    _get(dolibarr, "/thirdparties/1")
    _get(dolibarr, "/categories", type="customer")
    assert dolibarr.count() == 3
    assert dolibarr.count("GET", "/thirdparties") == 2
    assert dolibarr.requests[0].path == "/thirdparties"
    dolibarr.clear_log()
    assert dolibarr.count() == 0


def test_auth_errors(dolibarr: FakeDolibarr) -> None:
    status, _, raw = dolibarr.handle("GET", "/thirdparties", {}, {"DOLAPIKEY": "nope"}, None)
    assert status == 401 and json.loads(raw)["error"]["code"] == 401
    dolibarr.add_api_key("reader", rights=False)
    assert dolibarr.handle("GET", "/thirdparties", {}, {"DOLAPIKEY": "reader"}, None)[0] == 403


def test_serve_answers_over_real_http(dolibarr: FakeDolibarr) -> None:
    socid = dolibarr.add_thirdparty("Acme", email="ops@acme.example")
    with serve(dolibarr) as base:
        assert base.startswith("http://127.0.0.1:")
        answer = requests.get(f"{base}/api/index.php/thirdparties/{socid}", headers=KEY, timeout=5)
        assert answer.status_code == 200 and answer.json()["email"] == "ops@acme.example"
        dolibarr.drop("GET", "/status")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/api/index.php/status", headers=KEY, timeout=5)


def test_responses_adapter(dolibarr: FakeDolibarr, dolibarr_url: str) -> None:
    dolibarr.add_thirdparty("Acme")
    answer = requests.get(f"{dolibarr_url}/api/index.php/thirdparties", headers=KEY, timeout=5)
    assert [row["name"] for row in answer.json()] == ["Acme"]
    dolibarr.timeout("GET", "/thirdparties")
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{dolibarr_url}/api/index.php/thirdparties", headers=KEY, timeout=5)
    dolibarr.malformed("GET", "/thirdparties")
    with pytest.raises(ValueError):
        requests.get(f"{dolibarr_url}/api/index.php/thirdparties", headers=KEY, timeout=5).json()
