"""Every rule module, table-driven: it acts when it should, and says why not when not.

Cases come from `tests.factories.make_case`; `NOW` is day 11 since signup
(2026-11-12 → 2026-11-23). No I/O, no fakes: a rule is a pure function.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from syncd.messages import parse_template, read_template, templated
from syncd.model import ACTION_KINDS, Action, Case, Invoice, Referrer, Rule, Skip
from tests.factories import NOW, make_case, paid_invoice, proposal, referral

TODAY = NOW.date()
TOMORROW = TODAY + timedelta(days=1)
YESTERDAY = TODAY - timedelta(days=1)
PARTNER = Referrer(id=7, ref="PA2611-0007", name="Iris Partners", commission_rate=Decimal("15"))


def rule(name: str) -> Rule[Any]:
    found = importlib.import_module(f"rules.{name}").RULE
    assert isinstance(found, Rule)
    return found


# Mautic ids have no default: a deployment names its own templates and segment.
CONFIGURED: dict[str, dict[str, Any]] = {
    "check_in_email": {"template_id": 1},
    "partner_welcome_email": {"template_id": 2},
    "nurture_segment": {"segment_id": 1},
}


def template(name: str) -> dict[str, Any]:
    """The shipped subject and body of a rule that writes to a person, for "Acme"."""
    if not templated(rule(name)):
        return {}
    where, text = read_template(name, None)
    subject, body = parse_template(text, where)
    return {
        "subject": subject.replace("{company}", "Acme"),
        "body": body.replace("{company}", "Acme"),
    }


def decide(name: str, case: Case, **params: Any) -> list[Action] | Skip:
    r = rule(name)
    given = template(name) | CONFIGURED.get(name, {}) | params
    decision = r.decide(case, NOW, r.params(**given))
    return decision if isinstance(decision, Skip) else list(decision)


def actions(name: str, case: Case, **params: Any) -> list[Action]:
    decision = decide(name, case, **params)
    assert not isinstance(decision, Skip), decision.reason
    return decision


def partner(step: str, *tags: str, **kw: Any) -> Case:
    return make_case(id=7, tags=tags or ("partner_prospect",), step=step, **kw)


CAL: dict[str, Any] = {"calendar_link": "https://cal.example.com/book"}

ACTS: list[tuple[str, Case, dict[str, Any], list[str]]] = [
    ("signup_notify", make_case(step="signup", signup_date=TODAY), {}, ["signup_notify:1"]),
    (
        "signup_notify",
        make_case(step="qualification", signup_date=TODAY - timedelta(days=2)),
        {},
        ["signup_notify:1"],
    ),
    ("mautic_contact_link", make_case(step="signup"), {}, ["mautic_contact_link:1"]),
    (
        "qualification_reminder",
        make_case(step="qualification", signup_date=TODAY - timedelta(days=2)),
        {},
        ["qualification_reminder:1:task", "qualification_reminder:1:matrix"],
    ),
    (
        "nurture_segment",
        make_case(tags=("trial", "not_icp"), step="nurture"),
        {"segment_id": 4},
        ["nurture_segment:1:segment:4"],
    ),
    ("welcome_call_offer", make_case(step="welcome_call"), CAL, ["welcome_call_offer:1"]),
    (
        "onboarding_call_reminder",
        make_case(step="onboarding_call", onboarding_call_date=TOMORROW),
        {},
        [f"onboarding_call_reminder:1:{TOMORROW}"],
    ),
    (
        "onboarding_call_reminder",
        make_case(step="onboarding_call", onboarding_call_date=TODAY),
        {},
        [f"onboarding_call_reminder:1:{TODAY}"],
    ),
    (
        "follow_up_message",
        make_case(step="follow_up", onboarding_call_date=YESTERDAY),
        {},
        [f"follow_up_message:1:{YESTERDAY}"],
    ),
    (
        "check_in_email",
        make_case(step="follow_up", signup_date=TODAY - timedelta(days=7)),
        {},
        ["check_in_email:1"],
    ),
    ("check_in_email", make_case(step="qualification"), {"day": 11}, ["check_in_email:1"]),
    (
        "conversion_proposal",
        make_case(step="conversion", logins_count=4, frameworks_mapped=1),
        {},
        ["conversion_proposal:1:task", "conversion_proposal:1:matrix"],
    ),
    (
        "conversion_proposal",
        make_case(tags=("trial", "self_hosted"), step="conversion"),
        {},
        ["conversion_proposal:1:licence"],
    ),
    (
        "conversion_proposal",
        make_case(step="follow_up", signup_date=TODAY - timedelta(days=15)),
        {},
        ["conversion_proposal:1:deadline:task", "conversion_proposal:1:deadline:matrix"],
    ),
    (
        "subscription_activate",
        make_case(step="subscription_active", invoices=(paid_invoice(),)),
        {},
        ["subscription_activate:1"],
    ),
    (
        "handoff_success",
        make_case(tags=("customer_active",), step="handoff"),
        {},
        ["handoff_success:1:matrix", "handoff_success:1:event"],
    ),
    (
        "step_writeback",
        make_case(step="welcome_call"),
        {},
        ["step_writeback:1:welcome_call:from-empty"],
    ),
    (
        "step_writeback",
        partner("discovery_call", onboarding_step="partner_qualification"),
        {},
        ["step_writeback:7:discovery_call:from-partner_qualification"],
    ),
    (
        "partner_referral_note",
        make_case(step="signup", referrer=PARTNER),
        {},
        ["partner_referral_note:1:partner:7:customer", "partner_referral_note:1:partner:7:partner"],
    ),
    (
        "partner_qualification_reminder",
        partner("partner_qualification", signup_date=TODAY - timedelta(days=5)),
        {},
        ["partner_qualification_reminder:7:task", "partner_qualification_reminder:7:matrix"],
    ),
    (
        "partner_qualification_reminder",
        partner("partner_qualification", signup_date=None),
        {},
        ["partner_qualification_reminder:7:task", "partner_qualification_reminder:7:matrix"],
    ),
    ("partner_decline", partner("partner_declined", "partner_declined"), {}, ["partner_decline:7"]),
    (
        "discovery_call_offer",
        partner("discovery_call", "partner_qualified"),
        CAL,
        ["discovery_call_offer:7"],
    ),
    (
        "partner_welcome_email",
        partner("partner_account", "partner_qualified", discovery_call_date=YESTERDAY),
        {},
        ["partner_welcome_email:7"],
    ),
    (
        "briefing_reminder",
        partner("onboarding_briefing", "partner_qualified", briefing_date=TOMORROW),
        {},
        [f"briefing_reminder:7:{TOMORROW}:matrix", f"briefing_reminder:7:{TOMORROW}:task"],
    ),
    (
        "directory_listing_notify",
        partner(
            "directory_listing",
            "partner_qualified",
            briefing_date=YESTERDAY,
            has_directory_consent=True,
        ),
        {},
        ["directory_listing_notify:7"],
    ),
    (
        "first_deal_note",
        partner("first_deal", "partner_qualified", referrals=(referral(20), referral(21))),
        {},
        ["first_deal_note:7"],
    ),
    (
        "partner_activate",
        partner(
            "active_partner",
            "partner_qualified",
            country_code="US",
            agreement_signed_date=YESTERDAY,
            briefing_date=YESTERDAY,
        ),
        {},
        ["partner_activate:7"],
    ),
    (
        "partner_activate",
        partner(
            "active_partner",
            "partner_qualified",
            agreement_signed_date=YESTERDAY,
            briefing_date=YESTERDAY,
        ),
        {},
        ["partner_activate:7", "partner_activate:7:dpa:matrix", "partner_activate:7:dpa:task"],
    ),
    (
        "partner_activate",
        partner("active_partner", "partner_active"),
        {},
        ["partner_activate:7:dpa:matrix", "partner_activate:7:dpa:task"],
    ),
    (
        "partner_commission_note",
        make_case(
            step="handoff",
            referrer=PARTNER,
            invoices=(paid_invoice(id=15), paid_invoice(id=16, ref="FA2611-0016")),
        ),
        {},
        [
            "partner_commission_note:7:inv:15:event",
            "partner_commission_note:7:inv:15:note",
            "partner_commission_note:7:inv:16:event",
            "partner_commission_note:7:inv:16:note",
        ],
    ),
]

SKIPS: list[tuple[str, Case, dict[str, Any], str]] = [
    ("signup_notify", make_case(step="welcome_call"), {}, "step is welcome_call"),
    ("mautic_contact_link", make_case(tags=(), step="none"), {}, "no Trial tag"),
    ("mautic_contact_link", make_case(mautic_contact_id="55"), {}, "already linked"),
    ("mautic_contact_link", make_case(email=""), {}, "no email"),
    (
        "qualification_reminder",
        make_case(step="qualification", signup_date=YESTERDAY),
        {},
        "day 1 since signup",
    ),
    (
        "qualification_reminder",
        make_case(tags=("trial", "icp_fit"), step="signup"),
        {},
        "already qualified",
    ),
    ("qualification_reminder", make_case(step="welcome_call"), {}, "step is welcome_call"),
    ("nurture_segment", make_case(step="welcome_call"), {}, "not nurture"),
    ("welcome_call_offer", make_case(step="welcome_call"), {}, "calendar_link is not set"),
    ("welcome_call_offer", make_case(step="onboarding_call"), CAL, "not welcome_call"),
    (
        "onboarding_call_reminder",
        make_case(step="onboarding_call", onboarding_call_date=TODAY + timedelta(days=3)),
        {},
        "3 days ahead",
    ),
    (
        "follow_up_message",
        make_case(step="follow_up", onboarding_call_date=TODAY - timedelta(days=4)),
        {},
        "past the 1-day window",
    ),
    ("follow_up_message", make_case(step="onboarding_call"), {}, "not follow_up"),
    ("check_in_email", make_case(step="follow_up", signup_date=YESTERDAY), {}, "due on"),
    (
        "check_in_email",
        make_case(tags=("trial", "not_icp"), step="nurture"),
        {},
        "tagged Not-ICP",
    ),
    (
        "check_in_email",
        make_case(step="conversion", invoices=(paid_invoice(),)),
        {},
        "already a paying customer",
    ),
    ("check_in_email", make_case(step="handoff"), {}, "no longer trialling"),
    ("check_in_email", make_case(tags=(), step="none"), {}, "not a customer onboarding step"),
    (
        "conversion_proposal",
        make_case(tags=("trial", "eu_project"), step="conversion"),
        {},
        "EU-Project case",
    ),
    (
        "conversion_proposal",
        make_case(step="conversion", proposals=(proposal(),)),
        {},
        "a proposal exists already (PR2611-0001)",
    ),
    (
        "conversion_proposal",
        make_case(step="conversion", signup_date=TODAY - timedelta(days=18)),
        {},
        "day 18: past the day-15 conversion deadline window (days 15–17)",
    ),
    (
        "conversion_proposal",
        make_case(tags=("trial", "not_icp"), step="conversion", logins_count=9),
        {},
        "tagged Not-ICP: nurture only",
    ),
    ("conversion_proposal", make_case(step="follow_up"), {}, "not conversion"),
    ("subscription_activate", make_case(step="conversion"), {}, "no paid invoice"),
    (
        "subscription_activate",
        make_case(tags=("customer_active",), step="handoff", invoices=(paid_invoice(),)),
        {},
        "already tagged Customer-Active",
    ),
    ("handoff_success", make_case(step="subscription_active"), {}, "not handoff"),
    ("step_writeback", make_case(tags=(), step="none"), {}, "no onboarding step"),
    (
        "step_writeback",
        make_case(step="signup", onboarding_step="signup"),
        {},
        "already says signup",
    ),
    ("partner_referral_note", make_case(step="signup"), {}, "not referred by a partner"),
    (
        "partner_qualification_reminder",
        partner("partner_qualification", signup_date=TODAY - timedelta(days=4)),
        {},
        "day 4 since",
    ),
    ("partner_decline", partner("partner_qualification"), {}, "not partner_declined"),
    (
        "discovery_call_offer",
        partner("discovery_call", "partner_qualified", discovery_call_date=TOMORROW),
        CAL,
        "already booked",
    ),
    (
        "partner_welcome_email",
        partner("partner_account", "partner_qualified", discovery_call_date=TODAY),
        {},
        "has not passed yet",
    ),
    ("partner_welcome_email", partner("discovery_call"), {}, "before partner_account"),
    (
        "briefing_reminder",
        partner("onboarding_briefing", briefing_date=TODAY + timedelta(days=2)),
        {},
        "2 days ahead",
    ),
    ("briefing_reminder", partner("onboarding_briefing", briefing_date=YESTERDAY), {}, "is over"),
    (
        "directory_listing_notify",
        partner("directory_listing", briefing_date=YESTERDAY),
        {},
        "no directory_consent",
    ),
    ("first_deal_note", partner("partner_account"), {}, "no customer names this partner"),
    (
        "partner_activate",
        partner("onboarding_briefing", agreement_signed_date=YESTERDAY, briefing_date=TODAY),
        {},
        "has not passed yet",
    ),
    (
        "partner_activate",
        partner("active_partner", "partner_active", has_dpa_signed=True),
        {},
        "already tagged Partner-Active",
    ),
    (
        "partner_commission_note",
        make_case(step="handoff", invoices=(paid_invoice(),)),
        {},
        "not referred",
    ),
    ("partner_commission_note", make_case(step="signup", referrer=PARTNER), {}, "no paid invoice"),
]


def _id(row: tuple[str, Case, dict[str, Any], Any]) -> str:
    return f"{row[0]}-{row[1].step}"


@pytest.mark.parametrize(("name", "case", "params", "keys"), ACTS, ids=[_id(r) for r in ACTS])
def test_rule_acts_with_readable_keys(
    name: str, case: Case, params: dict[str, Any], keys: list[str]
) -> None:
    planned = actions(name, case, **params)
    assert [a.key for a in planned] == keys
    assert all(a.kind in ACTION_KINDS and a.because for a in planned)


@pytest.mark.parametrize(("name", "case", "params", "keys"), ACTS, ids=[_id(r) for r in ACTS])
def test_rule_decision_is_deterministic(
    name: str, case: Case, params: dict[str, Any], keys: list[str]
) -> None:
    assert decide(name, case, **params) == decide(name, case, **params)


@pytest.mark.parametrize(("name", "case", "params", "reason"), SKIPS, ids=[_id(r) for r in SKIPS])
def test_rule_skips_with_reason(name: str, case: Case, params: dict[str, Any], reason: str) -> None:
    decision = decide(name, case, **params)
    assert isinstance(decision, Skip)
    assert reason in decision.reason


def test_every_rule_is_in_a_table() -> None:
    from syncd.engine import load_rules

    tabled = {row[0] for row in ACTS} & {row[0] for row in SKIPS}
    assert {r.name for r in load_rules()} <= tabled


def test_needs_name_the_systems_the_actions_use() -> None:
    """A rule needs every system it uses, unless it also acts in Dolibarr on its own."""
    used: dict[str, set[str]] = {}
    for name, case, params, _ in ACTS:
        used.setdefault(name, set()).update(
            a.kind.split(".")[0] for a in actions(name, case, **params)
        )
    for name, systems in used.items():
        if "dolibarr" in systems:
            assert rule(name).needs <= systems, name
        else:
            assert systems <= rule(name).needs, name


def test_commission_is_total_ht_times_partner_rate_rounded_to_cents() -> None:
    invoice = paid_invoice(ref="FA2611-0015", total_ht="1200.00", id=15)
    event, note = actions(
        "partner_commission_note", make_case(referrer=PARTNER, invoices=(invoice,))
    )
    assert event.kind == "dolibarr.agenda_event" and note.kind == "dolibarr.note"
    assert event.target == note.target == "thirdparty:7"
    assert event.payload["commission"] == "180.00"
    assert "FA2611-0015" in note.payload["text"]
    assert "1200.00 EUR excl. tax × rate 15 % = 180.00 EUR" in note.payload["text"]
    assert "rate 15 %" in event.payload["label"]


def test_commission_uses_default_rate_when_partner_has_none() -> None:
    bare = Referrer(id=7, ref="PA2611-0007", name="Iris Partners")
    case = make_case(referrer=bare, invoices=(paid_invoice(total_ht="333.35"),))
    event, note = actions("partner_commission_note", case)
    assert event.payload["rate"] == "10 %"
    assert event.payload["commission"] == "33.34"  # 33.335 rounds half up
    assert "default rate 10 %" in note.because
    _, other = actions("partner_commission_note", case, default_rate=Decimal("20"))
    assert other.payload["commission"] == "66.67"


def test_a_default_rate_of_one_or_less_is_flagged_where_it_is_used() -> None:
    bare = Referrer(id=7, ref="PA2611-0007", name="Iris Partners")
    case = make_case(referrer=bare, invoices=(paid_invoice(total_ht="1000.00"),))
    _, note = actions("partner_commission_note", case, default_rate=Decimal("0.10"))
    assert "= 1.00 EUR" in note.payload["text"]
    assert "0.1 %; write 100 for 100 %" in note.because


@pytest.mark.parametrize("rate", ["-1", "100.01", "150"])
def test_a_default_rate_outside_0_to_100_is_refused(rate: str) -> None:
    with pytest.raises(ValueError, match="not between 0 and 100"):
        rule("partner_commission_note").params(default_rate=Decimal(rate))


def test_commission_notes_only_paid_invoices_whatever_the_step() -> None:
    unpaid = Invoice(
        id=3, ref="FA2611-0003", is_settled=False, total_ht=Decimal(100), currency="EUR"
    )
    case = make_case(step="none", tags=(), referrer=PARTNER, invoices=(paid_invoice(id=2), unpaid))
    assert {a.key for a in actions("partner_commission_note", case)} == {
        "partner_commission_note:7:inv:2:event",
        "partner_commission_note:7:inv:2:note",
    }


def test_self_hosted_conversion_notifies_a_human_about_the_licence_key() -> None:
    case = make_case(tags=("trial", "self_hosted"), step="conversion")
    (notice,) = actions("conversion_proposal", case)
    assert notice.kind == "matrix.notify"
    assert "licence key" in notice.payload["text"]
    assert "self-hosted" in notice.because


def test_eu_project_gets_no_conversion_even_when_active() -> None:
    case = make_case(tags=("trial", "eu_project"), step="conversion", logins_count=9)
    decision = decide("conversion_proposal", case)
    assert isinstance(decision, Skip) and "EU-Project" in decision.reason


def test_conversion_proposal_task_goes_to_the_owner() -> None:
    task, _ = actions("conversion_proposal", make_case(step="conversion"), owner_id=5)
    assert task.payload["owner_id"] == 5 and task.payload["is_task"] is True
    assert "Send proposal" in task.payload["label"]


def test_check_in_because_names_the_day_that_fired_it() -> None:
    signup = TODAY - timedelta(days=8)
    case = make_case(step="follow_up", signup_date=signup)
    (email,) = actions("check_in_email", case, template_id=9)
    assert email.payload["template_id"] == 9
    assert f"since signup {signup}" in email.because
    assert str(signup + timedelta(days=7)) in email.because and "timer" in email.because


def test_welcome_call_offer_body_carries_the_calendar_link() -> None:
    (message,) = actions("welcome_call_offer", make_case(step="welcome_call"), **CAL, mailbox_id=3)
    assert message.payload["mailbox_id"] == 3
    assert CAL["calendar_link"] in message.payload["text"]
    assert "30-minute" in message.payload["text"]
    (bare,) = actions("welcome_call_offer", make_case(step="welcome_call"), body="Hi", **CAL)
    assert bare.payload["text"].endswith(CAL["calendar_link"])


def test_rescheduled_call_gets_a_new_follow_up_key() -> None:
    first = make_case(step="follow_up", onboarding_call_date=YESTERDAY - timedelta(days=1))
    moved = make_case(step="follow_up", onboarding_call_date=YESTERDAY)
    links = {
        "docs_link": "https://docs.example.com",
        "community_link": "https://chat.example.com",
        "within_days": 2,
    }
    (a,) = actions("follow_up_message", first, **links)
    (b,) = actions("follow_up_message", moved, **links)
    assert a.key != b.key
    assert "https://docs.example.com" in a.payload["text"]
    assert "https://chat.example.com" in a.payload["text"]


def test_referral_notes_land_on_both_records() -> None:
    on_customer, on_partner = actions("partner_referral_note", make_case(referrer=PARTNER))
    assert on_customer.target == "thirdparty:1"
    assert on_partner.target == "thirdparty:7"
    assert "Iris Partners" in on_customer.payload["text"]


def test_first_deal_note_marks_the_earliest_referral_on_the_partner_once() -> None:
    case = partner("first_deal", referrals=(referral(21), referral(20)))
    (note,) = actions("first_deal_note", case)
    assert note.target == "thirdparty:7" and note.key == "first_deal_note:7"
    assert "(" + referral(20).ref + ")" in note.payload["text"]


def test_step_writeback_writes_the_logical_field() -> None:
    (write,) = actions("step_writeback", make_case(step="conversion", onboarding_step="follow_up"))
    assert write.kind == "dolibarr.set_fields"
    assert write.payload["fields"] == {"onboarding_step": "conversion"}


def test_subscription_activate_tags_customer_active() -> None:
    (tagging,) = actions("subscription_activate", make_case(invoices=(paid_invoice(),)))
    assert tagging.payload["tag"] == "customer_active"
    assert "FA2611-0001" in tagging.because


def test_handoff_event_is_assigned_to_the_success_owner() -> None:
    notice, event = actions("handoff_success", make_case(step="handoff"), success_owner_id=4)
    assert notice.target == "success"
    assert event.payload["owner_id"] == 4


def test_messages_name_the_case_once_when_ref_equals_name() -> None:
    case = make_case(
        id=7, name="Aster Labs", ref="Aster Labs", tags=("trial",), step="signup", signup_date=TODAY
    )
    (notice,) = actions("signup_notify", case)
    assert "Aster Labs (Aster Labs" not in notice.payload["text"]
    other = make_case(
        id=8, name="Birch", ref="CU-0008", tags=("trial",), step="signup", signup_date=TODAY
    )
    (notice,) = actions("signup_notify", other)
    assert "Birch (CU-0008)" in notice.payload["text"]


def test_step_written_again_when_a_case_returns_to_it() -> None:
    back = make_case(step="welcome_call", onboarding_step="onboarding_call")
    (write,) = actions("step_writeback", back)
    assert write.key == "step_writeback:1:welcome_call:from-onboarding_call"


@pytest.mark.parametrize(
    ("name", "case", "reason"),
    [
        (
            "check_in_email",
            make_case(step="qualification", signup_date=TODAY - timedelta(days=60)),
            "day 60: past the day-7 check-in window (days 7–9)",
        ),
        (
            "signup_notify",
            make_case(step="qualification", signup_date=TODAY - timedelta(days=200)),
            "day 200: past the day-0 signup notice window (days 0–2)",
        ),
        (
            "qualification_reminder",
            make_case(step="qualification", signup_date=TODAY - timedelta(days=60)),
            "day 60: past the day-2 qualification reminder window (days 2–6)",
        ),
        (
            "partner_qualification_reminder",
            partner("partner_qualification", signup_date=TODAY - timedelta(days=200)),
            "day 200: past the day-5 partner qualification reminder window (days 5–14)",
        ),
        (
            "follow_up_message",
            make_case(step="follow_up", onboarding_call_date=TODAY - timedelta(days=3)),
            "was 3 days ago, past the 1-day window",
        ),
    ],
    ids=["check-in-day-60", "signup-200", "qualify-day-60", "partner-200", "follow-up-72h"],
)
def test_a_timer_past_its_window_is_skipped_with_the_window(
    name: str, case: Case, reason: str
) -> None:
    decision = decide(name, case)
    assert isinstance(decision, Skip) and reason in decision.reason


@pytest.mark.parametrize(("name", "key"), [(n, k) for n, p in CONFIGURED.items() for k in p])
def test_a_mautic_rule_without_its_id_sends_nothing(name: str, key: str) -> None:
    r = rule(name)
    case = make_case(
        tags=("trial", "not_icp"), step="nurture", signup_date=TODAY - timedelta(days=7)
    )
    decision = r.decide(case, NOW, r.params())
    assert decision == Skip(
        f"no Mautic {'segment' if key == 'segment_id' else 'email template'} "
        f"chosen: set [rule:{name}] {key}"
    )


def credit_note(source_id: int, total_ht: str, id: int = 30, settled: bool = True) -> Invoice:
    return Invoice(
        id=id,
        ref=f"AV2612-{id:04d}",
        is_settled=settled,
        total_ht=Decimal(total_ht),
        currency="EUR",
        kind="credit_note",
        source_id=source_id,
    )


def test_credit_notes_never_take_back_more_than_the_invoice_earned_on() -> None:
    short = paid_invoice(
        id=5, ref="FA2612-0004", total_ht="1000.00", paid_ht=Decimal("750"), close_code="other"
    )
    first, second = credit_note(5, "-600.00", id=30), credit_note(5, "-600.00", id=31)
    case = make_case(referrer=PARTNER, invoices=(short, first, second))
    notes = [a for a in actions("partner_commission_note", case) if a.kind == "dolibarr.note"]
    texts = {a.key: a.payload["text"] for a in notes}
    assert texts["partner_commission_note:7:credit:30:note"].endswith(
        "-600.00 EUR excl. tax × rate 15 % = -90.00 EUR"
    )
    assert texts["partner_commission_note:7:credit:31:note"].endswith(
        "-150.00 EUR (of -600.00, capped) excl. tax × rate 15 % = -22.50 EUR"
    )  # 600 + 150 = the 750 paid


def test_an_open_credit_note_reverses_nothing_yet() -> None:
    invoice = paid_invoice(id=5)
    case = make_case(referrer=PARTNER, invoices=(invoice, credit_note(5, "-490.00", settled=False)))
    assert not any(":credit:" in a.key for a in actions("partner_commission_note", case))


def test_since_must_be_a_date() -> None:
    with pytest.raises(ValueError, match="since '2026-13-01' is not a date"):
        rule("partner_commission_note").params(since="2026-13-01")


# --- the customer process page, point by point ---------------------------------------

DAY_15 = TODAY - timedelta(days=15)


@pytest.mark.parametrize(
    ("name", "step", "params"),
    [
        ("conversion_proposal", "conversion", {}),
        ("follow_up_message", "follow_up", {"community_link": "https://chat.example.com"}),
        ("welcome_call_offer", "welcome_call", CAL),
    ],
)
def test_not_icp_gets_no_conversion_and_no_personal_outreach(
    name: str, step: str, params: dict[str, Any]
) -> None:
    """Page: "If not [ICP], note in Dolibarr and continue nurture via Mautic only"."""
    case = make_case(
        tags=("trial", "not_icp"),
        step=step,
        onboarding_call_date=YESTERDAY,
        logins_count=9,
        frameworks_mapped=3,
    )
    decision = decide(name, case, **params)
    assert isinstance(decision, Skip)
    assert "Not-ICP: nurture only" in decision.reason


def test_conversion_window_is_read_from_the_parameters() -> None:
    """Page: "Conversion conversation (day 10–14)": a configured first_day = 8 takes effect."""
    day_8 = make_case(step="conversion", signup_date=TODAY - timedelta(days=8))
    assert isinstance(decide("conversion_proposal", day_8), Skip)
    keys = [a.key for a in actions("conversion_proposal", day_8, first_day=8)]
    assert keys == ["conversion_proposal:1:task", "conversion_proposal:1:matrix"]


def test_day_14_is_a_deadline_for_a_trial_with_no_proposal() -> None:
    """Page: "consistently, within 14 days of signup": on day 15 the owner is told, once."""
    task, notice = actions("conversion_proposal", make_case(step="follow_up", signup_date=DAY_15))
    assert task.kind == "dolibarr.agenda_event" and task.payload["owner_id"] == 1
    assert task.payload["is_task"] is True
    assert notice.kind == "matrix.notify" and notice.target == "sales"
    assert f"closed on {DAY_15 + timedelta(days=14)}" in task.because
    assert "no proposal and no paid invoice" in task.because


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (
            make_case(step="conversion", signup_date=DAY_15, proposals=(proposal(),)),
            "a proposal exists (PR2611-0001)",
        ),
        (
            make_case(step="subscription_active", signup_date=DAY_15, invoices=(paid_invoice(),)),
            "already a paying customer",
        ),
        (make_case(tags=("trial", "not_icp"), step="nurture", signup_date=DAY_15), "Not-ICP"),
        (
            make_case(tags=("trial", "eu_project"), step="follow_up", signup_date=DAY_15),
            "EU-Project",
        ),
        (make_case(step="follow_up", signup_date=TODAY - timedelta(days=14)), "not conversion"),
    ],
)
def test_no_deadline_for_a_converted_proposed_or_exempt_trial(case: Case, reason: str) -> None:
    decision = decide("conversion_proposal", case)
    assert isinstance(decision, Skip) and reason in decision.reason


def test_deadline_follows_the_configured_last_day() -> None:
    day_13 = make_case(step="follow_up", signup_date=TODAY - timedelta(days=13))
    keys = [a.key for a in actions("conversion_proposal", day_13, first_day=8, last_day=12)]
    assert keys == ["conversion_proposal:1:deadline:task", "conversion_proposal:1:deadline:matrix"]


def test_conversion_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="first_day 15 is after last_day 14"):
        rule("conversion_proposal").params(first_day=15)


def test_handoff_invites_the_customer_to_the_support_channel() -> None:
    """Page, step 10 and Output: "The customer has a support channel (Matrix or Discord)"."""
    link = "https://matrix.to/#/#customers:example.com"
    notice, event, invite = actions("handoff_success", make_case(step="handoff"), support_link=link)
    assert invite.kind == "freescout.message" and invite.key == "handoff_success:1:invite"
    assert invite.target == "contact1@example.com"
    assert link in invite.payload["text"] and "Company 1" in invite.payload["text"]
    assert (notice.kind, event.kind) == ("matrix.notify", "dolibarr.agenda_event")


def test_follow_up_carries_the_community_invite() -> None:
    """Page: follow-up "with ... and community Discord invite"."""
    link = "https://discord.gg/unicis"
    case = make_case(step="follow_up", onboarding_call_date=YESTERDAY)
    (message,) = actions("follow_up_message", case, community_link=link)
    assert f"Join our community: {link}" in message.payload["text"]
