"""On-call overrides: someone covers a role for a while, set from Slack.

Stored in the database (every replica sees them; they survive restarts) and handed to
the pure rotation functions in ``bot.oncall`` as plain ``Override`` values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import OncallOverride
from bot.oncall import Override


async def active(session: AsyncSession, now: datetime) -> list[Override]:
    """Overrides in force now or later (later ones matter to "who is on call next")."""
    if "overrides" not in session.info:
        rows = await session.scalars(select(OncallOverride).where(OncallOverride.ends_at > now))
        session.info["overrides"] = [
            Override(role=r.role, user=r.user_id, start=r.starts_at, end=r.ends_at, layer=r.layer)
            for r in rows
        ]
    return session.info["overrides"]


async def add(
    session: AsyncSession, override: Override, actor: str, *, now: datetime
) -> OncallOverride:
    row = OncallOverride(
        role=override.role,
        layer=override.layer,
        user_id=override.user,
        starts_at=override.start,
        ends_at=override.end,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.info.pop("overrides", None)
    await session.flush()
    return row
