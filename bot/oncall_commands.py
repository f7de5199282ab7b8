"""The on-call side of the slash command: parsing overrides, and the "who is on" rows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.config import Role
from bot.durations import parse_duration
from bot.errors import UserError
from bot.oncall import Override, shifts, who_is_on_call
from bot.snapshot import OncallRow

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_UNTIL = re.compile(r"until\s+(\d{1,2}):(\d{2})$")
USAGE = "Usage: `/incident override <role> @user <duration, e.g. 14h | until 08:00>`."


def parse_override(text: str, roles: Mapping[str, Role], *, now: datetime) -> Override:
    """``<role> @user <duration>`` or ``<role> @user until HH:MM`` (the role's local time)."""
    role_id, _, rest = text.strip().partition(" ")
    if role_id not in roles:
        raise UserError(
            f"There is no role {role_id!r} (roles: {', '.join(sorted(roles)) or 'none'})."
        )
    user = _USER.search(rest)
    if user is None:
        raise UserError(USAGE)
    when = rest[user.end() :].strip()
    return Override(role=role_id, user=user[1], start=now, end=_end(when, roles[role_id], now))


def _end(when: str, role: Role, now: datetime) -> datetime:
    if found := _UNTIL.fullmatch(when):
        local = now.astimezone(role.zone)
        end = local.replace(hour=int(found[1]), minute=int(found[2]), second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(now.tzinfo)
    try:
        span = parse_duration(when)
    except ValueError:
        raise UserError(USAGE) from None
    if span > timedelta(days=14):
        raise UserError("An override can last at most 14 days.")
    return now + span


def row(
    role_id: str,
    role: Role,
    now: datetime,
    covering: list[Override],
    mtta: tuple[timedelta, int] | None,
    by_person: Mapping[str, tuple[timedelta, int]],
) -> OncallRow:
    current = who_is_on_call(role_id, role, now, covering)
    ends = {shift.layer: shift.end for shift in current}
    upcoming = [
        s
        for s in shifts(role_id, role, now, now + timedelta(days=30), covering)
        if s.start >= ends.get(s.layer, now) and s.start > now
    ]
    following = [
        next(s for s in upcoming if s.layer == layer)
        for layer in ends
        if any(s.layer == layer for s in upcoming)
    ]
    return OncallRow(
        role=role_id,
        role_name=role.name,
        now=current,
        next=following,
        mtta=mtta[0] if mtta else None,
        pages=mtta[1] if mtta else 0,
        people_mtta={
            s.user: by_person[s.user][0] for s in [*current, *following] if s.user in by_person
        },
    )
