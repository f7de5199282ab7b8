"""Follow-up actions: what the team agreed to fix after the incident, and who owns it.

They are listed in the postmortem, across incidents with ``/incident followups``, and
owners are reminded weekly of their open ones until someone presses Done. The reminder
time is stored, so a restart neither skips nor repeats a week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, timeline
from bot.errors import UserError
from bot.models import Followup, Incident, KeyValue
from bot.snapshot import FollowupView
from bot.timeline import Kind

_OWNER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_DUE = re.compile(r"(?:^|\s)(?:due\s+)?(\d{4}-\d{2}-\d{2})\s*$")
REMINDER_KEY = "followup_reminder_last"
REMINDER_TIME = time(9, 0)  # Mondays, UTC


@dataclass(frozen=True, slots=True)
class FollowupRequest:
    text: str
    owner: str | None
    due: date | None


def parse_request(text: str) -> FollowupRequest:
    """``<text> [@owner] [YYYY-MM-DD]``; the owner and the date may come in either order."""
    rest, due = text.strip(), None
    if found := _DUE.search(rest):
        try:
            due = date.fromisoformat(found[1])
        except ValueError:
            raise UserError(f"{found[1]} is not a date; write it as YYYY-MM-DD.") from None
        rest = rest[: found.start()].strip()
    owners = _OWNER.findall(rest)
    owner = owners[-1] if owners else None
    if owner and rest.endswith(">"):
        rest = rest[: rest.rfind("<@")].strip()
    if not rest:
        raise UserError("Usage: `/incident followup <what to do> [@owner] [YYYY-MM-DD]`.")
    return FollowupRequest(rest, owner, due)


async def add(
    session: AsyncSession,
    incident: Incident,
    request: FollowupRequest,
    actor: str,
    *,
    now: datetime,
) -> Followup:
    followup = Followup(
        incident_id=incident.id,
        text=request.text,
        owner=request.owner,
        due=request.due,
        created_by=actor,
        created_at=now,
    )
    session.add(followup)
    await session.flush()
    owner = f" (owner {request.owner})" if request.owner else ""
    event = await timeline.record(
        session,
        incident,
        Kind.FOLLOWUP_ADDED,
        f"Follow-up: {request.text}{owner}",
        now=now,
        actor=actor,
        data={"followup_id": followup.id},
    )
    effects.post_event(session, event, now=now)
    return followup


async def complete(
    session: AsyncSession, followup_id: int, actor: str, *, now: datetime
) -> Followup:
    followup = await session.get(Followup, followup_id, with_for_update=True)
    if followup is None:
        raise UserError("That follow-up does not exist.")
    if followup.done_at is not None:
        raise UserError(f"Follow-up {followup_id} was already done by <@{followup.done_by}>.")
    followup.done_at, followup.done_by = now, actor
    incident = await session.get_one(Incident, followup.incident_id)
    await timeline.record(
        session,
        incident,
        Kind.FOLLOWUP_DONE,
        f"Follow-up done: {followup.text}",
        now=now,
        actor=actor,
        data={"followup_id": followup.id},
    )
    return followup


async def open_ones(session: AsyncSession, owner: str | None = None) -> list[Followup]:
    query = select(Followup).where(Followup.done_at.is_(None))
    if owner is not None:
        query = query.where(Followup.owner == owner)
    return list(
        await session.scalars(query.order_by(Followup.due.is_(None), Followup.due, Followup.id))
    )


def view(followup: Followup) -> FollowupView:
    return FollowupView(
        id=followup.id,
        text=followup.text,
        owner=followup.owner,
        due=followup.due,
        done=followup.done_at is not None,
    )


def last_monday_morning(now: datetime) -> datetime:
    """The most recent Monday 09:00 UTC at or before ``now``."""
    monday = (now - timedelta(days=now.weekday())).date()
    moment = datetime.combine(monday, REMINDER_TIME, tzinfo=now.tzinfo)
    return moment if moment <= now else moment - timedelta(days=7)


async def remind_if_due(session: AsyncSession, *, now: datetime) -> int:
    """Once per week (Monday 09:00 UTC, or the first tick after it): DM each owner their list."""
    due = last_monday_morning(now)
    state = await session.get(KeyValue, REMINDER_KEY, with_for_update=True)
    if state is not None and datetime.fromisoformat(state.value) >= due:
        return 0
    if state is None:
        session.add(KeyValue(key=REMINDER_KEY, value=due.isoformat()))
    else:
        state.value = due.isoformat()
    owners: dict[str, list[int]] = {}
    for followup in await open_ones(session):
        if followup.owner:
            owners.setdefault(followup.owner, []).append(followup.id)
    for owner, ids in owners.items():
        effects.remind_followups(session, owner, ids, now=now)
    return len(owners)
