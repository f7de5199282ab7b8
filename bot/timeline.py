"""The timeline: every state change appends an event in the same transaction.

It is the source of truth for the postmortem and for MTTA/MTTR, so services never write
an incident's state without calling ``record`` next to it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import before_commit
from bot.models import Incident, TimelineEvent


class Kind(StrEnum):
    DETECTED = "detected"  # the first alert started (back-dated to its startsAt)
    OPENED = "opened"  # opened by an alert
    DECLARED = "declared"  # opened by a person
    ALERT_FIRED = "alert_fired"  # a further alert joined
    ALERT_RESOLVED = "alert_resolved"
    PAGED = "paged"
    UNROUTABLE = "unroutable"  # nobody on call for a paged role
    ESCALATED = "escalated"
    ESCALATION_EXHAUSTED = "escalation_exhausted"
    ACKNOWLEDGED = "acknowledged"
    NOTE = "note"
    STATUS = "status"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    PINNED = "pinned"  # a Slack message added to the timeline (📌 or the shortcut)
    ENTRY_REMOVED = "entry_removed"  # recorded, never erased: the entry stays in the table
    MITIGATED = "mitigated"
    SEVERITY_CHANGED = "severity_changed"
    ROLE_ASSIGNED = "role_assigned"
    FOLLOWUP_ADDED = "followup_added"
    FOLLOWUP_DONE = "followup_done"
    AUTO_RESOLVE_CANCELLED = "auto_resolve_cancelled"
    STEP_DONE = "step_done"
    STEP_SKIPPED = "step_skipped"
    CHECK_RESULT = "check_result"


async def record(
    session: AsyncSession,
    incident: Incident,
    kind: Kind,
    text: str,
    *,
    now: datetime,
    actor: str | None = None,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
    source_key: str | None = None,
) -> TimelineEvent:
    """Append one event; ``at`` back-dates it (an alert that started before we heard of it)."""
    event = TimelineEvent(
        incident_id=incident.id,
        at=at or now,
        recorded_at=now,
        kind=kind,
        actor=actor,
        text=text,
        data=data or {},
        source_key=source_key,
    )
    session.add(event)
    await session.flush()
    return event


def record_at_commit(
    session: AsyncSession,
    incident: Incident,
    kind: Kind,
    text: str,
    *,
    now: datetime,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one event when the transaction commits, with the others recorded so.

    For events nobody reads back in the same transaction, such as one per joining alert
    during a storm: they go in one multi-row INSERT, where ``record`` costs a statement
    each (it needs the event's id at once, and SQLite can only return ids row by row).
    """
    later: list[dict[str, Any]] = session.info.setdefault("timeline_at_commit", [])
    if not later:
        before_commit(session, _insert_recorded)
    later.append(
        {
            "incident_id": incident.id,
            "at": at or now,
            "recorded_at": now,
            "kind": kind,
            "actor": None,
            "text": text,
            "data": data or {},
            "source_key": None,
        }
    )


async def _insert_recorded(session: AsyncSession) -> None:
    rows = session.info.pop("timeline_at_commit", [])
    if rows:
        await (await session.connection()).execute(_INSERT, rows)


_INSERT = insert(TimelineEvent.__table__)  # built once, and plain (no ORM): intake writes many
