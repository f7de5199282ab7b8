"""Timeline capture from Slack: 📌 on a message, or the "Add to timeline" shortcut.

The entry is back-dated to when the message was written, credited to its author, and
links back to it. Slack retries Events API deliveries, so each ``event_id`` is acted on
once; and a message added twice (pinned, then via the shortcut) is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import timeline
from bot.errors import UserError
from bot.models import Incident, SlackEvent, TimelineEvent
from bot.sql import insert
from bot.timeline import Kind

PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})
EVENT_MEMORY = timedelta(days=1)  # Slack stops retrying after about an hour


@dataclass(frozen=True, slots=True)
class SlackMessage:
    channel: str
    ts: str
    user: str | None
    text: str
    permalink: str | None


def source_key(channel: str, ts: str) -> str:
    return f"slack:{channel}:{ts}"


async def first_delivery(session: AsyncSession, event_id: str, *, now: datetime) -> bool:
    """True the first time an Events API ``event_id`` is seen; False for Slack's retries."""
    stmt = insert(session, SlackEvent).values(event_id=event_id[:64], received_at=now)
    stmt = stmt.on_conflict_do_nothing(index_elements=[SlackEvent.event_id])
    stmt = stmt.returning(SlackEvent.event_id)
    return await session.scalar(stmt) is not None


async def forget_old_events(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(delete(SlackEvent).where(SlackEvent.received_at < now - EVENT_MEMORY))


async def already_captured(session: AsyncSession, incident_id: int, channel: str, ts: str) -> bool:
    query = select(TimelineEvent.id).where(
        TimelineEvent.incident_id == incident_id,
        TimelineEvent.source_key == source_key(channel, ts),
    )
    return await session.scalar(query) is not None


async def record_message(
    session: AsyncSession,
    incident: Incident,
    message: SlackMessage,
    added_by: str,
    *,
    now: datetime,
) -> TimelineEvent | None:
    """Add the message to the timeline at its own time; None if it is there already."""
    if await already_captured(session, incident.id, message.channel, message.ts):
        return None
    written = datetime.fromtimestamp(float(message.ts), tz=UTC)
    return await timeline.record(
        session,
        incident,
        Kind.PINNED,
        message.text or "(a message with no text)",
        now=now,
        at=written,
        actor=message.user,
        source_key=source_key(message.channel, message.ts),
        data={"permalink": message.permalink, "added_by": added_by, "ts": message.ts},
    )


async def remove_entry(
    session: AsyncSession, incident: Incident, event_id: int, actor: str, *, now: datetime
) -> TimelineEvent:
    """Take an entry out of the postmortem; only its author, who added it, or the commander."""
    entry = await session.get(TimelineEvent, event_id)
    if entry is None or entry.incident_id != incident.id:
        raise UserError(f"Incident #{incident.number} has no timeline entry #{event_id}.")
    allowed = {entry.actor, entry.data.get("added_by"), incident.commander} - {None}
    if actor not in allowed:
        raise UserError(
            "Only the entry's author, whoever added it, or the incident commander can remove it."
        )
    return await timeline.record(
        session,
        incident,
        Kind.ENTRY_REMOVED,
        f"Removed timeline entry #{event_id}: {entry.text[:200]}",
        now=now,
        actor=actor,
        data={"event_id": event_id},
    )
