"""`syncd.recipients`: one person never gets the same message for two cases."""

from __future__ import annotations

from syncd.model import Action, CaseReport
from syncd.recipients import earlier_messages, identity, one_email_each


def email(case_id: int, to: str, template: int = 1, rule: str = "check_in_email") -> Action:
    payload = {"template_id": template, "email": to}
    return Action("mautic.send_email", f"{rule}:{case_id}", to, payload, "day 7", rule)


def message(case_id: int, to: str, rule: str = "welcome_call_offer") -> Action:
    return Action("freescout.message", f"{rule}:{case_id}", to, {"email": to}, "offer", rule)


def report(case_id: int, *actions: Action) -> CaseReport:
    return CaseReport(case_id, f"CU-{case_id}", f"Case {case_id}", "customer", "x", actions=actions)


def test_second_case_sharing_an_address_is_skipped_with_the_first_case() -> None:
    reports = one_email_each(
        [report(2, email(2, "A@x.example")), report(1, email(1, "a@x.example"))], {}
    )
    assert [len(r.actions) for r in reports] == [1, 0]
    assert reports[1].skipped == (("check_in_email", "already sent to A@x.example for case 1"),)


def test_messages_sent_earlier_for_another_case_win() -> None:
    earlier = earlier_messages(
        [(7, "mautic.send_email", "check_in_email", "a@x.example", {"template_id": 1})]
    )
    (only,) = one_email_each([report(1, email(1, "a@x.example"))], earlier)
    assert only.actions == ()
    assert only.skipped == (("check_in_email", "already sent to a@x.example for case 7"),)


def test_the_same_case_planning_again_is_not_a_duplicate() -> None:
    earlier = earlier_messages(
        [(1, "mautic.send_email", "check_in_email", "a@x.example", {"template_id": 1})]
    )
    (same,) = one_email_each([report(1, email(1, "a@x.example"))], earlier)
    assert len(same.actions) == 1


def test_other_templates_rules_and_addresses_are_different_messages() -> None:
    reports = one_email_each(
        [
            report(1, email(1, "a@x.example"), message(1, "a@x.example")),
            report(2, email(2, "a@x.example", template=2), message(2, "b@x.example")),
            report(3, message(3, "a@x.example", rule="follow_up_message")),
        ],
        {},
    )
    assert [len(r.actions) for r in reports] == [2, 2, 1]


def test_only_messages_have_an_identity() -> None:
    assert identity("matrix.notify", "signup_notify", "sales", {}) is None
    assert identity("mautic.add_to_segment", "nurture_segment", "a@x.example", {}) is None
    assert identity("freescout.message", "welcome_call_offer", " ", {}) is None
