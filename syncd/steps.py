"""Infer where a case stands in its onboarding process, and why.

Role: from one immutable case snapshot and the current time, pick the most
advanced step the evidence supports in each process the case is in, customer
and partner, each from its own evidence (docs/design.md, "The processes as
steps"), and name the facts that decided it, in short sentences people read
in the audit.

This module must never do I/O, read the clock (the caller passes `now`, already
in the Dolibarr server's zone), plan or take actions, or look at timers: the
day-7 check-in and the day-2 qualification reminder are rules, not steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from syncd.errors import CaseDataError, EvidenceError
from syncd.model import (
    ALL_STEPS,
    NO_STEP,
    ONBOARDING_TAGS,
    PARTNER_TAGS,
    PROCESS_STEPS,
    TAGS,
    Case,
    Referral,
    Track,
    process_of,
)

CUSTOMER_TAGS: frozenset[str] = frozenset(TAGS) - PARTNER_TAGS
PROCESS_ORDER: tuple[str, ...] = tuple(PROCESS_STEPS)  # customer first
OVERRIDE_FIELD = "onboarding_step_override"
NO_PROCESS = "no onboarding tag (Trial, ICP-fit, Not-ICP or a partner tag)"
# Tags a person cannot mean together: the case is bad data until one is removed.
CONTRADICTIONS: tuple[tuple[str, str], ...] = (
    ("icp_fit", "not_icp"),
    ("partner_qualified", "partner_declined"),
)
# The rule whose parameters hold the numbers of step inference (see `StepSettings`).
SETTINGS_RULE = "conversion_proposal"


@dataclass(frozen=True)
class StepSettings:
    """The numbers step inference uses; each is a parameter of `[rule:conversion_proposal]`.

    They live next to the rule that acts on the step they decide, so that a
    configured `first_day = 8` moves both the step and the proposal task.
    """

    first_day: int = 10  # first day since signup on which an active trial is ready to convert
    min_logins: int = 3
    min_frameworks: int = 1

    @classmethod
    def from_params(cls, params: object) -> StepSettings:
        """The settings from a rule's built Params (any object with these attributes)."""
        default = cls()
        return cls(
            first_day=getattr(params, "first_day", default.first_day),
            min_logins=getattr(params, "min_logins", default.min_logins),
            min_frameworks=getattr(params, "min_frameworks", default.min_frameworks),
        )


DEFAULT_SETTINGS = StepSettings()

Evidence = tuple[str, ...]
Found = tuple[str, Evidence]


def infer(
    case: Case,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    settings: StepSettings = DEFAULT_SETTINGS,
) -> Case:
    """Return `case` with `tracks`, `step` and `evidence` filled in.

    A case is in the customer process when tagged Trial, ICP-fit or Not-ICP,
    in the partner process when it has a partner tag, in both when it has both
    (a trial that is also a partner prospect), else in step `none`.
    `now` is aware and in the Dolibarr server's zone; today is `now.date()`.
    `labels` maps logical tag names to Dolibarr labels for the wording only.
    Raises `CaseDataError` when `onboarding_step_override` cannot be read,
    and `EvidenceError` when two of the case's tags contradict each other.
    """
    return in_tracks(case, infer_tracks(case, now, labels, settings))


def infer_tracks(
    case: Case,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    settings: StepSettings = DEFAULT_SETTINGS,
) -> list[Track]:
    """What `infer` puts the case in: one track per process, customer first; [] for
    none. It raises as `infer` does. For a caller that completes the tracks
    (with the step history) before the case is built once, by `in_tracks`."""
    words = _Words(labels or {}, settings)
    _check_contradictions(case, words)
    return _overridden(case, _inferred(case, now.date(), words))


def in_tracks(
    case: Case, tracks: Sequence[Track], entry: tuple[datetime | None, bool] | None = None
) -> Case:
    """`case` in the processes of `tracks` (`Case.with_tracks`), or in step `none`.

    `entry` (`step_since`, `entered_step`) is when the case entered its whole
    step, for a case in two processes or in none; None keeps the case's own.
    """
    if tracks:
        return case.with_tracks(tracks, entry)
    since, entered = entry or (case.step_since, case.entered_step)
    return replace(
        case,
        step=NO_STEP,
        evidence=(NO_PROCESS,),
        tracks=(),
        step_since=since,
        entered_step=entered,
    )


def days_since_signup(case: Case, now: datetime) -> int:
    """Whole days from the signup date (else creation date) to today; 0 on the signup day."""
    return (now.date() - case.signup_date).days


def is_active(case: Case, settings: StepSettings = DEFAULT_SETTINGS) -> bool:
    """Whether the trial is in real use: logged in 3 times and mapped a framework (defaults)."""
    fields = case.fields
    return (
        fields.logins_count >= settings.min_logins
        and fields.frameworks_mapped >= settings.min_frameworks
    )


class _Words:
    """Wording of evidence: tags by their Dolibarr label, dates relative to today.

    It also carries the settings, so every check keeps one signature.
    """

    def __init__(
        self, labels: Mapping[str, str], settings: StepSettings = DEFAULT_SETTINGS
    ) -> None:
        self.labels = labels
        self.settings = settings

    def label(self, logical_tag: str) -> str:
        return self.labels.get(logical_tag, logical_tag)

    def tag(self, logical_tag: str) -> str:
        return f"tag {self.label(logical_tag)}"


def _check_contradictions(case: Case, words: _Words) -> None:
    """ICP-fit with Not-ICP, or Partner-Qualified with Partner-Declined, is bad data.

    Guessing which one a person meant could send a sales email to someone
    declined, so the case waits, in error, until one tag is removed.
    """
    for first, second in CONTRADICTIONS:
        if {first, second} <= case.tags:
            a, b = words.label(first), words.label(second)
            raise EvidenceError(case.id, f"tags {a} and {b}", "contradict each other: remove one")


def _inferred(case: Case, today: date, words: _Words) -> list[Track]:
    """One track per process the case's tags put it in, each from its own evidence."""
    tracks: list[Track] = []
    # Only third parties tagged Trial, ICP-fit or Not-ICP are in customer onboarding:
    # an old customer (paid invoices, maybe Customer-Active) must not be tagged and
    # handed off on syncd's first run.
    if case.tags & ONBOARDING_TAGS:
        tracks.append(Track("customer", *_customer(case, today, words)))
    if case.tags & PARTNER_TAGS:
        tracks.append(Track("partner", *_partner(case, today, words)))
    return tracks


def _overridden(case: Case, tracks: list[Track]) -> list[Track]:
    """The tracks with a person's `onboarding_step_override` applied.

    An override of one process replaces that process's step when the case is
    in it; on a case in the other process only (or in none) it is the case's
    step, as it always was. An override naming both steps sets both.
    """
    forced = _override(case)
    if len(forced) == 1 and any(t.process == forced[0].process for t in tracks):
        tracks = [forced[0] if t.process == forced[0].process else t for t in tracks]
    elif forced:
        tracks = forced
    return sorted(tracks, key=lambda t: PROCESS_ORDER.index(t.process))


def _override(case: Case) -> list[Track]:
    """`discovery_call`, `partner:discovery_call`, or both steps as `onboarding_step`
    shows them (`welcome_call / partner_qualification`); [] when the field is empty."""
    raw = case.fields.step_override
    if raw is None or not raw.strip():
        return []
    forced = [_forced(case.id, raw, part) for part in raw.split("/")]
    if len({t.process for t in forced}) < len(forced):
        raise CaseDataError(case.id, OVERRIDE_FIELD, raw, "names two steps of one process")
    return forced


def _forced(case_id: int, raw: str, part: str) -> Track:
    named, colon, step = part.strip().lower().rpartition(":")
    step = step.strip()
    if step not in ALL_STEPS:
        why = f"is not a step; valid steps: {', '.join(ALL_STEPS)}"
        raise CaseDataError(case_id, OVERRIDE_FIELD, raw, why)
    process = named.strip() if colon else process_of(step)
    if process not in PROCESS_STEPS:
        why = f"names no process {named.strip()!r} (write customer: or partner: before the step)"
        raise CaseDataError(case_id, OVERRIDE_FIELD, raw, why)
    if process_of(step) != process:
        why = f"names {step}, a {process_of(step)} step, not a {process} one"
        raise CaseDataError(case_id, OVERRIDE_FIELD, raw, why)
    return Track(process, step, (f"override by {OVERRIDE_FIELD}",))


def _when(name: str, day: date, today: date) -> str:
    """`name day passed|today|ahead`: a date is passed from the day after it."""
    if day < today:
        return f"{name} {day.isoformat()} passed"
    if day == today:
        return f"{name} {day.isoformat()} today"
    return f"{name} {day.isoformat()} ahead"


def _first(
    checks: Sequence[Callable[[Case, date, _Words], Found | None]],
    case: Case,
    today: date,
    words: _Words,
) -> Found | None:
    for check in checks:
        found = check(case, today, words)
        if found is not None:
            return found
    return None


# --- partner process -------------------------------------------------------------


def _partner(case: Case, today: date, words: _Words) -> Found:
    if "partner_declined" in case.tags:
        return "partner_declined", (words.tag("partner_declined"),)
    found = _first(_PARTNER_CHECKS, case, today, words)
    if found is not None:
        return found
    undecided = f"no {words.label('partner_qualified')} / {words.label('partner_declined')} tag yet"
    return "partner_qualification", (words.tag("partner_prospect"), undecided)


def _active_partner(case: Case, today: date, words: _Words) -> Found | None:
    if "partner_active" in case.tags:
        return "active_partner", (words.tag("partner_active"),)
    signed, briefing = case.fields.agreement_signed_date, case.fields.briefing_date
    if signed is None or briefing is None or briefing >= today:
        return None
    agreement = f"agreement_signed_date {signed.isoformat()} set"
    return "active_partner", (agreement, _when("briefing_date", briefing, today))


def _first_deal(case: Case, today: date, words: _Words) -> Found | None:
    if not case.customer_referrals:
        return None
    return "first_deal", (_referrals(case.customer_referrals),)


def _referrals(referrals: Sequence[Referral]) -> str:
    names = ", ".join(r.ref or r.name or str(r.id) for r in referrals)
    if len(referrals) == 1:
        return f"referred customer {names}"
    return f"{len(referrals)} referred customers: {names}"


def _directory_listing(case: Case, today: date, words: _Words) -> Found | None:
    briefing = case.fields.briefing_date
    if briefing is None or briefing >= today or not case.fields.has_directory_consent:
        return None
    return "directory_listing", (_when("briefing_date", briefing, today), "directory_consent yes")


def _onboarding_briefing(case: Case, today: date, words: _Words) -> Found | None:
    briefing = case.fields.briefing_date
    if briefing is None:
        return None
    evidence: Evidence = (_when("briefing_date", briefing, today),)
    if briefing < today:
        evidence += ("no directory_consent",)
    return "onboarding_briefing", evidence


def _partner_account(case: Case, today: date, words: _Words) -> Found | None:
    call = case.fields.discovery_call_date
    if call is None or call >= today:
        return None
    return "partner_account", (_when("discovery_call_date", call, today),)


def _discovery_call(case: Case, today: date, words: _Words) -> Found | None:
    """Qualified, or a discovery call already booked (today or ahead)."""
    call = case.fields.discovery_call_date
    booked = _when("discovery_call_date", call, today) if call else "no discovery_call_date yet"
    if "partner_qualified" in case.tags:
        return "discovery_call", (words.tag("partner_qualified"), booked)
    if call is not None:
        return "discovery_call", (booked,)
    return None


_PARTNER_CHECKS = (
    _active_partner,
    _first_deal,
    _directory_listing,
    _onboarding_briefing,
    _partner_account,
    _discovery_call,
)


# --- customer process ------------------------------------------------------------


def _customer(case: Case, today: date, words: _Words) -> Found:
    found = _first(_PAID_CHECKS, case, today, words)
    notes: Evidence = ()
    if found is None:
        # Not-ICP is nurture only: activity or a call date never moves it on.
        found = _nurture(case, today, words)
    if found is None:
        found, notes = _conversion_or_skip(case, today, words)
    if found is None:
        found = _first(_TRIAL_CHECKS, case, today, words)
    step, evidence = found or _trial(case, today, words)
    if "self_hosted" in case.tags:
        notes += (words.tag("self_hosted"),)
    return step, evidence + notes


def _handoff(case: Case, today: date, words: _Words) -> Found | None:
    if "customer_active" not in case.tags:
        return None
    return "handoff", (words.tag("customer_active"),)


def _subscription_active(case: Case, today: date, words: _Words) -> Found | None:
    paid = [inv.ref or str(inv.id) for inv in case.invoices if inv.is_paid]
    if not paid:
        return None
    return "subscription_active", (f"paid invoice {', '.join(paid)}",)


_PAID_CHECKS = (_handoff, _subscription_active)


def _conversion_or_skip(case: Case, today: date, words: _Words) -> tuple[Found | None, Evidence]:
    """Conversion when due, or no step and a note when an EU-Project case skips it."""
    day = (today - case.signup_date).days
    settings = words.settings
    if day < settings.first_day or not is_active(case, settings):
        return None, ()
    if "eu_project" in case.tags:
        return None, (f"{words.label('eu_project')}: conversion skipped",)
    fields = case.fields
    active = (
        f"active: logins_count {fields.logins_count} ≥ {settings.min_logins}, "
        f"frameworks_mapped {fields.frameworks_mapped} ≥ {settings.min_frameworks}"
    )
    evidence = (_since_signup(case, today), active, _proposals(case))
    return ("conversion", evidence), ()


def _since_signup(case: Case, today: date) -> str:
    day = (today - case.signup_date).days
    source = "" if case.fields.signup_date is not None else " (creation date)"
    return f"day {day} since signup {case.signup_date.isoformat()}{source}"


def _proposals(case: Case) -> str:
    if not case.proposals:
        return "no proposal yet"
    refs = ", ".join(p.ref or str(p.id) for p in case.proposals)
    return f"proposal {refs}"


def _call(case: Case, today: date, words: _Words) -> Found | None:
    call = case.fields.onboarding_call_date
    if call is None:
        return None
    step = "follow_up" if call < today else "onboarding_call"
    return step, (_when("onboarding_call_date", call, today),)


def _welcome_call(case: Case, today: date, words: _Words) -> Found | None:
    if "icp_fit" not in case.tags:
        return None
    return "welcome_call", (words.tag("icp_fit"), "no onboarding_call_date yet")


def _nurture(case: Case, today: date, words: _Words) -> Found | None:
    if "not_icp" not in case.tags:
        return None
    return "nurture", (words.tag("not_icp"),)


_TRIAL_CHECKS = (_call, _welcome_call)


def _trial(case: Case, today: date, words: _Words) -> Found:
    """Signup on the signup day, qualification after it, while no ICP tag is set."""
    lead = "trial" if "trial" in case.tags else min(case.tags & CUSTOMER_TAGS)
    since = _since_signup(case, today)
    if today <= case.signup_date:
        return "signup", (words.tag(lead), since)
    unqualified = f"no {words.label('icp_fit')} / {words.label('not_icp')} tag yet"
    return "qualification", (words.tag(lead), unqualified, since)
