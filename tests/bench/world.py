"""The benchmark's Dolibarr: a lived-in CRM of any size, and the changes people make to it.

Role: seed a `FakeDolibarr` with `count` third parties in the shapes a real
one holds (trials at every step, partners, old customers, untagged records,
each with a contact, some with proposals and invoices), and apply the "1 %
changed" mix between cycles. Everything is derived from the case number and a
seed, so two runs see the same world. It only calls the fake's seeding helpers:
it never speaks HTTP and never reads the real clock.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.fakes.dolibarr import FakeDolibarr
from connectors.fakes.seed import SYNCD_CATEGORIES

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning, far from midnight

# What a case is, by its number modulo 20: most are trials somewhere in the
# customer process, then partners, old customers and records no process has.
_TRIAL_TAGS: tuple[tuple[str, ...], ...] = (
    ("Trial",),
    ("Trial", "ICP-fit"),
    ("Trial", "ICP-fit"),
    ("Trial", "Not-ICP"),
    ("Trial", "ICP-fit", "EU-Project"),
    ("Trial", "ICP-fit", "Self-hosted"),
)
_PARTNER_TAGS: tuple[tuple[str, ...], ...] = (
    ("Partner-Prospect",),
    ("Partner-Qualified",),
    ("Partner-Declined",),
)

CHANGE_KINDS = ("field edits", "extrafield edits", "tags added", "tags removed", "new invoices")


@dataclass(frozen=True)
class Shape:
    """One case's seed: tags, extrafields, and the related rows it has."""

    tags: tuple[str, ...]
    options: dict[str, Any]
    invoice: str | None  # None, "paid" or "unpaid"
    proposal: bool


def shape(n: int, today: date) -> Shape:
    bucket = n % 20
    if bucket < 12:
        return _trial(n, today)
    if bucket < 14:
        tags = _PARTNER_TAGS[n % len(_PARTNER_TAGS)]
        options: dict[str, Any] = {"commission_rate": "0.10"} if n % 2 else {}
        return Shape(tags, options, None, False)
    if bucket < 18:  # a customer from before syncd: paid for years
        tags = ("Customer-Active",) if n % 2 else ()
        return Shape(tags, {}, "paid", False)
    return Shape((), {}, None, False)  # a supplier, a lead: in no process


def _trial(n: int, today: date) -> Shape:
    signup = today - timedelta(days=n % 16)
    options: dict[str, Any] = {
        "signup_date": signup,
        "logins_count": n % 7,
        "frameworks_mapped": n % 3,
    }
    if n % 4 == 1:
        options["onboarding_call_date"] = signup + timedelta(days=4)
    if n % 9 == 0:
        options["referred_by"] = 0  # filled in below, once partners exist
    return Shape(_TRIAL_TAGS[n % len(_TRIAL_TAGS)], options, None, n % 10 == 3)


def seed(fake: FakeDolibarr, count: int) -> dict[str, int]:
    """Create `count` third parties with their contacts, proposals and invoices."""
    for label in SYNCD_CATEGORIES:
        fake.category_id(label)
    today = datetime.fromtimestamp(fake.now, UTC).date()
    partners: list[int] = []  # qualified partners so far; referrals spread over them
    made: Counter[str] = Counter()
    for n in range(count):
        case = shape(n, today)
        options = dict(case.options)
        if "referred_by" in options:
            if partners:
                options["referred_by"] = partners[n % len(partners)]
            else:
                del options["referred_by"]
        created = START - timedelta(days=n % 16 if case.options else 400 + n % 900, hours=2)
        socid = fake.add_thirdparty(
            f"Company {n}",
            email=f"hello@company{n}.example",
            country_code=("FR", "DE", "ES", "NO")[n % 4],
            array_options=options or None,
            tags=case.tags,
            created_at=created,
        )
        if "Partner-Qualified" in case.tags:
            partners.append(socid)
        fake.add_contact(socid, "Alex", f"Person{n}", f"alex@company{n}.example")
        if case.proposal:
            fake.add_proposal(socid, f"PR2611-{n:05}")
        if case.invoice:
            fake.add_invoice(socid, f"FA2611-{n:05}", "1200.00", paid=case.invoice == "paid")
        made["cases"] += 1
        made["invoices"] += bool(case.invoice)
        made["proposals"] += case.proposal
    made["contacts"] = made["cases"]
    return dict(made)


def change(fake: FakeDolibarr, fraction: float, round_no: int) -> dict[str, int]:
    """Change `fraction` of the cases, as people do, in an equal mix of `CHANGE_KINDS`.

    Standard-field edits move the third party's `tms`, extrafield-only edits only
    its extrafields row's; tags touch neither (category membership); a new
    invoice, paid or not, is a row of its own. Each case changes once.
    """
    rng = random.Random(round_no)
    per_kind = max(1, round(len(fake.thirdparties) * fraction / len(CHANGE_KINDS)))
    tagged = {socid for ids in fake.members.values() for socid in ids}
    taken: set[int] = set()
    done: dict[str, int] = {}
    for kind in CHANGE_KINDS:
        pool = sorted((tagged if kind == "tags removed" else set(fake.thirdparties)) - taken)
        picked = rng.sample(pool, min(per_kind, len(pool)))
        for i, socid in enumerate(picked):
            _apply(fake, kind, socid, round_no, i)
        taken.update(picked)
        done[kind] = len(picked)
    return done


def tags_of(fake: FakeDolibarr, socid: int) -> list[str]:
    return [c.label for c in fake.categories.values() if socid in fake.members.get(c.id, ())]


def _apply(fake: FakeDolibarr, kind: str, socid: int, round_no: int, i: int) -> None:
    if kind == "field edits":
        fake.update_thirdparty(socid, phone=f"+33 1 00 {round_no:02} {i:04}")
    elif kind == "extrafield edits":
        fake.set_fields(socid, logins_count=10 + round_no)
    elif kind == "tags added":
        has = set(tags_of(fake, socid))
        if "Not-ICP" in has:  # qualified both ways would be a contradiction, not a change
            has.add("ICP-fit")
        fake.tag(socid, next(t for t in _ADDED if t not in has))
    elif kind == "tags removed":
        fake.untag(socid, tags_of(fake, socid)[-1])
    else:
        fake.add_invoice(socid, f"FA2612-{round_no:02}{i:05}", "900.00", paid=i % 2 == 0)


# A tag people add: qualifying a trial, starting one, or marking a customer.
_ADDED = ("ICP-fit", "Trial", "Customer-Active", "EU-Project")
