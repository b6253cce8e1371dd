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

from syncd.model import ACTION_KINDS, Action, Case, Invoice, Referrer, Rule, Skip
from tests.factories import NOW, make_case, paid_invoice, proposal, referral

TODAY = NOW.date()
TOMORROW = TODAY + timedelta(days=1)
YESTERDAY = TODAY - timedelta(days=1)
PARTNER = Referrer(id=7, ref="PA2611-0007", name="Iris Partners", commission_rate=Decimal("0.15"))


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


def decide(name: str, case: Case, **params: Any) -> list[Action] | Skip:
    r = rule(name)
    decision = r.decide(case, NOW, r.params(**(CONFIGURED.get(name, {}) | params)))
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
        make_case(step="conversion", signup_date=TODAY - timedelta(days=15)),
        {},
        "day 15 since signup",
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
    invoice = Invoice(
        id=15, ref="FA2611-0015", is_paid=True, total_ht=Decimal("1200.00"), currency="EUR"
    )
    event, note = actions(
        "partner_commission_note", make_case(referrer=PARTNER, invoices=(invoice,))
    )
    assert event.kind == "dolibarr.agenda_event" and note.kind == "dolibarr.note"
    assert event.target == note.target == "thirdparty:7"
    assert event.payload["commission"] == "180.00"
    assert "FA2611-0015" in note.payload["text"]
    assert "1200.00 EUR excl. tax × rate 0.15 = 180.00 EUR" in note.payload["text"]
    assert "rate 0.15" in event.payload["label"]


def test_commission_uses_default_rate_when_partner_has_none() -> None:
    bare = Referrer(id=7, ref="PA2611-0007", name="Iris Partners")
    case = make_case(referrer=bare, invoices=(paid_invoice(total_ht="333.35"),))
    event, note = actions("partner_commission_note", case)
    assert event.payload["rate"] == "0.10"
    assert event.payload["commission"] == "33.34"  # 33.335 rounds half up
    assert "default rate" in note.because
    _, other = actions("partner_commission_note", case, default_rate=Decimal("0.2"))
    assert other.payload["commission"] == "66.67"


def test_commission_skips_a_rate_that_is_not_a_rate() -> None:
    odd = Referrer(id=7, ref="PA2611-0007", name="Iris", commission_rate=Decimal("15"))
    decision = decide(
        "partner_commission_note", make_case(referrer=odd, invoices=(paid_invoice(),))
    )
    assert isinstance(decision, Skip) and "not between 0 and 1" in decision.reason


def test_commission_notes_only_paid_invoices_whatever_the_step() -> None:
    unpaid = Invoice(id=3, ref="FA2611-0003", is_paid=False, total_ht=Decimal(100), currency="EUR")
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
