"""`syncd check` run as a process against the four fakes served over HTTP: one line per
problem, exit 0/1/2, and `--fix-dolibarr` creating what is missing through the API."""

from __future__ import annotations

import configparser
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.world import Served, served

ALL = "dolibarr, mautic, freescout, matrix"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as world:
        yield world


def dolibarr_url(w: Served) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(w.config)
    return parser["dolibarr"]["url"]


def lines(out: str) -> list[str]:
    return out.splitlines()


def test_everything_as_configured_is_ok(w: Served) -> None:
    done = w.syncd("check")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"check: ok ({ALL})\n", "")


def test_missing_tags_and_fields_twins_and_wrong_types_are_one_line_each(w: Served) -> None:
    del w.dolibarr.extrafields["signup_date"]
    w.dolibarr.extrafields["logins_count"] = "varchar"
    del w.dolibarr.categories[w.dolibarr.category_id("Trial")]
    twin = w.dolibarr.add_category("icp-FIT")
    done = w.syncd("check")
    assert done.returncode == 1
    assert lines(done.stdout) == [
        "dolibarr: [tags] trial: no tag (category) 'Trial' (syncd check --fix-dolibarr creates it)",
        f"dolibarr: [tags] icp_fit: 'ICP-fit' (id 2) and 'icp-FIT' (id {twin}) differ only by "
        "case: rename or delete one",
        "dolibarr: [fields] signup_date: no third-party extrafield 'signup_date' "
        "(syncd check --fix-dolibarr creates it)",
        "dolibarr: [fields] logins_count: extrafield 'logins_count' is of type varchar, "
        "not double or int",
        f"check: 4 problem(s); checked {ALL}",
    ]


def test_fix_dolibarr_lists_then_creates_the_missing_fields_and_tags(w: Served) -> None:
    del w.dolibarr.extrafields["signup_date"]
    del w.dolibarr.extrafields["referred_by"]
    del w.dolibarr.categories[w.dolibarr.category_id("Partner-Active")]
    done = w.syncd("check", "--fix-dolibarr")
    assert lines(done.stdout) == [
        "will create in Dolibarr: extrafield signup_date (date), extrafield referred_by (link), "
        "tag 'Partner-Active'",
        "created extrafield signup_date",
        "created extrafield referred_by",
        "created tag 'Partner-Active'",
        f"check: ok ({ALL})",
    ]
    assert done.returncode == 0
    assert w.dolibarr.extrafields["signup_date"] == "date"
    assert w.dolibarr.extrafields["referred_by"] == "link"
    assert "Partner-Active" in {c.label for c in w.dolibarr.categories.values()}
    assert w.syncd("check").returncode == 0


def test_without_fix_nothing_is_written(w: Served) -> None:
    del w.dolibarr.extrafields["signup_date"]
    w.syncd("check")
    assert "signup_date" not in w.dolibarr.extrafields
    assert {r.method for r in w.dolibarr.requests} == {"GET"}


def test_a_refused_key_and_a_user_without_rights(w: Served) -> None:
    refused = w.syncd("check", SYNCD_DOLIBARR_API_KEY="not-the-key")
    assert refused.returncode == 1
    assert lines(refused.stdout)[0] == (
        f"dolibarr: {dolibarr_url(w)}: the API key was refused ([dolibarr] api_key)"
    )
    w.dolibarr.add_api_key("no-rights-key", rights=False)
    limited = w.syncd("check", SYNCD_DOLIBARR_API_KEY="no-rights-key")
    out = lines(limited.stdout)
    assert f"dolibarr: {dolibarr_url(w)}: the API user may not read third parties " in out[0]
    assert len([line for line in out if "may not read" in line]) == 7  # 6 lists + extrafields


def test_mautic_freescout_and_matrix_ids_that_do_not_exist(w: Served) -> None:
    done = w.syncd(
        "check",
        "--format",
        "json",
        SYNCD_RULE_CHECK_IN_EMAIL_TEMPLATE_ID="9",
        SYNCD_RULE_NURTURE_SEGMENT_SEGMENT_ID="5",
        SYNCD_FREESCOUT_MAILBOX_ID="7",
        SYNCD_MATRIX_ROOM_SUCCESS="!nowhere:demo.local",
    )
    document = json.loads(done.stdout)
    assert done.returncode == 1
    problems = document["problems"]
    assert len(problems) == 4, problems
    assert problems[0].endswith(": [rule:check_in_email] template_id: no email 9")
    assert problems[1].endswith(": [rule:nurture_segment] segment_id: no segment 5")
    assert problems[2].endswith(": [freescout] mailbox_id: no mailbox 7 (this key sees: 1)")
    assert problems[3].startswith("matrix: ")
    assert ": [matrix] room_success: cannot read room !nowhere:demo.local (" in problems[3]


def test_a_bad_config_exits_2_before_asking_anyone(w: Served) -> None:
    done = w.syncd("check", SYNCD_DOLIBARR_TIMEOUT="soon")
    assert done.returncode == 2
    assert "[dolibarr] timeout: the value is not a number of seconds" in done.stderr
    assert not w.dolibarr.requests


def test_systems_that_cannot_be_reached_are_one_short_line_each(w: Served) -> None:
    done = w.syncd(
        "check", SYNCD_DOLIBARR_URL="http://127.0.0.1:9", SYNCD_MAUTIC_URL="http://127.0.0.1:9"
    )
    assert done.returncode == 1
    assert lines(done.stdout) == [
        "dolibarr: http://127.0.0.1:9: cannot be reached (Connection refused)",
        "mautic: http://127.0.0.1:9: cannot be reached (connection failed)",
        "check: 2 problem(s); checked freescout, matrix",
    ]
