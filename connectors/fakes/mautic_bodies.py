"""The bodies the fake Mautic answers with, in the shapes of the recordings of a real 5.1.

Role: the rows the fake keeps (contacts, `email_stats`) and their rendering as JSON:
a contact as GET and lists show it (09, 13) or as `minimal=1` leaves it (12), as the
Do-Not-Contact routes show it (08, 46), a stats row (30), an error (04, 11, 49, 52).
Numbers cite the files in tests/fixtures/mautic/. Like the fake, it never speaks HTTP,
sleeps or reads the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# §9: the email_stats columns the stats API lists (40-email_stats_unknown_table.json)
STAT_COLUMNS = [
    "copy_id",
    "date_read",
    "date_sent",
    "email_address",
    "email_id",
    "id",
    "ip_id",
    "is_failed",
    "is_read",
    "last_opened",
    "lead_id",
    "list_id",
    "open_count",
    "open_details",
    "retry_count",
    "source",
    "source_id",
    "tokens",
    "tracking_hash",
    "viewed_in_browser",
]


class MauticError(Exception):
    """Raised inside a route: becomes Mautic's `{"errors": [...]}` body (§3)."""

    def __init__(
        self, status: int, message: str, kind: str | None = None, details: Any = None
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.message, self.kind, self.details = status, message, kind, details


@dataclass
class ContactRow:
    id: int
    email: str
    firstname: str = ""
    lastname: str = ""
    company: str = ""
    dnc: list[dict[str, Any]] = field(default_factory=list)
    date_added: float = 0.0
    date_modified: float | None = None  # null until first modified (01)


@dataclass
class StatRow:
    id: int
    email_id: int
    lead_id: int
    email_address: str
    date_sent: float
    source: str = "api"
    is_failed: bool = False
    tokens: dict[str, str] = field(default_factory=dict)


def dump(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def contact_body(c: ContactRow, minimal: bool = False) -> dict[str, Any]:
    """The contact of GET, lists and the upsert (01, 09, 13); `minimal` drops
    `doNotContact` and the other relations (12, 22)."""
    values = {"email": c.email, "firstname": c.firstname, "lastname": c.lastname}
    values |= {"company": c.company}
    body = contact_head(c) | {"color": None}
    body["fields"] = {"core": core_fields(values), "social": {}, "personal": {}}
    body["fields"] |= {"professional": {}}
    body["fields"]["all"] = {"id": c.id, **{k: v or None for k, v in values.items()}}
    if minimal:
        return body
    return body | {
        "lastActive": None,
        "owner": None,
        "ipAddresses": [],
        "tags": [],
        "utmtags": [],
        "stage": None,
        "dateIdentified": iso(c.date_added),
        "preferredProfileImage": None,
        "doNotContact": [dict(e) for e in c.dnc],
        "frequencyRules": [],
    }


def contact_head(c: ContactRow) -> dict[str, Any]:
    modified = None if c.date_modified is None else iso(c.date_modified)
    return {
        "isPublished": True,
        "dateAdded": iso(c.date_added),
        "dateModified": modified,
        "createdBy": 1,
        "createdByUser": "syncd",
        "modifiedBy": None if modified is None else 1,
        "modifiedByUser": None if modified is None else "syncd",
        "id": c.id,
        "points": 0,
    }


def flat_body(c: ContactRow) -> dict[str, Any]:
    values = {"email": c.email, "firstname": c.firstname, "lastname": c.lastname}
    names = {k: v or None for k, v in values.items()}
    fields = {"core": core_fields(values | {"company": c.company})}
    relations = {
        "ipAddresses": [],
        "tags": [],
        "utmtags": [],
        "dateIdentified": iso(c.date_added),
        "doNotContact": [dict(e) for e in c.dnc],
        "frequencyRules": [],
    }
    groups: dict[str, Any] = {"social": {}, "personal": {}, "professional": {}}
    return contact_head(c) | names | {"fields": fields | groups} | relations


def error_body(err: MauticError) -> bytes:
    """§3: a controller's `{"errors": [{"code", "message", "details"}]}` with no `type`
    (04, 11, 36, 52); the firewall's and ApiSubscriber's `{"message", "code", "type"}` (49)."""
    if err.kind is not None:
        return dump({"errors": [{"message": err.message, "code": err.status, "type": err.kind}]})
    details = [] if err.details is None else err.details
    return dump({"errors": [{"code": err.status, "message": err.message, "details": details}]})


def limit_message(limit: int) -> str:
    return f"You exceeded the rate limit of {limit} API calls per hour."  # 52


def core_fields(values: Mapping[str, str]) -> dict[str, Any]:
    core: dict[str, Any] = {}
    for n, (alias, value) in enumerate(values.items(), start=2):
        meta = {"id": str(n), "label": alias.title(), "alias": alias, "type": "text"}
        core[alias] = meta | {"group": "core", "object": "lead", "value": value or None}
    return core


def dnc_as_added(entry: Mapping[str, Any], at: float | None) -> dict[str, Any]:
    """08: the add's answer shows the entry with `dateAdded` and without `channelId`."""
    shown = {k: v for k, v in entry.items() if k != "channelId"}
    return {"id": shown.pop("id"), "dateAdded": iso(at or 0.0), **shown}


def stat_body(s: StatRow) -> dict[str, Any]:
    """§9, 30: DBAL rows, every value a string; NULL columns are left out, not null."""
    values: dict[str, Any] = {"id": s.id, "email_id": s.email_id, "lead_id": s.lead_id}
    values |= {"email_address": s.email_address, "date_sent": stamp(s.date_sent)}
    values |= {"is_read": 0, "is_failed": int(s.is_failed), "viewed_in_browser": 0}
    values |= {"tracking_hash": f"fake{s.id:018x}", "retry_count": 0, "source": s.source}
    values |= {"source_id": 0, "open_count": 0, "open_details": "a:0:{}"}
    return {k: str(v) for k, v in values.items()}


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def iso(epoch: float) -> str:
    return utc(epoch).isoformat(timespec="seconds")


def stamp(epoch: float) -> str:
    return utc(epoch).strftime("%Y-%m-%d %H:%M:%S")
