"""Rule parameters from Dolibarr setup constants: people tune days and templates there."""

from __future__ import annotations

from datetime import timedelta

from syncd.constants import constant_name, merge_sections
from syncd.engine import load_rules
from tests.harness import World


def add_day3_trial(world: World) -> None:
    world.dolibarr.add_thirdparty(
        "Aster",
        email="a@aster.example",
        tags=("Trial", "ICP-fit"),
        array_options={"signup_date": world.now.date() - timedelta(days=3)},
    )


def test_a_dolibarr_constant_moves_the_check_in_day(world: World) -> None:
    world.dolibarr.set_conf("SYNCD_CHECK_IN_EMAIL_DAY", "3")
    add_day3_trial(world)
    world.cycle()
    assert len(world.mautic.sent(to="a@aster.example")) == 1


def test_without_the_constant_the_file_and_default_apply(world: World) -> None:
    add_day3_trial(world)
    world.cycle()
    assert world.mautic.sent(to="a@aster.example") == []


def test_a_bad_constant_is_logged_and_ignored(world: World) -> None:
    world.dolibarr.set_conf("SYNCD_CHECK_IN_EMAIL_DAY", "soon")
    add_day3_trial(world)
    world.cycle()  # does not stop: the parameters in force stay
    assert world.mautic.sent(to="a@aster.example") == []
    assert world.rt.store.last_cycles(1)[0]["ok"] == 1


def test_the_environment_beats_the_constant() -> None:
    rules = [r for r in load_rules() if r.name == "check_in_email"]
    sections, used = merge_sections(
        rules,
        {"check_in_email": {"day": "9"}},
        {
            constant_name("check_in_email", "day"): "3",
            constant_name("check_in_email", "enabled"): "no",
        },
        {"SYNCD_RULE_CHECK_IN_EMAIL_DAY": "9"},
    )
    assert sections["check_in_email"] == {"day": "9", "enabled": "no"}
    assert used == ["SYNCD_CHECK_IN_EMAIL_ENABLED"]
