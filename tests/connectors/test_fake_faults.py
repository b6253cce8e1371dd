"""Every fault kind on every write endpoint syncd uses, through both adapters.

The same fake must behave the same in-process (`use_responses`) and over real HTTP on
127.0.0.1 (`serve`): what the client sees (an answer, a read timeout, a reset, a body
cut short) and whether the server acted, read from the fake's own records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
import responses

from connectors.fakes.base import FakeBase
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.faults import FAULT_KINDS, WRITE_ENDPOINTS, FaultPlan, PlannedFault
from connectors.fakes.freescout import FreescoutFake
from connectors.fakes.matrix import FakeMatrix
from connectors.fakes.mautic import FakeMautic
from connectors.fakes.seed import seed_systems
from connectors.fakes.web import serve, use_responses

CLIENT_TIMEOUT = 0.2
STALL = 0.6  # past the client's timeout


@dataclass(frozen=True)
class Write:
    """One write request syncd makes, and how to read from the fake that it took effect."""

    name: str
    make: Callable[[], tuple[FakeBase, str, str, dict[str, str], Any]]
    effect: Callable[[Any], int]


def _dolibarr() -> FakeDolibarr:
    fake = FakeDolibarr()
    fake.add_thirdparty("Aster Labs", email="jane@aster.example")
    fake.category_id("Customer-Active")
    return fake


def _dolibarr_write(
    method: str, path: str, body: Any
) -> Callable[[], tuple[FakeBase, str, str, dict[str, str], Any]]:
    def make() -> tuple[FakeBase, str, str, dict[str, str], Any]:
        fake = _dolibarr()
        return fake, method, "/api/index.php" + path, {"DOLAPIKEY": fake.api_key}, body

    return make


def _mautic(path: str) -> Callable[[], tuple[FakeBase, str, str, dict[str, str], Any]]:
    def make() -> tuple[FakeBase, str, str, dict[str, str], Any]:
        fake, freescout, matrix = FakeMautic(), FreescoutFake(), FakeMatrix("demo.local")
        seed_systems(fake, freescout, matrix)
        fake.add_contact("jane@aster.example")
        auth = requests.auth._basic_auth_str("syncd", "demo-secret")
        return fake, "POST", path, {"Authorization": auth}, {"email": "bob@birch.example"}

    return make


def _freescout() -> tuple[FakeBase, str, str, dict[str, str], Any]:
    fake = FreescoutFake()
    fake.add_user("Predrag", "Sales", "sales@demo.example")
    fake.add_mailbox("Sales", "sales@demo.example")
    body = {
        "type": "email",
        "mailboxId": 1,
        "subject": "Hello",
        "customer": {"email": "jane@aster.example"},
        "threads": [{"type": "message", "user": 1, "text": "Hi <!-- syncd:k -->"}],
    }
    return fake, "POST", "/api/conversations", {"X-FreeScout-API-Key": fake.api_key}, body


def _matrix() -> tuple[FakeBase, str, str, dict[str, str], Any]:
    fake = FakeMatrix("demo.local")
    fake.add_user("@syncd:demo.local", "demo-token")
    fake.add_room("!sales:demo.local", members=("@syncd:demo.local",))
    path = "/_matrix/client/v3/rooms/!sales:demo.local/send/m.room.message/txn1"
    return fake, "PUT", path, {"Authorization": "Bearer demo-token"}, {"body": "hello"}


def _note(fake: Any) -> int:
    return int("[k]" in str(fake.thirdparties[1].fields.get("note_private") or ""))


def _tagged(fake: Any) -> int:
    return int(1 in fake.members[fake.category_id("Customer-Active")])


WRITES = [
    Write(
        "dolibarr agenda event",
        _dolibarr_write("POST", "/agendaevents", {"label": "[syncd] k", "type_code": "AC_OTH"}),
        lambda f: len(f.events),
    ),
    Write(
        "dolibarr private note",
        _dolibarr_write("PUT", "/thirdparties/1", {"note_private": "[k] paid"}),
        _note,
    ),
    Write("dolibarr tag", _dolibarr_write("PUT", "/thirdparties/1/categories/1", None), _tagged),
    Write("mautic contact", _mautic("/api/contacts/new"), lambda f: len(f.contacts) - 1),
    Write("mautic email", _mautic("/api/emails/1/contact/1/send"), lambda f: len(f.stats)),
    Write(
        "mautic segment",
        _mautic("/api/segments/1/contact/1/add"),
        lambda f: len(f.members[1]),
    ),
    Write("freescout conversation", _freescout, lambda f: len(f.conversations)),
    Write("matrix notice", _matrix, lambda f: len(f.events("!sales:demo.local"))),
]


@dataclass(frozen=True)
class Kind:
    name: str
    inject: Callable[[FakeBase, str, str], None]
    sees: str  # what the client sees: a status code, or the exception's class name
    applied: bool


KINDS = [
    Kind("5xx", lambda f, m, p: f.fail(m, p, status=503), "503", False),
    Kind(
        "5xx after apply", lambda f, m, p: f.fail(m, p, status=502, after_apply=True), "502", True
    ),
    Kind("429", lambda f, m, p: f.throttle(m, p, retry_after=3), "429", False),
    Kind("stall", lambda f, m, p: f.timeout(m, p, stall=STALL), "ReadTimeout", False),
    Kind(
        "stall after apply",
        lambda f, m, p: f.timeout(m, p, after_apply=True, stall=STALL),
        "ReadTimeout",
        True,
    ),
    Kind("reset", lambda f, m, p: f.drop(m, p), "ConnectionError", False),
    Kind(
        "reset after apply", lambda f, m, p: f.drop(m, p, after_apply=True), "ConnectionError", True
    ),
    Kind("truncated 200", lambda f, m, p: f.malformed(m, p), "200", True),
    Kind("non-JSON 200", lambda f, m, p: f.not_json(m, p), "200", True),
    Kind("cut 200", lambda f, m, p: f.cut(m, p), "ChunkedEncodingError", True),
]


@contextmanager
def _in_process(fake: FakeBase) -> Iterator[str]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        use_responses(fake, rsps, "http://fake.test")
        yield "http://fake.test"


@contextmanager
def _over_http(fake: FakeBase) -> Iterator[str]:
    with serve(fake) as url:
        yield url


ADAPTERS = {"use_responses": _in_process, "serve": _over_http}


def _outcome(
    url: str, method: str, path: str, headers: dict[str, str], body: Any
) -> tuple[str, requests.Response | None]:
    """The answer's status code, or the name of the exception the client raised."""
    try:
        answer = requests.request(
            method, url + path, headers=headers, json=body, timeout=CLIENT_TIMEOUT
        )
    except requests.RequestException as exc:
        return type(exc).__name__, None
    return str(answer.status_code), answer


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_fault_kind_on_write_endpoint(adapter: str, kind: Kind, write: Write) -> None:
    fake, method, path, headers, body = write.make()
    before = write.effect(fake)
    kind.inject(fake, method, path)
    with ADAPTERS[adapter](fake) as url:
        status, answer = _outcome(url, method, path, headers, body)
    assert status == kind.sees
    assert write.effect(fake) - before == int(kind.applied)
    if kind.name == "429":
        assert answer is not None and _wait_named(answer) == 3
    if kind.name in ("truncated 200", "non-JSON 200"):
        assert answer is not None
        with pytest.raises(ValueError):
            json.loads(answer.content)
    assert not fake.faults  # a fault with times=1 is spent


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_fault_strikes_only_its_times_then_the_fake_answers(adapter: str) -> None:
    fake, method, path, headers, body = _matrix()
    fake.fail(method, "/_matrix", status=500, times=2)
    with ADAPTERS[adapter](fake) as url:
        seen = [_outcome(url, method, path, headers, body) for _ in range(3)]
    assert [status for status, _ in seen] == ["500", "500", "200"]


def _four_fakes() -> dict[str, FakeBase]:
    fakes: dict[str, FakeBase] = {
        "dolibarr": _dolibarr(),
        "mautic": FakeMautic(),
        "freescout": FreescoutFake(),
        "matrix": FakeMatrix("demo.local"),
    }
    seed_systems(fakes["mautic"], fakes["freescout"], fakes["matrix"])
    return fakes


def test_fault_plan_replays_from_its_seed() -> None:
    plans = [FaultPlan.random(seed, count=(3, 6)) for seed in (7, 7, 8)]
    assert plans[0].faults == plans[1].faults
    assert plans[0].faults != plans[2].faults
    assert 3 <= len(plans[0].faults) <= 6


def test_fault_plan_covers_every_kind_and_write_endpoint_over_many_seeds() -> None:
    planned = [f for seed in range(200) for f in FaultPlan.random(seed).faults]
    assert {f.kind for f in planned} == set(FAULT_KINDS)
    writes = {(f.system, f.method, f.path_prefix) for f in planned}
    assert {(s, m, p) for s, eps in WRITE_ENDPOINTS.items() for m, p in eps} <= writes


def test_fault_plan_applies_to_the_fakes_and_counts_what_struck() -> None:
    fakes = _four_fakes()
    plan = FaultPlan(1, (PlannedFault("matrix", "5xx", "PUT", "/_matrix", 2),))
    plan.apply(fakes)
    _, method, path, headers, body = _matrix()  # seed_systems made the same user and room
    assert plan.struck() == {"5xx": 0}
    with _in_process(fakes["matrix"]) as url:
        assert _outcome(url, method, path, headers, body)[0] == "503"
    assert plan.struck() == {"5xx": 1}
    assert "matrix PUT /_matrix: 5xx ×2" in plan.describe()


def _wait_named(answer: requests.Response) -> float:
    """The wait a 429 names: `Retry-After`, or Mautic's `X-RateLimit-Reset` less `Date`."""
    if "Retry-After" in answer.headers:
        return float(answer.headers["Retry-After"])
    reset = float(answer.headers["X-RateLimit-Reset"])
    return reset - parsedate_to_datetime(answer.headers["Date"]).timestamp()
