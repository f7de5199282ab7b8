"""Kept postmortems: every generation is a new version, so edits to the timeline show up
as a new document rather than silently rewriting the one people already read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Postmortem


async def save(
    session: AsyncSession, incident_id: int, markdown: str, narrative: str | None, *, now: datetime
) -> int:
    latest = await session.scalar(
        select(func.max(Postmortem.version)).where(Postmortem.incident_id == incident_id)
    )
    version = int(latest or 0) + 1
    session.add(
        Postmortem(
            incident_id=incident_id,
            version=version,
            markdown=markdown,
            narrative=narrative,
            created_at=now,
        )
    )
    await session.flush()
    return version
