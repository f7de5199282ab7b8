"""Who is on call: pure arithmetic over a role's rotation, so it needs no database or clock.

Shifts are laid out in the role's local wall time: a daily rotation handing over at 09:00
in Europe/London hands over at 09:00 all year, and the shift that spans a DST change is an
hour shorter or longer in real time. A boundary that falls in a skipped hour is read with
the offset from before the change, as ``zoneinfo`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.config import Role


@dataclass(frozen=True, slots=True)
class Shift:
    """One member's turn; ``index`` is their position in ``Role.members``; times are UTC."""

    role: str
    user: str
    index: int
    start: datetime
    end: datetime


def on_call(role_id: str, role: Role, at: datetime) -> Shift:
    """The shift of ``role`` that contains the instant ``at`` (which must be timezone-aware)."""
    number = _shift_number(role, at)
    index = number % len(role.members)
    start, end = _boundary(role, number), _boundary(role, number + 1)
    return Shift(role=role_id, user=role.members[index], index=index, start=start, end=end)


def next_member(role: Role, user: str, at: datetime | None = None) -> str:
    """Whom to escalate to when ``user`` doesn't acknowledge: the next member in rotation
    order, wrapping; for someone outside the rotation, whoever is on call at ``at`` (now)."""
    if user not in role.members:
        number = _shift_number(role, at or datetime.now(UTC))
        return role.members[number % len(role.members)]
    return role.members[(role.members.index(user) + 1) % len(role.members)]


def _shift_number(role: Role, at: datetime) -> int:
    """Shift 0 starts at ``role.start``; earlier instants have negative numbers."""
    if at.tzinfo is None:
        raise ValueError("on-call lookups need a timezone-aware datetime")
    elapsed = _wall_time(at, role.zone) - _wall_time(role.start, role.zone)
    number = elapsed // role.rotation
    # Wall-time arithmetic is off by one shift near a DST change (an hour happens twice);
    # settle on real instants, which also keeps consecutive shifts contiguous.
    while at < _boundary(role, number):
        number -= 1
    while at >= _boundary(role, number + 1):
        number += 1
    return number


def _boundary(role: Role, number: int) -> datetime:
    """The UTC instant at which shift ``number`` begins."""
    wall = _wall_time(role.start, role.zone) + number * role.rotation
    return wall.replace(tzinfo=role.zone).astimezone(UTC)


def _wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive local time in ``zone``; a naive ``moment`` already is one."""
    return moment if moment.tzinfo is None else moment.astimezone(zone).replace(tzinfo=None)
