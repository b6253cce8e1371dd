"""A Dolibarr whose clocks are not syncd's: no change is missed.

The real `syncd run --once` process against the fake Dolibarr over HTTP on
127.0.0.1. The fake's PHP clock (date_creation, /status) and its database
clock (`tms`, so `date_modification` and every sqlfilters comparison) are
set an hour ahead of or behind syncd's, as on a real server whose MariaDB
session runs in UTC while PHP runs in Europe/Paris (QUIRKS.md, "Time").
Changes made after one cycle must all be seen by the next one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.world import served

HOUR = 3600


@pytest.mark.parametrize(
    ("php", "db"),
    [
        (HOUR, HOUR),  # the whole server an hour ahead
        (-HOUR, -HOUR),  # the whole server an hour behind
        (0, -HOUR),  # the database an hour behind PHP (the recorded case)
        (0, HOUR),  # the database an hour ahead of PHP
    ],
    ids=["server-ahead", "server-behind", "database-behind", "database-ahead"],
)
def test_changes_after_a_cycle_are_seen_whatever_the_clock_offset(
    tmp_path: Path, php: int, db: int
) -> None:
    with served(tmp_path) as w:
        d = w.dolibarr
        d.now += php
        d.db_clock_offset = db - php
        today = w.now.astimezone(d.tz).date()
        paying = d.add_thirdparty(
            "Aster Labs",
            email="jane@aster.example",
            tags=("Trial",),
            array_options={"signup_date": today},
        )
        edited = d.add_thirdparty(
            "Birch Analytics",
            email="tom@birch.example",
            tags=("Trial",),
            array_options={"signup_date": today},
        )
        first = w.syncd("run", "--once")
        assert first.returncode == 0, first.stderr

        w.advance(minutes=10)
        d.add_invoice(paying, "FA2611-0001", 1200, paid=True)  # the invoices' cursor
        d.set_fields(edited, syncd_skip_rules="check_in_emial")  # ef.tms only
        d.add_contact(edited, "Tom", "Birch", "tom.b@birch.example")  # no date_modification
        w.advance(minutes=1)
        second = w.syncd("run", "--once")
        assert second.returncode == 0, second.stderr

        assert paying in d.members[d.category_id("Customer-Active")]  # the invoice was seen
        assert "check_in_emial" in second.stderr  # the extrafield edit was seen
        mirror = sqlite3.connect(tmp_path / "syncd-demo.db")
        contacts = [row[0] for row in mirror.execute("SELECT data FROM mirror_rows")]
        assert any("tom.b@birch.example" in data for data in contacts)  # and the contact
