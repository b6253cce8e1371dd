"""Sample data for `syncd demo`: a dozen cases covering both processes and every exception.

Dates are relative to the fake's clock, so the demo reads the same on any day.
It only calls the fake's seeding helpers; it never talks HTTP.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.fakes.dolibarr import FakeDolibarr

SYNCD_CATEGORIES = (
    "Trial",
    "ICP-fit",
    "Not-ICP",
    "EU-Project",
    "Self-hosted",
    "Customer-Active",
    "Partner-Prospect",
    "Partner-Qualified",
    "Partner-Declined",
    "Partner-Active",
)


def seed_demo(fake: FakeDolibarr) -> dict[str, int]:
    """Create the demo's categories and cases; return their ids by name."""
    for label in SYNCD_CATEGORIES:
        fake.category_id(label)
    today = datetime.fromtimestamp(fake.now, UTC).date()
    ids: dict[str, int] = {}

    def add(name: str, tags: tuple[str, ...], signup_days_ago: int, **options: Any) -> int:
        signup = today - timedelta(days=signup_days_ago)
        options = {"signup_date": signup, **options}
        email = options.pop("email", f"hello@{name.split()[0].lower()}.example")
        country = options.pop("country", "DE")
        created = datetime.combine(signup, datetime.min.time(), UTC) + timedelta(hours=9)
        ids[name] = fake.add_thirdparty(
            name,
            email=email,
            country_code=country,
            array_options=options,
            tags=tags,
            created_at=created,
        )
        return ids[name]

    def on(days: int) -> date:
        return today + timedelta(days=days)

    partner = add(
        "Quartz Partners",
        ("Partner-Qualified",),
        40,
        country="FR",
        commission_rate="15",
        discovery_call_date=on(-20),
        briefing_date=on(-6),
        directory_consent=1,
        agreement_signed_date=on(-2),
    )
    add("Aster Labs", ("Trial",), 0)
    add("Birch Data", ("Trial",), 3)
    add("Cobalt GmbH", ("Trial", "Not-ICP"), 8)
    add("Delta Analytics", ("Trial", "ICP-fit"), 2)
    add("Echo Systems", ("Trial", "ICP-fit"), 4, onboarding_call_date=on(1))
    add("Fjord AS", ("Trial", "ICP-fit"), 7, onboarding_call_date=on(-1), country="NO")
    helix = add(
        "Helix Ltd",
        ("Trial", "ICP-fit"),
        11,
        onboarding_call_date=on(-6),
        logins_count=5,
        frameworks_mapped=2,
        referred_by=partner,
    )
    add(
        "Juniper Project",
        ("Trial", "ICP-fit", "EU-Project"),
        11,
        onboarding_call_date=on(-6),
        logins_count=4,
        frameworks_mapped=1,
    )
    add(
        "Kestrel Self-hosted",
        ("Trial", "ICP-fit", "Self-hosted"),
        12,
        onboarding_call_date=on(-7),
        logins_count=9,
        frameworks_mapped=3,
    )
    iris = add("Iris Media", ("Trial", "ICP-fit"), 16, referred_by=partner, country="ES")
    fake.add_invoice(iris, "FA2611-0001", "1200.00", paid=True)
    add("Lumen Security", ("Trial", "ICP-fit", "Customer-Active"), 30)
    # A customer from before syncd: paid for years, never onboarded; syncd leaves it be.
    oak = add("Oak Holdings", ("Customer-Active",), 900)
    fake.add_invoice(oak, "FA2309-0042", "2400.00", paid=True)
    add("Rook Consulting", ("Trial", "ICP-fit"), 5, syncd_pause=1)
    add("Sable Works", ("Trial",), 4, onboarding_step_override="finished")
    add("Northwind Consulting", ("Partner-Prospect",), 6)
    add("Orbit Partners", ("Partner-Qualified",), 3)
    add("Pine Advisory", ("Partner-Declined",), 9)
    fake.add_contact(helix, "Hana", "Novak", "hana@helix.example")
    # A trial that also wants to resell: in both processes at once.
    add("Maple Analytics", ("Trial", "ICP-fit", "Partner-Prospect"), 1)
    return ids


def seed_systems(mautic: Any, freescout: Any, matrix: Any) -> None:
    """The demo's Mautic, FreeScout and Matrix: one API user, templates, a mailbox, rooms."""
    mautic.add_user("syncd", "demo-secret")
    for email_id, name in ((1, "How is it going?"), (2, "Welcome, partner"), (3, "Spare")):
        mautic.add_email(email_id, name)
    mautic.add_segment(1, "Nurture")
    freescout.add_mailbox("Sales", "sales@demo.example")
    freescout.add_user("Predrag", "Sales", "sales@demo.example")
    matrix.add_user("@syncd:demo.local", "demo-token")
    for room in ("!sales:demo.local", "!success:demo.local"):
        matrix.add_room(room, members=("@syncd:demo.local",))
