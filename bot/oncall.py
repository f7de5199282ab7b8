"""Who is on call: pure arithmetic over a role's layers, so it needs no database or clock.

Each layer's shifts are laid out in the role's local wall time: a daily rotation handing
over at 09:00 in Europe/London hands over at 09:00 all year, and the shift that spans a DST
change is an hour shorter or longer in real time. A wall time is turned into an instant so
that consecutive shifts always meet (no gaps, no overlaps):

- in a repeated hour (clocks go back) the first occurrence is meant (``fold=0``);
- in a skipped hour (clocks go forward) the boundary moves to the first instant after the
  gap, so the shift before it is longer and the one after it shorter by that much in wall
  time. With a one-hour rotation the whole shift can fall into the gap; it then lasts no
  time at all and is left out.

Restrictions mask a layer's rotation: the turns still advance, but the layer is on call only
inside its windows. Overrides replace a layer's member for their span, restrictions or not;
where overrides overlap, the later one in the sequence given wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import (
    MINUTES_PER_DAY,
    PRIMARY,
    WEEKDAYS,
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Role,
)

DEFAULT_REPEAT = 3  # trips through the default policy before giving up, as paging did
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Shift:
    """One stretch of a layer with one person on call; times are UTC, ``end`` exclusive.

    ``user`` is whom to page. ``index`` is the position in the layer's members of the member
    whose turn it is by the rotation. During an override ``user`` and ``overridden_by`` are
    the covering person, and ``index`` still names the member they cover for (at the
    override's start).
    """

    role: str
    user: str
    index: int
    start: datetime
    end: datetime
    layer: str = PRIMARY
    overridden_by: str | None = None


@dataclass(frozen=True, slots=True)
class Override:
    """``user`` covers ``role`` from ``start`` to ``end`` (aware; ``end`` exclusive), in the
    named layer or, without one, the role's first layer."""

    role: str
    user: str
    start: datetime
    end: datetime
    layer: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start)
        _require_aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


# --- who is on call --------------------------------------------------------------------


def who_is_on_call(
    role_id: str, role: Role, at: datetime, overrides: Iterable[Override] = ()
) -> list[Shift]:
    """One shift per layer that has someone on call at ``at``, in layer order.

    A restricted layer outside its windows is absent; an override in force makes its layer's
    shift the override's (clipped by any later override).
    """
    _require_aware(at)
    overrides = list(overrides)
    return [
        shift
        for layer in role.layers
        for shift in _layer_shifts(role_id, role, layer, at, at + _TICK, overrides)
    ]


def shifts(
    role_id: str,
    role: Role,
    start: datetime,
    end: datetime,
    overrides: Iterable[Override] = (),
) -> list[Shift]:
    """Every shift of every layer that intersects [start, end), whole (not clipped to the
    window), ordered by start time and then layer order."""
    _require_aware(start)
    _require_aware(end)
    overrides = list(overrides)
    found = [
        (shift.start, position, shift)
        for position, layer in enumerate(role.layers)
        for shift in _layer_shifts(role_id, role, layer, start, end, overrides)
    ]
    return [shift for *_, shift in sorted(found, key=lambda item: item[:2])]


def on_call(role_id: str, role: Role, at: datetime) -> Shift:
    """The first layer's rotation shift containing ``at``, ignoring restrictions and
    overrides (kept for callers written for one rotation; prefer ``who_is_on_call``)."""
    _require_aware(at)
    layer = role.layers[0]
    return _rotation_shift(role_id, layer, role.zone, _shift_number(layer, role.zone, at))


def next_member(role: Role, user: str, at: datetime | None = None) -> str:
    """Whom to escalate to when ``user`` doesn't acknowledge: the next member of the first
    layer, wrapping; for someone outside it, whoever's turn it is at ``at`` (now)."""
    return _next_in_layer(role.layers[0], role.zone, user, at or datetime.now(UTC))


# --- escalation ------------------------------------------------------------------------


def escalation_steps(role: Role, ack_timeout: timedelta | None = None) -> EscalationPolicy:
    """The role's escalation policy, or the default one.

    The default keeps the behaviour from before policies existed: a role with one layer
    pages whoever is on call, then each following member in turn (``next:<layer>``); a role
    with several layers pages each layer's on-call person in order. The lead, if any, comes
    last; every level waits ``ack_timeout`` (the playbook's, else the role's), and the whole
    sequence runs three times before paging gives up.
    """
    if role.escalation is not None:
        return role.escalation
    wait = ack_timeout or role.ack_timeout
    if len(role.layers) == 1:
        layer = role.layers[0]
        targets = [f"layer:{layer.name}"] + [f"next:{layer.name}"] * (len(layer.members) - 1)
    else:
        targets = [f"layer:{layer.name}" for layer in role.layers]
    if role.lead is not None:
        targets.append("lead")
    levels = [EscalationLevel(notify=target, wait=wait) for target in targets]
    return EscalationPolicy(levels=levels, repeat=DEFAULT_REPEAT)


def targets_for_level(
    role_id: str,
    role: Role,
    level: EscalationLevel,
    at: datetime,
    *,
    previous_user: str | None = None,
    overrides: Iterable[Override] = (),
    roles: Mapping[str, Role] | None = None,
) -> list[str]:
    """The Slack IDs one escalation level notifies at ``at``; empty when nobody fits.

    User groups come back as ``subteam:S…``. ``next:<layer>`` is the member of the layer after
    ``previous_user`` (the one paged last), or whoever's turn it is when they are not a
    member, and nobody while the layer is off (outside its restriction windows).
    ``role:<id>`` is the first on-call person of that role in ``roles``.
    """
    _require_aware(at)
    overrides = list(overrides)
    kind, target = level.kind, level.target
    if kind == "lead":
        return [role.lead] if role.lead else []
    if kind == "user":
        return [target]
    if kind == "usergroup":
        return [f"subteam:{target}"]
    if kind == "role":
        other = (roles or {}).get(target)
        on_now = who_is_on_call(target, other, at, overrides) if other else []
        return [on_now[0].user] if on_now else []
    layer = role.layer(target)
    on_now = [s for s in who_is_on_call(role_id, role, at, overrides) if s.layer == target]
    if layer is None or not on_now:
        return []
    if kind == "layer":
        return [on_now[0].user]
    return [_next_in_layer(layer, role.zone, previous_user or "", at)]


def _next_in_layer(layer: Layer, zone: ZoneInfo, user: str, at: datetime) -> str:
    if user in layer.members:
        return layer.members[(layer.members.index(user) + 1) % len(layer.members)]
    return layer.members[_shift_number(layer, zone, at) % len(layer.members)]


# --- one layer -------------------------------------------------------------------------


def _layer_shifts(
    role_id: str,
    role: Role,
    layer: Layer,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override],
) -> list[Shift]:
    """The layer's shifts intersecting [start, end), with its overrides painted over.

    A shift cut by an override keeps its part outside the override, so the window is widened
    until it holds every shift and override that touches one already in it.
    """
    zone = role.zone
    own = [
        o for o in overrides if o.role == role_id and (o.layer or role.layers[0].name) == layer.name
    ]
    low, high = start, end
    while True:
        scheduled = list(_scheduled(role_id, layer, zone, low, high))
        touching = [o for o in own if o.start < high and o.end > low]
        edges = [(s.start, s.end) for s in scheduled] + [(o.start, o.end) for o in touching]
        wider = min([low, *(s for s, _ in edges)]), max([high, *(e for _, e in edges)])
        if wider == (low, high):
            break
        low, high = wider
    painted = scheduled
    for override in touching:
        painted = _paint(painted, _covering(role_id, layer, zone, override))
    return [s for s in painted if s.start < end and s.end > start]


def _covering(role_id: str, layer: Layer, zone: ZoneInfo, override: Override) -> Shift:
    index = _shift_number(layer, zone, override.start) % len(layer.members)
    start, end = override.start.astimezone(UTC), override.end.astimezone(UTC)
    return Shift(role_id, override.user, index, start, end, layer.name, override.user)


def _paint(shifts: list[Shift], cover: Shift) -> list[Shift]:
    """``shifts`` with ``cover`` laid over them: what it hides is cut away, the rest kept."""
    kept = []
    for shift in shifts:
        if shift.end <= cover.start or shift.start >= cover.end:
            kept.append(shift)
            continue
        if shift.start < cover.start:
            kept.append(replace(shift, end=cover.start))
        if shift.end > cover.end:
            kept.append(replace(shift, start=cover.end))
    return sorted([*kept, cover], key=lambda shift: shift.start)


def _scheduled(
    role_id: str, layer: Layer, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[Shift]:
    """The rotation's shifts intersecting [start, end), cut to the restriction windows."""
    if not layer.restrictions:
        yield from _rotation(role_id, layer, zone, start, end)
        return
    for opens, closes in _windows(layer, zone, start, end):
        for shift in _rotation(role_id, layer, zone, opens, closes):
            piece = replace(shift, start=max(shift.start, opens), end=min(shift.end, closes))
            if piece.start < end and piece.end > start:
                yield piece


def _rotation(
    role_id: str, layer: Layer, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[Shift]:
    """The unrestricted rotation's non-empty shifts intersecting [start, end)."""
    number = _shift_number(layer, zone, start)
    while True:
        shift = _rotation_shift(role_id, layer, zone, number)
        if shift.start >= end:
            return
        if shift.end > shift.start:
            yield shift
        number += 1


def _rotation_shift(role_id: str, layer: Layer, zone: ZoneInfo, number: int) -> Shift:
    index = number % len(layer.members)
    start, end = _boundary(layer, zone, number), _boundary(layer, zone, number + 1)
    return Shift(role_id, layer.members[index], index, start, end, layer.name)


def _windows(
    layer: Layer, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The layer's restriction windows as UTC spans intersecting [start, end), merged where
    they touch or overlap, in order."""
    # A window opens on its day and closes within the next, so it can reach from the day
    # before ``start``; a day of margin each side also covers any UTC offset.
    first = _wall_time(start, zone).date() - timedelta(days=2)
    last = _wall_time(end, zone).date() + timedelta(days=1)
    spans = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day)
        for restriction in layer.restrictions:
            if WEEKDAYS[day.weekday()] not in restriction.days:
                continue
            length = (restriction.to - restriction.from_) % MINUTES_PER_DAY or MINUTES_PER_DAY
            opens = midnight + timedelta(minutes=restriction.from_)
            spans.append((_instant(opens, zone), _instant(opens + timedelta(minutes=length), zone)))
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in sorted(spans):
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        elif opens < closes:
            merged.append((opens, closes))
    return [(o, c) for o, c in merged if o < end and c > start]


# --- wall time -------------------------------------------------------------------------


def _shift_number(layer: Layer, zone: ZoneInfo, at: datetime) -> int:
    """The rotation shift containing ``at``: shift 0 starts at ``layer.start``, earlier
    instants have negative numbers."""
    elapsed = _wall_time(at, zone) - _wall_time(layer.start, zone)
    number = elapsed // layer.rotation
    # Wall time is off by one shift near a DST change (an hour happens twice); settle on
    # real instants, which also steps over a shift that lasts no time.
    while at < _boundary(layer, zone, number):
        number -= 1
    while at >= _boundary(layer, zone, number + 1):
        number += 1
    return number


def _boundary(layer: Layer, zone: ZoneInfo, number: int) -> datetime:
    """The UTC instant at which rotation shift ``number`` begins."""
    return _instant(_wall_time(layer.start, zone) + number * layer.rotation, zone)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time: its first occurrence in a repeated hour, the end
    of the gap for a time that a skipped hour leaves out."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall_time(instant, zone) == wall:
        return instant
    # In a gap, fold=0 reads the wall time with the offset from before the change, which
    # lands after it; fold=1 uses the offset from after, which lands before it. The change
    # lies between: search for it.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = instant
    while after - before > _TICK:
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == after.astimezone(zone).utcoffset():
            after = middle
        else:
            before = middle
    return after


def _wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive local time in ``zone``; a naive ``moment`` already is one."""
    return moment if moment.tzinfo is None else moment.astimezone(zone).replace(tzinfo=None)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("on-call lookups need a timezone-aware datetime")
