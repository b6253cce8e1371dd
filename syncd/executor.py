"""Carry out one outbox action through the connectors, and find out whether one was done.

Role: map an action kind to remote calls (`execute`), leave the action's key on
the case's Dolibarr timeline (`record`), and, after a crash, ask the remote side
whether an action whose outcome is unknown happened (`reconcile`). It decides
nothing about *whether* to act: rules did that; only *how*, as when many
Matrix notices for one room go out as one digest. The one exception is the remote
side's own word that a person may not be reached: a Mautic contact on the email
Do-Not-Contact list (or whose state Mautic did not give) gets no email and joins
no segment, and `execute` reports `Skipped` instead of a result. It sees the
connectors through the small protocols below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from loguru import logger

from syncd.errors import PermanentError, RemoteError
from syncd.model import step_of_key
from syncd.store import OutboxRow

EVENT_PREFIX = "[syncd] "
MATRIX_TXN_MEMORY = timedelta(hours=23)  # Synapse forgets a txnId after 24 h (matrix.md §3)
RECONCILE_SKEW = timedelta(minutes=5)
DIGEST_MAX = 50  # items in one digest: a Matrix event must stay under 64 KiB
DIGEST_ITEM_MAX = 300  # characters of one notice's text in a digest


@dataclass(frozen=True)
class Recorded:
    """A `[syncd] KEY` event found on the timeline."""

    event_id: int
    key: str
    at: datetime | None  # the event's time, when Dolibarr gave one


# Actions whose effect in Dolibarr is visible and idempotent (a field set, a tag
# added): done twice, nothing changes, so they need no `[syncd]` event to be done
# once, and cost one write. The step write-back keeps its event all the same:
# the timeline is where `rebuild-state` finds when each case entered each step.
SELF_EVIDENT_KINDS = frozenset({"dolibarr.set_fields", "dolibarr.tag"})


def needs_record(kind: str, key: str) -> bool:
    """Whether carrying out an action is followed by a `[syncd] KEY` agenda event."""
    if kind == "dolibarr.agenda_event":
        return False  # the action's own event carries the key
    return kind not in SELF_EVIDENT_KINDS or step_of_key(key) is not None


def _leaves_event(row: OutboxRow) -> bool:
    """Whether a done action shows as a `[syncd] KEY` event on its timeline."""
    return row.kind == "dolibarr.agenda_event" or needs_record(row.kind, row.key)


class Outcome(StrEnum):
    DONE = "done"
    NOT_DONE = "not done"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Skipped:
    """What `execute` reports when nothing was sent for a reason that may pass."""

    reason: str


class DolibarrWriter(Protocol):
    def create_agenda_event(
        self,
        *,
        socid: int,
        label: str,
        note: str,
        at: datetime,
        owner_id: int,
        is_task: bool = False,
        code: str = ...,
    ) -> int: ...
    def find_events(
        self, label_prefix: str, socid: int | None = None, after_id: int = 0
    ) -> Iterator[Any]: ...
    def update_extrafields(self, socid: int, values: Mapping[str, Any]) -> None: ...
    def append_private_note(self, socid: int, line: str, marker: str) -> bool: ...
    def tag(self, socid: int, category_id: int) -> None: ...


class MauticSender(Protocol):
    def find_contact(self, email: str) -> Any: ...
    def get_contact(self, contact_id: int) -> Any: ...
    def upsert_contact(
        self, email: str, firstname: str = "", lastname: str = "", company: str = ""
    ) -> Any: ...
    def send_email(
        self, email_id: int, contact_id: int, tokens: Mapping[str, str] | None = None
    ) -> None: ...
    def add_to_segment(self, segment_id: int, contact_id: int) -> None: ...
    def email_sent_since(self, email_id: int, contact_id: int, since: datetime) -> bool: ...


class FreescoutSender(Protocol):
    def create_conversation(
        self,
        *,
        mailbox_id: int,
        user_id: int,
        customer_email: str,
        customer_name: str,
        subject: str,
        text: str,
        marker: str,
    ) -> int: ...
    def find_conversation(
        self, *, customer_email: str, mailbox_id: int, marker: str, since: datetime
    ) -> int | None: ...
    def first_user_id(self) -> int | None: ...


class MatrixSender(Protocol):
    def send_notice(
        self,
        room_id: str,
        text: str,
        txn_id: str,
        *,
        marker: str | None = None,
        items: Sequence[str] = (),
    ) -> str: ...
    def find_notice(self, room_id: str, marker: str, since: datetime) -> str | None: ...
    def whoami(self) -> tuple[str, str]: ...
    def resolve_alias(self, alias: str) -> str: ...


@dataclass
class Targets:
    """Where logical names point: rooms, tag category ids, extrafield codes, owners."""

    field_codes: Mapping[str, str]
    category_ids: Mapping[str, int]
    rooms: Mapping[str, str] = field(default_factory=dict)
    freescout_user_id: int | None = None
    default_owner_id: int = 1
    digest_after: int = 0  # more notices than this for one room go out as a digest; 0: never


class Executor:
    """One remote effect per action kind; every method may raise a `RemoteError`."""

    def __init__(
        self,
        dolibarr: DolibarrWriter,
        targets: Targets,
        *,
        mautic: MauticSender | None = None,
        freescout: FreescoutSender | None = None,
        matrix: MatrixSender | None = None,
        txn_id: Callable[[str], str] = lambda key: key,
    ) -> None:
        self.dolibarr = dolibarr
        self.targets = targets
        self.mautic = mautic
        self.freescout = freescout
        self.matrix = matrix
        self.txn_id = txn_id
        self._device: str | None = None  # the Matrix device of the access token, once asked
        self._aliases: dict[str, str] = {}  # room alias → room id, resolved once
        self._unrecorded: set[str] = set()  # keys a fresh read of the timeline lacks
        self._handlers: dict[str, Callable[[OutboxRow, datetime], str | Skipped]] = {
            "dolibarr.agenda_event": self._agenda_event,
            "dolibarr.note": self._note,
            "dolibarr.set_fields": self._set_fields,
            "dolibarr.tag": self._tag,
            "mautic.link_contact": self._mautic_link,
            "mautic.send_email": self._mautic_email,
            "mautic.add_to_segment": self._mautic_segment,
            "freescout.message": self._freescout_message,
            "matrix.notify": self._matrix_notify,
        }

    # -- starting --------------------------------------------------------------------------

    def prepare(self) -> None:
        """At start: resolve room aliases and learn the Matrix device, logging both.

        Raises the `RemoteError` that stopped it; each is asked again when an
        action needs it, and fails that action then.
        """
        if self.matrix is None:
            return
        for room in sorted(set(self.targets.rooms.values())):
            self._resolve(room)
        logger.info("Matrix: sending as device {}", self.matrix_device() or "(none)")

    def matrix_device(self) -> str:
        """The device of the Matrix access token (whoami), asked once.

        Transaction ids dedupe per device (matrix.md §3): each claimed notice
        stores it, so a resend after a token change looks in the room first.
        """
        if self._device is None:
            self._device = self._need(self.matrix, "matrix").whoami()[1]
        return self._device

    def device_for(self, row: OutboxRow) -> str | None:
        """What to store with the claim of `row`: the Matrix device for a notice."""
        return self.matrix_device() if row.kind == "matrix.notify" else None

    # -- doing ---------------------------------------------------------------------------

    def execute(self, row: OutboxRow, now: datetime) -> str | Skipped:
        """The remote effect's description, or `Skipped` when nothing was sent."""
        handler = self._handlers.get(row.kind)
        if handler is None:
            raise PermanentError("syncd", row.kind, f"no connector carries out {row.kind}")
        try:
            return handler(row, now)
        finally:
            self._unrecorded.discard(row.key)  # attempted: a write may land late, ask again

    def record(self, row: OutboxRow, now: datetime) -> None:
        """Leave the key on the case's timeline (an agenda event labelled `[syncd] KEY`)."""
        if not needs_record(row.kind, row.key):
            return  # its own event carries the key, or doing it again changes nothing
        note = f"{row.because}\n{row.result or ''}".strip()
        self._unrecorded.discard(row.key)
        self.dolibarr.create_agenda_event(
            socid=row.case_id,
            label=f"{EVENT_PREFIX}{row.key}",
            note=note,
            at=now,
            owner_id=self.targets.default_owner_id,
        )

    def is_recorded(self, row: OutboxRow) -> bool:
        if not _leaves_event(row) or row.key in self._unrecorded:
            return False  # never recorded, or not there when the timeline was just read
        return any(
            _key_of(event.label) == row.key
            for event in self.dolibarr.find_events(f"{EVENT_PREFIX}{row.key}")
        )

    def asks_timeline(self, row: OutboxRow) -> bool:
        """Whether carrying out or settling `row` first looks for its `[syncd]` event:
        an agenda event about to be created, or an earlier attempt's recorded action."""
        return row.kind == "dolibarr.agenda_event" or (
            row.claimed_at is not None and _leaves_event(row)
        )

    def timeline_read(self, absent: Iterable[str]) -> None:
        """The keys a read of the timeline beyond the database's mark just showed absent
        (`outbox.drain`): asked about, each is answered without a request until it is
        attempted again. `timeline_read(())` forgets them."""
        self._unrecorded = set(absent)

    def recorded_keys(self, after_id: int = 0) -> Iterator[Recorded]:
        """Every key syncd left on a Dolibarr timeline in an event whose id is above
        `after_id`, with the event's id and time: what rebuilds a lost or stale state
        database, its step history included."""
        for event in self.dolibarr.find_events(EVENT_PREFIX, after_id=after_id):
            key = _key_of(event.label)
            if key:
                yield Recorded(int(event.id), key, event.at)

    # -- digests ----------------------------------------------------------------------------

    def digest_room(self, row: OutboxRow) -> str | None:
        """The room a notice would share a digest in, or None when it is sent alone."""
        if row.kind != "matrix.notify" or self.matrix is None or not self.targets.digest_after:
            return None
        room = str(row.payload["room"])
        return self.targets.rooms.get(room, room)

    def digests(self, rows: Sequence[OutboxRow], now: datetime) -> list[list[OutboxRow]]:
        """The notices among `rows` that may go out as digests: more than `digest_after`
        for one room, at most DIGEST_MAX in each.

        Never one whose earlier attempt relies on its own transaction id to dedupe
        (`resend_dedupes`): it is resent alone, under that id. Others an attempt may
        have posted (`claimed_at`) are asked about before they join (`outbox.drain`).
        """
        rooms: dict[str, list[OutboxRow]] = {}
        for row in rows:
            room = self.digest_room(row)
            if room is not None and (row.claimed_at is None or not self.resend_dedupes(row, now)):
                rooms.setdefault(room, []).append(row)
        groups = [g for g in rooms.values() if len(g) > self.targets.digest_after]
        return [g[i : i + DIGEST_MAX] for g in groups for i in range(0, len(g), DIGEST_MAX)]

    @staticmethod
    def digest_key(rows: Sequence[OutboxRow]) -> str:
        """The digest's own key (its txnId and `org.syncd.key`): one set of items, one key,
        so the same digest resent dedupes and a different one never takes its place."""
        keys = "\n".join(sorted(row.key for row in rows))
        room = str(rows[0].payload["room"])
        return f"digest:{room}:{hashlib.sha256(keys.encode()).hexdigest()[:16]}"

    def send_digest(self, rows: Sequence[OutboxRow], digest: str) -> str:
        """One notice listing every item with its case and key (`org.syncd.keys`), so
        each can be found in the room's history like a notice of its own."""
        matrix = self._need(self.matrix, "matrix")
        self._unrecorded.difference_update(row.key for row in rows)  # attempted from here
        room_id = self._room_id(rows[0])
        lines = [f"{len(rows)} notices:"]
        lines += [f"• {_cut(str(r.payload['text']))} (case {r.case_id}, {r.key})" for r in rows]
        event_id = matrix.send_notice(
            room_id,
            "\n".join(lines),
            self.txn_id(digest),
            marker=digest,
            items=[row.key for row in rows],
        )
        return f"Matrix event {event_id} in {room_id}, a digest of {len(rows)} notices"

    # -- finding out -------------------------------------------------------------------------

    def reconcile(self, row: OutboxRow, now: datetime) -> Outcome:
        """Whether an action whose outcome is unknown took effect on the remote side."""
        if self.is_recorded(row):
            return Outcome.DONE
        since = (row.claimed_at or row.created_at) - RECONCILE_SKEW
        payload = row.payload
        if row.kind == "freescout.message":
            if self.freescout is None:
                return Outcome.UNKNOWN
            found = self.freescout.find_conversation(
                customer_email=row.target.lower(),
                mailbox_id=int(payload["mailbox_id"]),
                marker=row.key,
                since=since,
            )
            return Outcome.DONE if found is not None else Outcome.NOT_DONE
        if row.kind == "mautic.send_email":
            contact = self._find_mautic_contact(row) if self.mautic else None
            if self.mautic is None or contact is None:
                return Outcome.UNKNOWN if self.mautic is None else Outcome.NOT_DONE
            sent = self.mautic.email_sent_since(int(payload["template_id"]), contact.id, since)
            return Outcome.DONE if sent else Outcome.NOT_DONE
        if row.kind == "matrix.notify":
            if self.matrix is None:
                return Outcome.UNKNOWN
            if self.resend_dedupes(row, now):
                return Outcome.NOT_DONE  # a resend with the same txnId is deduplicated
            # Another device, a digest, past the homeserver's memory or tried by a lost
            # run: the room's history says (our notices carry their key, matrix.md §8).
            event = self.matrix.find_notice(self._room_id(row), row.key, since)
            return Outcome.DONE if event else Outcome.NOT_DONE
        if row.kind == "dolibarr.agenda_event":
            return Outcome.NOT_DONE  # is_recorded looked for its own event
        # Notes carry a marker, fields and tags are set, segments and contacts upserted:
        # doing them again is harmless.
        return Outcome.NOT_DONE

    def resend_dedupes(self, row: OutboxRow, now: datetime) -> bool:
        """Whether resending the notice with its own txnId cannot post it twice.

        Only on the device that claimed it (a new access token is a new device,
        matrix.md §3), within the homeserver's memory of the transaction, and
        when it was sent alone (a digest had another txnId).
        """
        first = row.claimed_at or row.created_at
        return (
            bool(row.attempts)
            and row.digest is None
            and row.device is not None
            and row.device == self.matrix_device()
            and now - first < MATRIX_TXN_MEMORY
        )

    # -- one handler per kind ------------------------------------------------------------------

    def _agenda_event(self, row: OutboxRow, now: datetime) -> str:
        # The event is the action: if a run whose state was lost created it, it is done.
        if self.is_recorded(row):
            return "agenda event already on the timeline"
        p = row.payload
        event_id = self.dolibarr.create_agenda_event(
            socid=int(p["socid"]),
            label=f"{EVENT_PREFIX}{row.key} {p['label']}",
            note=row.because,
            at=now,
            owner_id=int(p.get("owner_id") or self.targets.default_owner_id),
            is_task=bool(p.get("is_task", True)),
        )
        return f"agenda event {event_id}"

    def _note(self, row: OutboxRow, now: datetime) -> str:
        p = row.payload
        marker = f"[{row.key}]"
        line = f"{marker} {now.date().isoformat()} {p['text']}"
        wrote = self.dolibarr.append_private_note(int(p["socid"]), line, marker)
        return "note appended" if wrote else "note already there"

    def _set_fields(self, row: OutboxRow, now: datetime) -> str:
        values = {self._code(name): value for name, value in row.payload["fields"].items()}
        self.dolibarr.update_extrafields(int(row.payload["socid"]), values)
        return "set " + ", ".join(f"{k}={v}" for k, v in values.items())

    def _tag(self, row: OutboxRow, now: datetime) -> str:
        tag = str(row.payload["tag"])
        category_id = self.targets.category_ids.get(tag)
        if category_id is None:
            raise PermanentError("dolibarr", "tag", f"tag {tag} has no category in Dolibarr")
        self.dolibarr.tag(int(row.payload["socid"]), category_id)
        return f"tagged {tag} (category {category_id})"

    def _mautic_link(self, row: OutboxRow, now: datetime) -> str:
        mautic = self._need(self.mautic, "mautic")
        email = _email(row)
        contact = mautic.find_contact(email) or mautic.upsert_contact(email, **_names(row))
        socid = int(row.payload["socid"])
        self.dolibarr.update_extrafields(socid, {self._code("mautic_contact_id"): str(contact.id)})
        return f"linked to Mautic contact {contact.id}"

    def _mautic_email(self, row: OutboxRow, now: datetime) -> str | Skipped:
        mautic = self._need(self.mautic, "mautic")
        contact = self._reachable_contact(row)
        if isinstance(contact, Skipped):
            return contact
        template = int(row.payload["template_id"])
        mautic.send_email(template, contact.id)
        return f"sent email {template} to Mautic contact {contact.id}"

    def _mautic_segment(self, row: OutboxRow, now: datetime) -> str | Skipped:
        mautic = self._need(self.mautic, "mautic")
        contact = self._reachable_contact(row)
        if isinstance(contact, Skipped):
            return contact
        segment = int(row.payload["segment_id"])
        mautic.add_to_segment(segment, contact.id)
        return f"added Mautic contact {contact.id} to segment {segment}"

    def _reachable_contact(self, row: OutboxRow) -> Any:
        """The case's Mautic contact, found or created, or `Skipped` when it may not be mailed.

        Mautic's send endpoint ignores Do-Not-Contact (mautic.md §8), so this is the one
        check. An answer that leaves `doNotContact` out (mautic.md §6) is asked again by
        id; one that still does not say is taken as "do not send".
        """
        mautic = self._need(self.mautic, "mautic")
        contact = self._find_mautic_contact(row) or mautic.upsert_contact(
            _email(row), **_names(row)
        )
        if contact.is_email_dnc is None:
            contact = mautic.get_contact(contact.id) or contact
        if contact.is_email_dnc is None:
            return Skipped(
                f"do-not-contact unknown: Mautic did not say whether contact {contact.id} "
                "opted out of email"
            )
        if contact.is_email_dnc:
            return Skipped(f"do-not-contact: Mautic contact {contact.id} opted out of email")
        return contact

    def _freescout_message(self, row: OutboxRow, now: datetime) -> str:
        freescout = self._need(self.freescout, "freescout")
        if self.targets.freescout_user_id is None:
            # No user configured: send as FreeScout's first agent, asked once.
            self.targets.freescout_user_id = freescout.first_user_id()
        user_id = self.targets.freescout_user_id
        if user_id is None:
            raise PermanentError("freescout", "message", "no [freescout] user_id and no agent")
        p = row.payload
        conversation = freescout.create_conversation(
            mailbox_id=int(p["mailbox_id"]),
            user_id=user_id,
            customer_email=_email(row).lower(),
            customer_name=str(p.get("name") or ""),
            subject=str(p["subject"]),
            text=str(p["text"]),
            marker=row.key,
        )
        return f"FreeScout conversation {conversation}"

    def _matrix_notify(self, row: OutboxRow, now: datetime) -> str:
        matrix = self._need(self.matrix, "matrix")
        room_id = self._room_id(row)
        text = str(row.payload["text"])
        event_id = matrix.send_notice(room_id, text, self.txn_id(row.key), marker=row.key)
        return f"Matrix event {event_id} in {room_id}"

    def _room_id(self, row: OutboxRow) -> str:
        room = str(row.payload["room"])
        return self._resolve(self.targets.rooms.get(room, room))

    def _resolve(self, room: str) -> str:
        """A room id as it is; an alias (`#sales:example.org`) through the directory, once."""
        if not room.startswith("#"):
            return room
        if room not in self._aliases:
            room_id = self._need(self.matrix, "matrix").resolve_alias(room)
            logger.info("Matrix room alias {} is room {}", room, room_id)
            self._aliases[room] = room_id
        return self._aliases[room]

    # -- helpers ---------------------------------------------------------------------------

    def _find_mautic_contact(self, row: OutboxRow) -> Any:
        mautic = self._need(self.mautic, "mautic")
        known = row.payload.get("mautic_contact_id")
        if known:
            found = mautic.get_contact(int(known))
            if found is not None:
                return found
        return mautic.find_contact(_email(row))

    def _code(self, logical: str) -> str:
        return self.targets.field_codes.get(logical, logical)

    @staticmethod
    def _need(client: Any, system: str) -> Any:
        if client is None:
            raise PermanentError(system, "send", f"{system} is not configured")
        return client


def _key_of(label: str) -> str:
    if not label.startswith(EVENT_PREFIX):
        return ""
    return label[len(EVENT_PREFIX) :].split(" ", 1)[0]


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= DIGEST_ITEM_MAX else line[: DIGEST_ITEM_MAX - 1] + "…"


def _email(row: OutboxRow) -> str:
    email = str(row.payload.get("email") or row.target or "")
    if "@" not in email:
        raise PermanentError("syncd", row.kind, f"case {row.case_id} has no email address")
    return email


def _names(row: OutboxRow) -> dict[str, str]:
    return {"company": str(row.payload.get("name") or "")}


__all__ = [
    "EVENT_PREFIX",
    "SELF_EVIDENT_KINDS",
    "Executor",
    "Outcome",
    "RemoteError",
    "Skipped",
    "Targets",
    "needs_record",
]
