"""The nouns of syncd: cases, their steps, planned actions and rules.

Frozen dataclasses only. This module does no I/O and reads no clock; it is the
one module of the core that rule modules may import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

CUSTOMER_STEPS: tuple[str, ...] = (
    "signup",
    "qualification",
    "nurture",
    "welcome_call",
    "onboarding_call",
    "follow_up",
    "conversion",
    "subscription_active",
    "handoff",
)
PARTNER_STEPS: tuple[str, ...] = (
    "partner_qualification",
    "partner_declined",
    "discovery_call",
    "partner_account",
    "onboarding_briefing",
    "directory_listing",
    "first_deal",
    "active_partner",
)
ALL_STEPS: tuple[str, ...] = CUSTOMER_STEPS + PARTNER_STEPS
NO_STEP = "none"  # a third party with no onboarding evidence at all
# A third party can be in both processes (a trial that is also a partner prospect);
# its step then names both, customer first: `welcome_call / partner_qualification`.
PROCESS_STEPS: Mapping[str, tuple[str, ...]] = {
    "customer": CUSTOMER_STEPS,
    "partner": PARTNER_STEPS,
}
STEP_SEPARATOR = " / "

# Logical tag names; `[tags]` in syncd.ini maps each to a Dolibarr category label.
TAGS: tuple[str, ...] = (
    "trial",
    "icp_fit",
    "not_icp",
    "eu_project",
    "self_hosted",
    "customer_active",
    "partner_prospect",
    "partner_qualified",
    "partner_declined",
    "partner_active",
)
PARTNER_TAGS: frozenset[str] = frozenset(
    {"partner_prospect", "partner_qualified", "partner_declined", "partner_active"}
)
# The tags that put a third party in the customer process; Customer-Active,
# EU-Project or Self-hosted alone do not (an old customer is not onboarded).
ONBOARDING_TAGS: frozenset[str] = frozenset({"trial", "icp_fit", "not_icp"})

# Logical field names; `[fields]` in syncd.ini maps each to an extrafield code.
FIELDS: tuple[str, ...] = (
    "signup_date",
    "onboarding_call_date",
    "logins_count",
    "frameworks_mapped",
    "referred_by",
    "commission_rate",
    "syncd_pause",
    "syncd_skip_rules",
    "onboarding_step",
    "onboarding_step_override",
    "mautic_contact_id",
    "discovery_call_date",
    "briefing_date",
    "directory_consent",
    "agreement_signed_date",
    "dpa_signed",
    "marketing_opt_out",
)

EU_COUNTRIES: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)

# Marketing: what a contact who opted out (`marketing_opt_out`) must not receive.
MARKETING_KINDS: frozenset[str] = frozenset({"mautic.send_email", "mautic.add_to_segment"})

ACTION_KINDS: tuple[str, ...] = (
    "mautic.link_contact",
    "mautic.send_email",
    "mautic.add_to_segment",
    "freescout.message",
    "matrix.notify",
    "dolibarr.agenda_event",
    "dolibarr.note",
    "dolibarr.set_fields",
    "dolibarr.tag",
)


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    ref: str
    status: int


# Dolibarr's invoice `type` (QUIRKS.md, "Invoices: the paid signal").
INVOICE_KINDS: Mapping[int, str] = {
    0: "standard",
    1: "replacement",
    2: "credit_note",
    3: "deposit",
    5: "situation",
}


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice as the customer process and the money rules see it.

    Amounts are excl. tax, in `currency`: the invoice's own currency when it has
    one, else the company's ("" when neither is known). `is_settled` is
    Dolibarr's "closed as paid": in full, or "paid partially" (a `close_code`),
    when `paid_ht` is the share that came in. Only a standard invoice counts as
    paid (`is_paid`): a credit note or a deposit never makes a paying customer.
    """

    id: int
    ref: str
    is_settled: bool
    total_ht: Decimal
    currency: str
    kind: str = "standard"
    paid_ht: Decimal | None = None
    close_code: str = ""
    source_id: int | None = None  # a credit note's corrected invoice (`fk_facture_source`)
    deposits_ht: Decimal = Decimal(0)  # the deposits this invoice absorbs, as a positive sum
    issued_on: date | None = None  # the invoice date

    @property
    def is_paid(self) -> bool:
        return self.kind == "standard" and self.is_settled


@dataclass(frozen=True, slots=True)
class Referral:
    """A third party whose `referred_by` names the partner holding this record."""

    id: int
    ref: str
    name: str
    # A partner only (a partner tag, no Trial, ICP-fit or Not-ICP): a partner who
    # referred another partner has a referral, not a customer deal.
    is_partner: bool = False


@dataclass(frozen=True, slots=True)
class Referrer:
    """The partner named in a customer's `referred_by`."""

    id: int
    ref: str
    name: str
    commission_rate: Decimal | None = None  # a percentage: 15 is 15 %
    is_paused: bool = False  # `syncd_pause` on the partner: nothing is written on its record
    error: str = ""  # the partner's data cannot be read: its notes wait

    @property
    def waits(self) -> str:
        """Why nothing may be written on the partner's record now; "" when it may."""
        if self.error:
            return f"partner {self.ref} has an error: {self.error}"
        if self.is_paused:
            return f"partner {self.ref} is paused (syncd_pause is set on it)"
        return ""


@dataclass(frozen=True, slots=True)
class Fields:
    """The extrafields of a case, parsed and typed (see `syncd.casebuild`)."""

    signup_date: date | None = None
    onboarding_call_date: date | None = None
    logins_count: int = 0
    frameworks_mapped: int = 0
    referred_by: int | None = None
    commission_rate: Decimal | None = None  # a percentage (15 is 15 %), whatever Dolibarr stores
    is_paused: bool = False
    skip_rules: frozenset[str] = frozenset()
    onboarding_step: str | None = None
    step_override: str | None = None
    mautic_contact_id: str | None = None
    discovery_call_date: date | None = None
    briefing_date: date | None = None
    has_directory_consent: bool = False
    agreement_signed_date: date | None = None
    has_dpa_signed: bool = False
    has_opted_out: bool = False  # no marketing email (Mautic emails, segments) for this case


_PROCESS_OF: Mapping[str, str] = {
    step: process for process, steps in PROCESS_STEPS.items() for step in steps
}


def process_of(step: str) -> str:
    """The process a step belongs to (steps are named apart); `none` for any other word."""
    return _PROCESS_OF.get(step, NO_STEP)


def join_steps(steps: Sequence[str]) -> str:
    return STEP_SEPARATOR.join(steps) or NO_STEP


def step_in(step: str, process: str) -> str:
    """The step of `process` within a (possibly joined) step; `none` when it has none."""
    parts = step.split(STEP_SEPARATOR)
    return next((s for s in parts if process_of(s) == process), NO_STEP)


@dataclass(frozen=True, slots=True)
class Track:
    """Where a case stands in one process: its step there, why, and since when."""

    process: str
    step: str
    evidence: tuple[str, ...] = ()
    step_since: datetime | None = None  # as `Case.step_since`, for this process's step
    entered_step: bool = False


@dataclass(frozen=True, slots=True)
class Case:
    """An immutable snapshot of one Dolibarr third party and what hangs off it.

    `step` and `evidence` are empty until `syncd.steps.infer` fills them, with
    one `Track` per process the case is in; in two, `step` joins both steps
    (`welcome_call / partner_qualification`), and a rule sees the case
    `in_process` of its own, with that process's step.
    """

    id: int
    ref: str
    name: str
    email: str
    created_at: datetime
    country_code: str = ""
    tags: frozenset[str] = frozenset()
    fields: Fields = field(default_factory=Fields)
    contacts: tuple[Contact, ...] = ()
    proposals: tuple[Proposal, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    referrals: tuple[Referral, ...] = ()
    referrer: Referrer | None = None
    step: str = ""
    evidence: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # a likely mistake in the case's data, for the audit
    # When syncd saw the case move into its current step (its step history, or
    # the `[syncd]` events after `rebuild-state`); None when syncd first met the
    # case already there, so when it got there is not known.
    step_since: datetime | None = None
    # True in the one cycle that sees the case move into its step from another.
    entered_step: bool = False
    tracks: tuple[Track, ...] = ()  # one per process the case is in, customer first

    @property
    def processes(self) -> tuple[str, ...]:
        """The processes the case is in, customer first; empty for no onboarding at all."""
        if self.tracks:
            return tuple(t.process for t in self.tracks)
        # A case whose step was set by hand (a rule's test) is in that step's process.
        if self.step == NO_STEP:
            return ()
        if process_of(self.step) != NO_STEP:
            return (process_of(self.step),)
        return ("partner",) if self.tags & PARTNER_TAGS else ("customer",)

    @property
    def process(self) -> str:
        """`customer`, `partner`, `customer + partner`, or `none`."""
        return " + ".join(self.processes) or NO_STEP

    def in_process(self, process: str) -> Case | None:
        """The case as a rule of `process` sees it: with that process's step, evidence
        and step history; itself for `any`; None when the case is not in `process`."""
        if process == "any":
            return self
        track = next((t for t in self.tracks if t.process == process), None)
        if track is None:
            return self if not self.tracks and process in self.processes else None
        if len(self.tracks) == 1:
            return self
        return replace(
            self,
            step=track.step,
            evidence=track.evidence,
            step_since=track.step_since,
            entered_step=track.entered_step,
        )

    def with_tracks(
        self, tracks: Sequence[Track], entry: tuple[datetime | None, bool] | None = None
    ) -> Case:
        """The case in these processes: its step joins theirs, its evidence follows them.

        In one process, when it entered its step is its track's; in two, `entry`
        (`step_since`, `entered_step`) when given, else the case's own.
        """
        if len(tracks) == 1:
            only = tracks[0]
            return replace(
                self,
                tracks=(only,),
                step=only.step,
                evidence=tuple(only.evidence),  # the track's own tuple, not a copy
                step_since=only.step_since,
                entered_step=only.entered_step,
            )
        evidence = tuple(e for t in tracks for e in t.evidence)
        since, entered = entry or (self.step_since, self.entered_step)
        return replace(
            self,
            tracks=tuple(tracks),
            step=join_steps([t.step for t in tracks]),
            evidence=evidence,
            step_since=since,
            entered_step=entered,
        )

    @property
    def label(self) -> str:
        """How people name the case: its name, with the ref when the ref says more."""
        if self.ref and self.ref != self.name:
            return f"{self.name} ({self.ref})"
        return self.name

    @property
    def signup_date(self) -> date:
        """The signup date field, else the day the third party was created."""
        return self.fields.signup_date or self.created_at.date()

    @property
    def is_eu(self) -> bool:
        return self.country_code.upper() in EU_COUNTRIES

    @property
    def customer_referrals(self) -> tuple[Referral, ...]:
        """The referred third parties that are customers: the partner's deals."""
        return tuple(r for r in self.referrals if not r.is_partner)

    @property
    def has_paid_invoice(self) -> bool:
        return any(inv.is_paid for inv in self.invoices)

    def days_in_step(self, now: datetime) -> int | None:
        """Whole days since the case entered its step (0 on that day); None if not known."""
        if self.step_since is None:
            return None
        return (now.date() - self.step_since.astimezone(now.tzinfo).date()).days

    @property
    def contact_email(self) -> str:
        """Where personal messages go: the third party's email, else its first contact's."""
        if self.email:
            return self.email
        return next((c.email for c in self.contacts if c.email), "")


@dataclass(frozen=True, slots=True)
class Action:
    """One thing syncd plans to do, identified forever by its key.

    Keys are readable (`rule:case[:object][:period]`) because people meet them
    in Dolibarr agenda events. `because` is the rule's own explanation.
    """

    kind: str
    key: str
    target: str
    payload: Mapping[str, Any]
    because: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


Decision = Sequence[Action] | Skip

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Rule(Generic[P]):
    """A rule module's contract: a name, a process, typed parameters, one pure function.

    `needs` names the external systems (mautic, freescout, matrix) without which
    the rule is pointless: their absence from the configuration turns it into a
    skip. Beyond that, the engine leaves out any single action whose system is
    not configured, so a rule that also writes to Dolibarr still does that.

    `required_with` pairs a system with a parameter that must be set (not
    empty) when that system is configured and the rule enabled: a message that
    would go out without its link is a configuration error at start instead.
    """

    name: str
    process: str  # "customer", "partner" or "any"
    params: type[P]
    decide: Callable[[Case, datetime, P], Decision]
    needs: frozenset[str] = frozenset()
    required_with: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CaseReport:
    """What one cycle concluded about one case: the audit's unit."""

    case_id: int
    ref: str
    name: str
    process: str
    step: str
    evidence: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # a person's likely mistake in a steering field
    step_since: datetime | None = None  # Case.step_since
    entered_step: bool = False  # Case.entered_step
    tracks: tuple[Track, ...] = ()  # Case.tracks: each process's step, evidence and age

    def step_age(self, now: datetime) -> str:
        """When the case entered its step, as the audit says it ("" when not known)."""
        return step_age(self.step_since, self.entered_step, now)


def step_age(since: datetime | None, entered: bool, now: datetime) -> str:
    """`entering this step now`, `in this step since DATE (day N)`, or "" when not known."""
    if entered:
        return "entering this step now"
    if since is None:
        return ""
    local = since.astimezone(now.tzinfo)
    days = (now.date() - local.date()).days
    return f"in this step since {local:%Y-%m-%d} (day {days})"


def skip(reason: str) -> Skip:
    return Skip(reason)


STEP_KEY = "step_writeback"


def step_key(case_id: int, step: str, previous: str) -> str:
    """The key of writing a step into `onboarding_step`: `step_writeback:<case>:<step>:from-<was>`.

    Its `[syncd]` event on the timeline is also where `rebuild-state` finds
    when a case entered each step (`step_of_key`). A key ends at the first
    space of an event's label, so both steps of a case in two processes are
    joined by `+` there (`welcome_call+partner_qualification`).
    """
    return f"{STEP_KEY}:{case_id}:{_keyed(step)}:from-{_keyed(previous)}"


def step_of_key(key: str) -> tuple[int, str] | None:
    """(case id, step) of a `step_key`, both steps joined as `onboarding_step` shows them;
    None for any other key."""
    parts = key.split(":")
    if len(parts) != 4 or parts[0] != STEP_KEY or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2].replace(KEY_STEP_SEPARATOR, STEP_SEPARATOR)


KEY_STEP_SEPARATOR = "+"


def _keyed(step: str) -> str:
    return step.replace(STEP_SEPARATOR, KEY_STEP_SEPARATOR)


def past_window(day: int, first: int, length: int, what: str) -> Skip | None:
    """A timer that opens on day `first` stays open `length` days; later it is stale.

    Switched on over old records (a Trial tag on a signup 200 days ago), a timer
    must not fire as if its day had just come.
    """
    last = first + max(1, length) - 1
    if day > last:
        return Skip(f"day {day}: past the day-{first} {what} window (days {first}–{last})")
    return None


def fill_message(
    template: str, case: Case, calendar_link: str = "", placeholder: str = "calendar_link"
) -> str:
    """A message body from a configured template: `{name}` is the case's name, and
    `{calendar_link}` (or another `placeholder`) the link, appended at the end when
    the template has no place for it."""
    text = template.replace("{name}", case.name)
    if not calendar_link:
        return text
    slot = "{" + placeholder + "}"
    if slot not in text:
        return f"{text}\n\n{calendar_link}"
    return text.replace(slot, calendar_link)


def thirdparty_target(case: Case) -> str:
    return f"thirdparty:{case.id}"


def mautic_link(case: Case, key: str, because: str) -> Action:
    """Find or create the Mautic contact; the executor stores its id in `mautic_contact_id`."""
    payload = {"email": case.contact_email, "name": case.name, "socid": case.id}
    return Action("mautic.link_contact", key, case.contact_email, payload, because)


def mautic_email(case: Case, template_id: int, key: str, because: str) -> Action:
    payload = {
        "template_id": template_id,
        "email": case.contact_email,
        "name": case.name,
        "mautic_contact_id": case.fields.mautic_contact_id,
    }
    return Action("mautic.send_email", key, case.contact_email, payload, because)


def mautic_segment(case: Case, segment_id: int, key: str, because: str) -> Action:
    payload = {
        "segment_id": segment_id,
        "email": case.contact_email,
        "name": case.name,
        "mautic_contact_id": case.fields.mautic_contact_id,
    }
    return Action("mautic.add_to_segment", key, case.contact_email, payload, because)


def freescout_message(
    case: Case, mailbox_id: int, subject: str, text: str, key: str, because: str
) -> Action:
    payload = {
        "mailbox_id": mailbox_id,
        "subject": subject,
        "text": text,
        "email": case.contact_email,
        "name": case.name,
    }
    return Action("freescout.message", key, case.contact_email, payload, because)


def matrix_notify(room: str, text: str, key: str, because: str) -> Action:
    return Action("matrix.notify", key, room, {"room": room, "text": text}, because)


def agenda_event(
    case: Case,
    label: str,
    key: str,
    because: str,
    owner_id: int | None = None,
    is_task: bool = True,
    target_id: int | None = None,
) -> Action:
    socid = target_id if target_id is not None else case.id
    payload = {"socid": socid, "label": label, "owner_id": owner_id, "is_task": is_task}
    return Action("dolibarr.agenda_event", key, f"thirdparty:{socid}", payload, because)


def dolibarr_note(
    case: Case, text: str, key: str, because: str, target_id: int | None = None
) -> Action:
    socid = target_id if target_id is not None else case.id
    return Action(
        "dolibarr.note", key, f"thirdparty:{socid}", {"socid": socid, "text": text}, because
    )


def set_fields(case: Case, values: Mapping[str, Any], key: str, because: str) -> Action:
    """Write logical fields back to the case (mapped to extrafield codes by the executor)."""
    return Action(
        "dolibarr.set_fields",
        key,
        thirdparty_target(case),
        {"socid": case.id, "fields": dict(values)},
        because,
    )


def tag(case: Case, logical_tag: str, key: str, because: str) -> Action:
    return Action(
        "dolibarr.tag",
        key,
        thirdparty_target(case),
        {"socid": case.id, "tag": logical_tag},
        because,
    )
