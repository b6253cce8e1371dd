"""Incremental polling through the stateful Dolibarr fake.

The fake keeps Dolibarr's quirks (tagging does not touch the third party,
extrafield-only edits move only ef.tms, deletions leave no trace), so these
tests show the mirror sees every kind of change at a bounded request cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.http import RetryPolicy
from syncd.config import DEFAULT_TAG_LABELS
from syncd.errors import ConfigError
from syncd.mirror import Mirror
from syncd.model import TAGS
from syncd.poll import PollSettings, TagGuardError, poll

LABELS = dict(DEFAULT_TAG_LABELS)
SETTINGS = PollSettings(tag_labels=LABELS, overlap=timedelta(minutes=5), sweep_every=3)


@pytest.fixture
def client(dolibarr_url: str) -> DolibarrClient:
    settings = DolibarrSettings(dolibarr_url, "test-key", "Europe/Paris", page_size=2)
    return DolibarrClient(settings, RetryPolicy(attempts=3, sleep=lambda _: None))


class Clock:
    """Moves the fake's clock and ours together, a minute per cycle."""

    def __init__(self, fake: FakeDolibarr) -> None:
        self.fake = fake

    def tick(self, seconds: float = 60) -> datetime:
        self.fake.advance(seconds)
        return datetime.fromtimestamp(self.fake.now, UTC)


def seed(fake: FakeDolibarr) -> dict[str, int]:
    return {
        "aster": fake.add_thirdparty(
            "Aster", email="a@x.example", tags=("Trial",), array_options={"logins_count": 1}
        ),
        "birch": fake.add_thirdparty("Birch", email="b@x.example", tags=("Trial", "ICP-fit")),
        "cobalt": fake.add_thirdparty("Cobalt", tags=("Trial",)),
        "delta": fake.add_thirdparty("Delta", tags=("Partner-Prospect",)),
        "echo": fake.add_thirdparty("Echo", tags=("Trial",)),
    }


def test_first_poll_reads_everything_across_pages(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    mirror = Mirror()
    result = poll(client, mirror, SETTINGS, Clock(dolibarr).tick())
    assert set(mirror.thirdparties) == set(ids.values())
    assert result.changed == set(ids.values())
    assert mirror.tags_of(ids["birch"]) == {"trial", "icp_fit"}


def test_idle_cycle_costs_four_requests_plus_one_per_watched_tag(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    clock.tick(600)
    poll(client, mirror, SETTINGS, clock.tick())  # the overlap window re-reads the seeds once
    dolibarr.clear_log()
    result = poll(client, mirror, SETTINGS, clock.tick())
    assert result.changed == frozenset()
    assert dolibarr.count() <= 4 + len(TAGS)
    assert dolibarr.count(method="GET") == dolibarr.count()


def test_tag_added_without_touching_the_thirdparty_is_seen_next_cycle(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    clock.tick(600)
    dolibarr.tag(ids["aster"], "ICP-fit")
    result = poll(client, mirror, SETTINGS, clock.tick())
    assert result.changed == {ids["aster"]}
    assert "icp_fit" in mirror.tags_of(ids["aster"])


def test_untagging_is_seen_too(dolibarr: FakeDolibarr, client: DolibarrClient) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    clock.tick(600)
    dolibarr.untag(ids["birch"], "ICP-fit")
    assert poll(client, mirror, SETTINGS, clock.tick()).changed == {ids["birch"]}
    assert mirror.tags_of(ids["birch"]) == {"trial"}


def test_extrafield_only_edit_is_seen(dolibarr: FakeDolibarr, client: DolibarrClient) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    clock.tick(600)
    dolibarr.set_fields(ids["aster"], logins_count=4)
    result = poll(client, mirror, SETTINGS, clock.tick())
    assert result.changed == {ids["aster"]}
    assert str(mirror.thirdparties[ids["aster"]].array_options["logins_count"]) == "4"


def test_new_contact_invoice_and_proposal_mark_their_case_changed(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    clock.tick(600)
    dolibarr.add_contact(ids["cobalt"], "Cleo", "Moss", "cleo@cobalt.example")
    dolibarr.add_invoice(ids["echo"], "FA-1", "100.00", paid=True)
    dolibarr.add_proposal(ids["birch"], "PR-1")
    result = poll(client, mirror, SETTINGS, clock.tick())
    assert result.changed == {ids["cobalt"], ids["echo"], ids["birch"]}
    assert [c.email for c in mirror.related_by_case("contacts")[ids["cobalt"]]] == [
        "cleo@cobalt.example"
    ]


def test_deleted_thirdparty_is_dropped_by_the_sweep(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    dolibarr.delete_thirdparty(ids["echo"])
    deleted: set[int] = set()
    for _ in range(SETTINGS.sweep_every):
        deleted |= poll(client, mirror, SETTINGS, clock.tick()).deleted
    assert deleted == {ids["echo"]}
    assert ids["echo"] not in mirror.thirdparties
    assert ids["echo"] not in mirror.members["trial"]


def test_a_tag_emptied_at_once_stops_the_cycle(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    for socid in (ids["aster"], ids["birch"], ids["cobalt"], ids["echo"]):
        dolibarr.untag(socid, "Trial")
    with pytest.raises(TagGuardError, match=r"tag trial .* suddenly has no members; it had 4"):
        poll(client, mirror, SETTINGS, clock.tick())


def test_a_missing_category_is_reported_not_fatal(
    client: DolibarrClient, dolibarr: FakeDolibarr
) -> None:
    seed(dolibarr)
    labels = {**LABELS, "eu_project": "EU-Funded"}
    result = poll(client, Mirror(), PollSettings(tag_labels=labels), Clock(dolibarr).tick())
    assert result.missing_tags == ("eu_project",)


def test_two_categories_differing_only_by_case_are_a_config_error_naming_both(
    client: DolibarrClient, dolibarr: FakeDolibarr
) -> None:
    seed(dolibarr)
    lower = dolibarr.add_category("trial")
    mirror = Mirror()
    with pytest.raises(ConfigError) as caught:
        poll(client, mirror, SETTINGS, Clock(dolibarr).tick())
    trial = dolibarr.category_id("Trial")
    assert caught.value.problems == [
        f"tag trial ('Trial') matches several Dolibarr categories: 'Trial' (id {trial}) "
        f"and 'trial' (id {lower}); rename or delete all but one"
    ]
    assert mirror.category_ids == {}


def test_a_label_differing_only_by_case_from_the_config_still_matches(
    client: DolibarrClient, dolibarr: FakeDolibarr
) -> None:
    ids = seed(dolibarr)
    labels = {**LABELS, "trial": "TRIAL"}
    mirror = Mirror()
    poll(client, mirror, PollSettings(tag_labels=labels), Clock(dolibarr).tick())
    assert "trial" in mirror.tags_of(ids["aster"])


def test_a_twin_category_created_later_is_caught_by_the_next_sweep(
    client: DolibarrClient, dolibarr: FakeDolibarr
) -> None:
    seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    poll(client, mirror, SETTINGS, clock.tick())
    known = dict(mirror.category_ids)
    dolibarr.add_category("icp-FIT")
    with pytest.raises(ConfigError, match=r"tag icp_fit .* matches several"):
        for _ in range(SETTINGS.sweep_every):
            poll(client, mirror, SETTINGS, clock.tick())
    assert mirror.category_ids == known


class ChangedDuringRead:
    """The connector, with Dolibarr changing under it between two pages of third parties.

    After the first page (ids 1 and 2), a quarter of an hour passes, the first
    third party is edited, another quarter passes and the last one is edited:
    the read ends long after it began, with the newest row on its last page.
    """

    def __init__(self, client: DolibarrClient, fake: FakeDolibarr, ids: dict[str, int]) -> None:
        self.client, self.fake, self.ids = client, fake, ids

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)

    def iter_thirdparties(self, modified_since: datetime | None = None) -> Iterator[object]:
        for n, record in enumerate(self.client.iter_thirdparties(modified_since), start=1):
            yield record
            if n == 2:
                self.fake.advance(900)
                self.fake.set_fields(self.ids["aster"], logins_count=5)
                self.fake.advance(900)
                self.fake.set_fields(self.ids["echo"], logins_count=9)


def test_a_change_made_during_a_long_read_behind_it_is_read_next_time(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    elapsed = lambda: dolibarr.now  # noqa: E731 - time between reads, as the fake sees it
    poll(client, mirror, SETTINGS, clock.tick(), monotonic=elapsed)
    clock.tick(600)
    poll(
        ChangedDuringRead(client, dolibarr, ids), mirror, SETTINGS, clock.tick(), monotonic=elapsed
    )
    assert mirror.thirdparties[ids["aster"]].array_options["logins_count"] == "1"  # passed by
    result = poll(client, mirror, SETTINGS, clock.tick(), monotonic=elapsed)
    assert ids["aster"] in result.changed
    assert mirror.thirdparties[ids["aster"]].array_options["logins_count"] == "5"


def test_a_row_dated_years_ahead_does_not_move_the_cursor(
    dolibarr: FakeDolibarr, client: DolibarrClient
) -> None:
    ids = seed(dolibarr)
    clock, mirror = Clock(dolibarr), Mirror()
    aster = dolibarr.thirdparties[ids["aster"]]
    aster.tms += 3 * 365 * 86400  # an import wrote it by hand
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        poll(client, mirror, SETTINGS, clock.tick())
    finally:
        logger.remove(sink)
    assert any(
        "more than a day ahead" in line and f"thirdparties {aster.id}" in line for line in lines
    )
    clock.tick(600)
    dolibarr.set_fields(ids["cobalt"], logins_count=4)
    result = poll(client, mirror, SETTINGS, clock.tick())
    assert ids["cobalt"] in result.changed
