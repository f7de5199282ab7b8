"""The daily handoff notice: who takes over each role in the next 24 hours.

Posted once a day (09:00 UTC, or the first tick after it) in ``WARROOM_HANDOFF_CHANNEL``,
so a team sees "ml-engineer: @a → @b at 09:00 Europe/London" before it happens. The
date of the last notice is stored, so a restart neither skips nor repeats a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects
from bot.models import KeyValue
from bot.oncall import Override, shifts, who_is_on_call
from bot.runtime import LoadedConfig

STATE_KEY = "handoff_notice_last"
NOTICE_TIME = time(9, 0)


@dataclass(frozen=True, slots=True)
class Handoff:
    role: str
    layer: str
    before: str | None
    after: str
    at: datetime
    timezone: str


def upcoming(config: LoadedConfig, now: datetime, covering: list[Override]) -> list[Handoff]:
    """Every change of person in the next 24 hours, per role and layer, in time order."""
    found = []
    for role_id, role in config.oncall.roles.items():
        current = {s.layer: s.user for s in who_is_on_call(role_id, role, now, covering)}
        for shift in shifts(role_id, role, now, now + timedelta(days=1), covering):
            if shift.start <= now:
                continue
            before = current.get(shift.layer)
            if before != shift.user:
                found.append(
                    Handoff(role_id, shift.layer, before, shift.user, shift.start, role.timezone)
                )
            current[shift.layer] = shift.user
    return sorted(found, key=lambda h: h.at)


async def notify_if_due(
    session: AsyncSession,
    config: LoadedConfig,
    channel: str | None,
    covering: list[Override],
    *,
    now: datetime,
) -> bool:
    if not channel:
        return False
    due = datetime.combine(now.date(), NOTICE_TIME, tzinfo=now.tzinfo)
    if now < due:
        due -= timedelta(days=1)
    state = await session.get(KeyValue, STATE_KEY, with_for_update=True)
    if state is not None and datetime.fromisoformat(state.value) >= due:
        return False
    if state is None:
        session.add(KeyValue(key=STATE_KEY, value=due.isoformat()))
    else:
        state.value = due.isoformat()
    lines = [_line(config, h) for h in upcoming(config, now, covering)]
    effects.post_notice(
        session, channel, lines or ["No on-call handoffs in the next 24 hours."], now=now
    )
    return True


def _line(config: LoadedConfig, handoff: Handoff) -> str:
    local = handoff.at.astimezone(ZoneInfo(handoff.timezone))
    before = f"<@{handoff.before}>" if handoff.before else "nobody"
    layer = "" if handoff.layer == "primary" else f" ({handoff.layer})"
    return (
        f"{config.role_name(handoff.role)}{layer}: {before} → <@{handoff.after}> "
        f"at {local:%H:%M} {handoff.timezone}"
    )
