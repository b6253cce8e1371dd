"""What syncd puts into a Dolibarr `sqlfilters` parameter cannot change the filter.

Dolibarr's filter syntax has no escape: a value ends at the first parenthesis,
a LIKE value with a quote inside keeps its quotes, `%` and `_` are wildcards.
The fake parses filters the same way, so these run against it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.dolibarr import DolibarrClient, DolibarrSettings, like_prefix, sql_literal
from connectors.fakes.dolibarr import FakeDolibarr
from connectors.http import RetryPolicy

HOSTILE_LABELS = [
    "[syncd] step_writeback:4:signup:from-x')",
    "[syncd] step_writeback:4:signup:from-x') or (t.id:>:'0",
    "[syncd] a'b:4",
    "[syncd] 100%:4",
    "[syncd] under_score:4",
    "[syncd] back\\slash:4",
    "[syncd] colon:a:b:c",
    "[syncd] nul\x00:4",
    "[syncd] \u202eright-to-left \u05e9\u05dc\u05d5\u05dd:4",
    "[syncd] (parens):4",
]


@pytest.fixture
def client(dolibarr_url: str) -> DolibarrClient:
    settings = DolibarrSettings(dolibarr_url, "test-key", "Europe/Paris", page_size=3)
    return DolibarrClient(settings, RetryPolicy(attempts=1, sleep=lambda _: None))


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_find_events_finds_exactly_the_events_with_a_hostile_prefix(
    dolibarr: FakeDolibarr, client: DolibarrClient, label: str
) -> None:
    socid = dolibarr.add_thirdparty("Acme")
    wanted = dolibarr.add_event(socid, label)
    dolibarr.add_event(socid, "[syncd] other:4")
    dolibarr.add_event(socid, label[:-1] + "X")
    assert [e.id for e in client.find_events(label)] == [wanted]
    assert [e.id for e in client.find_events(label, socid=socid)] == [wanted]
    for request in dolibarr.requests:
        filters = request.query["sqlfilters"]
        assert filters.count("(") == filters.count(")") == (1 if "fk_soc" not in filters else 2)


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_like_prefix_leaves_nothing_that_could_change_the_filter(label: str) -> None:
    prefix = like_prefix(label)
    assert label.startswith(prefix)
    assert not set(prefix) & set("()'%\\\x00")


@pytest.mark.parametrize("value", ["2026-11-22 20:00:00') or (t.rowid:>:'0", "a)b", "x'y", "\x00"])
def test_sql_literal_refuses_what_would_change_the_filter(value: str) -> None:
    with pytest.raises(ValueError, match="cannot be put in a Dolibarr sqlfilters literal"):
        sql_literal(value)


def test_cursor_literals_are_quoted_dates(client: DolibarrClient) -> None:
    moment = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
    assert sql_literal(client.local_literal(moment)) == "'2026-11-22 20:00:00'"
