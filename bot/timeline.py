"""The timeline: every state change appends an event in the same transaction.

It is the source of truth for the postmortem and for MTTA/MTTR, so services never write
an incident's state without calling ``record`` next to it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
    flush: bool = True,
    source_key: str | None = None,
) -> TimelineEvent:
    """Append one event; ``at`` back-dates it (an alert that started before we heard of it).

    ``flush=False`` leaves the INSERT to the next flush, so a storm's events are written in
    a few multi-row statements; only a caller that needs ``event.id`` at once must flush.
    """
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
    if flush:
        await session.flush()
    return event
