"""The rule engine: loading through one door, parameters from ini strings, evaluation.

Steering (pause, skip list, `enabled = no`, missing systems) is the engine's
job, so these tests use the real built-in rules and a few tiny ones written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from syncd.engine import RuleSet, build_params, error_report, evaluate, load_rules
from syncd.errors import ConfigError, RuleError
from syncd.model import Case, Decision, Rule, Skip, matrix_notify
from syncd.steps import infer
from tests.factories import NOW, make_case

ALL_SYSTEMS = frozenset({"mautic", "freescout", "matrix"})
PAUSE = "syncd_pause is set on this case"


def source_of(name: str) -> str:
    return f"syncd.ini: [rule:{name}]"


# The links the customer's messages cannot go without once FreeScout is configured.
# ... and the Mautic ids, which have no default.
LINKS: Mapping[str, Mapping[str, str]] = {
    "follow_up_message": {"community_link": "https://discord.example.com/invite/unicis"},
    "handoff_success": {"support_link": "https://matrix.to/#/#customers:example.com"},
    "check_in_email": {"template_id": "1"},
    "partner_welcome_email": {"template_id": "2"},
    "nurture_segment": {"segment_id": "1"},
}


def ruleset(
    sections: Mapping[str, Mapping[str, str]] | None = None,
    systems: frozenset[str] = ALL_SYSTEMS,
    rules: list[Rule[Any]] | None = None,
) -> RuleSet:
    rules = rules or load_rules()
    given = sections or {}
    names = {rule.name for rule in rules}
    linked = {name: {**links, **given.get(name, {})} for name, links in LINKS.items()}
    merged = {**given, **{name: v for name, v in linked.items() if name in names}}
    return RuleSet.build(rules, merged, source_of, systems)


def skipped(report: Any) -> dict[str, str]:
    return dict(report.skipped)


@dataclass(frozen=True)
class NoParams:
    pass


def _boom(case: Case, now: datetime, p: NoParams) -> Decision:
    raise ZeroDivisionError("division by zero")


def _probe(case: Case, now: datetime, p: NoParams) -> Decision:
    return [matrix_notify("ops", "hello", f"probe:{case.id}", "probing")]


def _bad_key(case: Case, now: datetime, p: NoParams) -> Decision:
    return [matrix_notify("ops", "hello", f"other:{case.id}", "wrong prefix")]


BOOM = Rule(name="boom", process="any", params=NoParams, decide=_boom)
PROBE = Rule(name="probe", process="any", params=NoParams, decide=_probe)
PARTNER_ONLY = Rule(name="partner_only", process="partner", params=NoParams, decide=_probe)


# -- evaluation ------------------------------------------------------------


def test_signup_case_plans_actions_stamped_with_their_rule() -> None:
    report = evaluate(make_case(step="signup", signup_date=NOW.date()), NOW, ruleset())
    by_rule = {a.key: a.rule for a in report.actions}
    assert by_rule["signup_notify:1"] == "signup_notify"
    assert by_rule["mautic_contact_link:1"] == "mautic_contact_link"
    assert by_rule["step_writeback:1:signup:from-empty"] == "step_writeback"
    assert report.errors == ()
    assert report.step == "signup" and report.process == "customer"


def test_paused_case_skips_every_rule() -> None:
    report = evaluate(make_case(step="signup", is_paused=True), NOW, ruleset())
    assert report.actions == ()
    assert set(skipped(report).values()) == {PAUSE}


def test_rule_in_skip_rules_is_skipped_for_that_case_only() -> None:
    rs = ruleset()
    today = NOW.date()
    quiet = make_case(step="signup", signup_date=today, skip_rules=frozenset({"signup_notify"}))
    assert skipped(evaluate(quiet, NOW, rs))["signup_notify"] == "listed in syncd_skip_rules"
    loud = evaluate(make_case(step="signup", signup_date=today), NOW, rs)
    assert "signup_notify:1" in {a.key for a in loud.actions}


def test_rule_disabled_in_config_is_skipped() -> None:
    rs = ruleset({"signup_notify": {"enabled": "no"}})
    report = evaluate(make_case(step="signup"), NOW, rs)
    reason = skipped(report)["signup_notify"]
    assert reason == "disabled in config ([rule:signup_notify] enabled = no)"


def test_a_disabled_rule_says_so_first_then_the_steering_then_the_systems() -> None:
    rs = ruleset({"signup_notify": {"enabled": "no"}})  # no system configured
    paused = skipped(evaluate(make_case(step="signup", is_paused=True), NOW, rs))
    assert paused["signup_notify"] == "disabled in config ([rule:signup_notify] enabled = no)"
    assert paused["check_in_email"] == PAUSE  # it needs mautic, too
    listed = make_case(step="signup", skip_rules=frozenset({"check_in_email"}))
    assert skipped(evaluate(listed, NOW, rs))["check_in_email"] == "listed in syncd_skip_rules"


def test_rule_needing_an_unconfigured_system_is_skipped() -> None:
    report = evaluate(make_case(step="signup"), NOW, ruleset(systems=frozenset({"mautic"})))
    assert skipped(report)["signup_notify"] == "needs matrix, which is not configured"
    assert "mautic_contact_link:1" in {a.key for a in report.actions}


def test_rule_skip_reason_is_reported() -> None:
    report = evaluate(make_case(step="signup"), NOW, ruleset())
    assert skipped(report)["handoff_success"] == "step is signup, not handoff"


def test_rules_of_the_other_process_are_not_listed() -> None:
    rs = ruleset(rules=[PARTNER_ONLY, PROBE])
    report = evaluate(make_case(step="signup"), NOW, rs)
    assert "partner_only" not in skipped(report)
    assert [a.rule for a in report.actions] == ["probe"]


def _says_step(case: Case, now: datetime, p: NoParams) -> Decision:
    return Skip(f"sees {case.step}")


@pytest.mark.parametrize(
    ("process", "seen"),
    [
        ("customer", "sees welcome_call"),
        ("partner", "sees partner_qualification"),
        ("any", "sees welcome_call / partner_qualification"),
    ],
)
def test_in_both_processes_each_rule_sees_the_step_of_its_own(process: str, seen: str) -> None:
    """A trial that is also a partner prospect: `case.step` is the rule's own process's."""
    case = infer(make_case(tags=("trial", "icp_fit", "partner_prospect")), NOW)
    says = Rule(name="says", process=process, params=NoParams, decide=_says_step)
    report = evaluate(case, NOW, ruleset(rules=[says]))
    assert skipped(report) == {"says": seen}
    assert (report.process, report.step) == (
        "customer + partner",
        "welcome_call / partner_qualification",
    )


def test_in_both_processes_the_rules_of_both_plan() -> None:
    case = infer(make_case(tags=("trial", "icp_fit", "partner_prospect"), signup_date=None), NOW)
    report = evaluate(case, NOW, ruleset({"welcome_call_offer": {"calendar_link": "https://c"}}))
    rules = {a.rule for a in report.actions}
    assert {"welcome_call_offer", "partner_qualification_reminder", "step_writeback"} <= rules


def test_rule_that_raises_becomes_a_case_error_and_others_go_on() -> None:
    report = evaluate(make_case(), NOW, ruleset(rules=[BOOM, PROBE]))
    assert report.errors == ("rule boom failed: ZeroDivisionError: division by zero",)
    assert [a.key for a in report.actions] == ["probe:1"]


def test_action_key_must_start_with_the_rule_name() -> None:
    bad = Rule(name="bad_key", process="any", params=NoParams, decide=_bad_key)
    report = evaluate(make_case(), NOW, ruleset(rules=[bad]))
    assert report.actions == ()
    assert "does not start with 'bad_key:'" in report.errors[0]


def test_error_report_carries_the_message() -> None:
    report = error_report(3, "CU2611-0003", "Acme", "field signup_date: 'soon' is not a date")
    assert report.errors == ("field signup_date: 'soon' is not a date",)
    assert report.actions == ()


# -- parameters ------------------------------------------------------------


def test_params_are_built_from_ini_strings() -> None:
    rules = {r.name: r for r in load_rules()}
    params, enabled = build_params(
        rules["partner_commission_note"], {"default_rate": " 0.12 ", "enabled": "Yes"}, "x"
    )
    assert params.default_rate == Decimal("0.12") and enabled is True
    params, enabled = build_params(rules["check_in_email"], {"day": "5", "enabled": "0"}, "x")
    assert params.day == 5 and enabled is False


def test_unknown_key_names_file_section_and_key() -> None:
    with pytest.raises(ConfigError) as err:
        ruleset({"check_in_email": {"dya": "7"}})
    assert err.value.problems[0].startswith("syncd.ini: [rule:check_in_email] dya: unknown key")


def test_ill_typed_values_are_all_reported() -> None:
    with pytest.raises(ConfigError) as err:
        ruleset(
            {
                "check_in_email": {"day": "seven"},
                "signup_notify": {"enabled": "maybe"},
                "partner_commission_note": {"default_rate": "abc"},
            }
        )
    assert err.value.problems == [
        "syncd.ini: [rule:check_in_email] day: 'seven' is not a whole number",
        "syncd.ini: [rule:partner_commission_note] default_rate: 'abc' is not a decimal number",
        "syncd.ini: [rule:signup_notify] enabled: 'maybe' is not a boolean "
        "(yes/no, true/false, 1/0)",
    ]


def test_section_for_an_unknown_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        ruleset({"rule:no_such_rule": {"enabled": "no"}})
    assert err.value.problems == [
        "syncd.ini: [rule:no_such_rule]: there is no rule named 'no_such_rule'"
    ]


# -- loading ---------------------------------------------------------------

EXTRA_RULE = '''
"""A site-specific rule."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.model import Case, Decision, Rule, Skip, matrix_notify
from syncd.steps import infer


@dataclass(frozen=True)
class Params:
    room: str = "ops"


def decide(case: Case, now: datetime, p: Params) -> Decision:
    return [matrix_notify(p.room, "hi", f"site_hello:{case.id}", "site rule")]


RULE = Rule(name="site_hello", process="any", params=Params, decide=decide,
            needs=frozenset({"matrix"}))
'''


def test_builtin_rules_load_sorted_and_unique() -> None:
    names = [r.name for r in load_rules()]
    assert names == sorted(set(names))
    assert "partner_commission_note" in names


def test_extra_directory_rule_loads_through_the_same_door(tmp_path: Path) -> None:
    (tmp_path / "site_hello.py").write_text(EXTRA_RULE)
    rules = load_rules(tmp_path)
    rs = ruleset({"site_hello": {"room": "alerts"}}, rules=rules)
    report = evaluate(make_case(step="signup"), NOW, rs)
    hello = next(a for a in report.actions if a.rule == "site_hello")
    assert (hello.key, hello.target) == ("site_hello:1", "alerts")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def broken(:\n", "cannot be imported: SyntaxError"),
        ("X = 1\n", "no RULE = Rule(...)"),
        (
            EXTRA_RULE.replace('name="site_hello"', 'name="hello"'),
            "RULE.name is 'hello' but the file is named 'site_hello'",
        ),
        (EXTRA_RULE.replace('room: str = "ops"', "room: tuple = ()"), "Params.room: type"),
        (EXTRA_RULE.replace('room: str = "ops"', "enabled: bool = True"), "Params.enabled"),
        (EXTRA_RULE.replace('"matrix"', '"slack"'), "unknown systems ['slack']"),
        (EXTRA_RULE.replace('process="any"', 'process="both"'), "RULE.process is 'both'"),
    ],
)
def test_broken_extra_rule_is_rejected_naming_its_file(
    tmp_path: Path, source: str, problem: str
) -> None:
    path = tmp_path / "site_hello.py"
    path.write_text(source)
    with pytest.raises(RuleError) as err:
        load_rules(tmp_path)
    assert str(err.value).startswith(f"{path}: ")
    assert problem in str(err.value)


def test_extra_rule_cannot_take_a_builtin_name(tmp_path: Path) -> None:
    clash = EXTRA_RULE.replace("site_hello", "signup_notify")
    (tmp_path / "signup_notify.py").write_text(clash)
    with pytest.raises(RuleError, match="rule name 'signup_notify' is taken by"):
        load_rules(tmp_path)


def test_missing_extra_directory_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="does not exist"):
        load_rules(tmp_path / "nope")


def test_missing_matrix_leaves_out_only_the_matrix_part() -> None:
    from datetime import date

    from tests.factories import NOW, make_case

    rules = [r for r in load_rules() if r.name == "partner_activate"]
    ruleset = RuleSet.build(rules, {}, lambda n: f"syncd.ini: [rule:{n}]", frozenset())
    case = make_case(
        tags=("partner_qualified",),
        country_code="FR",
        agreement_signed_date=date(2026, 11, 20),
        briefing_date=date(2026, 11, 18),
        step="active_partner",
    )
    report = evaluate(case, NOW, ruleset)
    assert {a.kind for a in report.actions} == {"dolibarr.tag", "dolibarr.agenda_event"}
    assert (
        "partner_activate",
        "matrix.notify left out: needs matrix, which is not configured",
    ) in (report.skipped)


# -- links the customer's messages need, and marketing consent ---------------


def test_unset_support_and_community_links_are_config_errors_with_freescout() -> None:
    """Page: hand-off gives "a support channel"; the follow-up a "community Discord invite"."""
    with pytest.raises(ConfigError) as err:
        RuleSet.build(load_rules(), {}, source_of, ALL_SYSTEMS)
    assert [p for p in err.value.problems if "[freescout]" in p] == [
        "syncd.ini: [rule:follow_up_message] community_link: required when [freescout] "
        "is configured (set it, or write enabled = no)",
        "syncd.ini: [rule:handoff_success] support_link: required when [freescout] "
        "is configured (set it, or write enabled = no)",
    ]


def test_mautic_ids_have_no_default_and_are_config_errors_with_mautic() -> None:
    """A user who leaves them out must not send whatever email #1 is."""
    with pytest.raises(ConfigError) as err:
        RuleSet.build(load_rules(), {}, source_of, frozenset({"mautic"}))
    assert err.value.problems == [
        "syncd.ini: [rule:check_in_email] template_id: required when [mautic] "
        "is configured (set it, or write enabled = no)",
        "syncd.ini: [rule:nurture_segment] segment_id: required when [mautic] "
        "is configured (set it, or write enabled = no)",
        "syncd.ini: [rule:partner_welcome_email] template_id: required when [mautic] "
        "is configured (set it, or write enabled = no)",
    ]


def test_unset_links_are_fine_without_freescout_or_with_the_rule_disabled() -> None:
    RuleSet.build(load_rules(), {}, source_of, frozenset({"matrix"}))
    disabled = {"follow_up_message": {"enabled": "no"}, "handoff_success": {"enabled": "no"}}
    RuleSet.build(load_rules(), disabled, source_of, frozenset({"freescout", "matrix"}))


def test_handoff_without_freescout_leaves_out_only_the_invitation() -> None:
    rules = [r for r in load_rules() if r.name == "handoff_success"]
    link = {"handoff_success": {"support_link": "https://matrix.to/#/#c:example.com"}}
    built = RuleSet.build(rules, link, source_of, frozenset({"matrix"}))
    report = evaluate(make_case(tags=("trial", "customer_active"), step="handoff"), NOW, built)
    assert {a.kind for a in report.actions} == {"matrix.notify", "dolibarr.agenda_event"}
    assert (
        "handoff_success",
        "freescout.message left out: needs freescout, which is not configured",
    ) in report.skipped


def test_rule_that_names_an_unknown_required_parameter_is_refused(tmp_path: Path) -> None:
    (tmp_path / "site_hello.py").write_text(
        EXTRA_RULE.replace(
            'needs=frozenset({"matrix"})',
            'needs=frozenset({"matrix"}), required_with=(("matrix", "link"),)',
        )
    )
    with pytest.raises(RuleError, match="required_with names 'link', which is not in Params"):
        load_rules(tmp_path)


def test_opted_out_contact_gets_no_mautic_email_or_segment() -> None:
    """Marketing consent: a contact who opted out is left out of Mautic emails and segments."""
    day_7 = NOW.date() - timedelta(days=7)
    checked_in = make_case(step="follow_up", signup_date=day_7, has_opted_out=True)
    report = evaluate(checked_in, NOW, ruleset())
    assert not [a for a in report.actions if a.kind.startswith("mautic.send")]
    assert skipped(report)["check_in_email"] == (
        "the contact opted out of marketing email (marketing_opt_out is set)"
    )
    nurtured = make_case(tags=("trial", "not_icp"), step="nurture", has_opted_out=True)
    report = evaluate(nurtured, NOW, ruleset())
    assert "mautic.add_to_segment" not in {a.kind for a in report.actions}
    assert "opted out of marketing email" in skipped(report)["nurture_segment"]
    assert evaluate(
        replace(nurtured, fields=replace(nurtured.fields, has_opted_out=False)), NOW, ruleset()
    ).actions
