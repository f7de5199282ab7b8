"""Property tests of rotations across DST changes, in zones that change by an hour, by half
an hour (Lord Howe), at midnight (Santiago), or never (Kolkata).

The rule under test, stated precisely. Let ``s`` be a layer's start (local wall time), ``R``
its rotation, and ``b(k) = s + k·R`` the local wall time at which shift ``k`` begins. The
instant ``B(k)`` of that boundary is:

- ``b(k)`` itself, read at its first occurrence when the hour repeats (``fold=0``), if
  ``b(k)`` exists on the local clock;
- otherwise ``b(k)`` lies in a skipped interval, and ``B(k)`` is the instant the interval
  ends, whose local time is ``b(k) + d(k)`` with ``0 < d(k) <= gap length``.

Shift ``k`` is ``[B(k), B(k+1))``. So consecutive shifts meet exactly (no gap, no overlap),
shift ``k`` belongs to member ``k mod n``, and its length in local wall-clock time is
``R + d(k+1) - d(k)``: exactly ``R`` unless one of its boundaries was moved out of a skipped
interval. A shift whose two boundaries move to the same instant (a one-hour rotation whose
turn is the skipped hour itself) lasts no time and is left out, so that member's turn is
skipped.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import MINUTES_PER_DAY, WEEKDAYS, Role, format_clock
from bot.oncall import Override, Shift, on_call, shifts, who_is_on_call

ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
]
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _transitions(zone: ZoneInfo, first_year: int, last_year: int) -> list[datetime]:
    """Every UTC instant at which ``zone`` changes its offset in those years."""
    found = []
    day = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            before, after = day, following
            while after - before > timedelta(microseconds=1):
                middle = before + (after - before) / 2
                if middle.astimezone(zone).utcoffset() == after.astimezone(zone).utcoffset():
                    after = middle
                else:
                    before = middle
            found.append(after)
        day = following
    return found


TRANSITIONS = {name: _transitions(ZoneInfo(name), 2020, 2030) for name in ZONES}


def wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def exists(local: datetime, zone: ZoneInfo) -> bool:
    return wall(local.replace(tzinfo=zone).astimezone(UTC), zone) == local


def expected_boundary(role: Role, k: int) -> tuple[datetime, timedelta]:
    """``(B(k), d(k))`` by the rule in the module doc, from the zone's transitions alone."""
    zone, layer = role.zone, role.layers[0]
    local = layer.start + k * layer.rotation
    if exists(local, zone):
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC), timedelta(0)
    for change in TRANSITIONS[zone.key]:
        earlier = (change - timedelta(microseconds=1)).astimezone(zone).utcoffset()
        later = change.astimezone(zone).utcoffset()
        gap_starts = change.replace(tzinfo=None) + earlier
        if gap_starts <= local < change.replace(tzinfo=None) + later:
            return change, wall(change, zone) - local
    raise AssertionError(f"{local} does not exist, but no change skips it")


def first_number(instant: datetime, role: Role) -> int:
    """The number ``k`` of the shift starting at ``instant``: when several boundaries meet
    there (the shifts between them last no time), the last of them."""
    layer = role.layers[0]
    k = (wall(instant, role.zone) - layer.start) // layer.rotation
    while expected_boundary(role, k)[0] > instant:
        k -= 1
    while expected_boundary(role, k + 1)[0] <= instant:
        k += 1
    return k


@st.composite
def rotations(draw: st.DrawFn) -> tuple[Role, datetime, datetime]:
    """A single-layer role and a window [low, high) of a few shifts, usually round a DST
    change with a boundary placed near it."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    hours = st.sampled_from([1, 2, 3, 12, 24, 25, 7 * 24, 14 * 24])
    rotation = draw(
        st.one_of(
            hours.map(lambda h: timedelta(hours=h)),
            st.integers(60, 8 * 7 * MINUTES_PER_DAY).map(lambda m: timedelta(minutes=m)),
        )
    )
    members = [f"U{i}" for i in range(draw(st.integers(1, 5)))]
    transitions = TRANSITIONS[name]
    if transitions and draw(st.booleans()):
        change = draw(st.sampled_from(transitions))
        nudge = draw(st.one_of(st.integers(-8, 8).map(lambda q: 15 * q), st.integers(-180, 180)))
        near = wall(change, zone) + timedelta(minutes=nudge)
        start = near - draw(st.integers(-3, 30)) * rotation
        around = change
    else:
        start = draw(st.datetimes(datetime(2021, 1, 1), datetime(2029, 12, 1))).replace(
            second=0, microsecond=0
        )
        around = start.replace(tzinfo=zone) + draw(st.integers(-20, 20)) * rotation
    low = around - draw(st.integers(0, 3 * 60)) * rotation / 60
    high = low + draw(st.integers(1, 6)) * rotation
    role = Role.model_validate(
        {
            "name": "Property",
            "members": members,
            "rotation": rotation,
            "start": start,
            "timezone": name,
        }
    )
    return role, low.astimezone(UTC), high.astimezone(UTC)


@PROPERTY_SETTINGS
@given(rotations())
def test_shifts_are_contiguous_round_robin_and_of_the_rotation_in_local_time(
    case: tuple[Role, datetime, datetime],
) -> None:
    role, low, high = case
    zone, layer = role.zone, role.layers[0]
    found = shifts("r", role, low, high)
    assert found, "someone is always on call in an unrestricted layer"
    assert found[0].start <= low and found[-1].end >= high
    for shift in found:
        assert shift.start < shift.end
        assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC
        k = first_number(shift.start, role)
        (start, moved_start), (end, moved_end) = (
            expected_boundary(role, k),
            expected_boundary(role, k + 1),
        )
        assert (shift.start, shift.end) == (start, end)
        assert wall(end, zone) - wall(start, zone) == layer.rotation + moved_end - moved_start
        assert (shift.index, shift.user) == (k % len(layer.members), layer.members[shift.index])
    for before, after in itertools.pairwise(found):
        assert before.end == after.start
        # A turn is only left out if it lasted no time: its hour was skipped.
        left_out = range(first_number(before.start, role) + 1, first_number(after.start, role))
        for k in left_out:
            assert expected_boundary(role, k)[0] == expected_boundary(role, k + 1)[0]
            assert not exists(layer.start + k * layer.rotation, zone)


@PROPERTY_SETTINGS
@given(rotations(), st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=5))
def test_who_is_on_call_agrees_with_the_shift_list(
    case: tuple[Role, datetime, datetime], fractions: list[float]
) -> None:
    role, low, high = case
    found = shifts("r", role, low, high)
    instants = [low + (high - low) * f for f in fractions]
    instants += [s.start for s in found if s.start >= low] + [
        s.end - timedelta(microseconds=1) for s in found if s.end <= high
    ]
    for at in instants:
        if not low <= at < high:
            continue  # a float fraction can round up to ``high``
        containing = [s for s in found if s.start <= at < s.end]
        assert who_is_on_call("r", role, at) == containing
        assert [on_call("r", role, at)] == containing


# --- restrictions and overrides ------------------------------------------------------------

times = st.integers(0, 47).map(lambda half_hours: 30 * half_hours)


@st.composite
def restrictions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Non-overlapping weekly windows: one window a day on some days, shorter than a day."""
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    opens = draw(times)
    closes = opens + draw(st.integers(1, 23)) * 60
    window = {"from": format_clock(opens), "to": format_clock(closes % MINUTES_PER_DAY or closes)}
    return [{"days": days, **window}]


@st.composite
def layered_roles(
    draw: st.DrawFn,
) -> tuple[Role, datetime, datetime, list[Override]]:
    role, low, high = draw(rotations())
    layer = role.layers[0].model_dump(by_alias=True)
    secondary = {**layer, "name": "secondary", "restrictions": draw(restrictions())}
    layered = Role.model_validate(
        {
            "name": role.name,
            "timezone": role.timezone,
            "layers": [{**layer, "name": "primary"}, secondary],
        }
    )
    overrides = []
    for position in range(draw(st.integers(0, 3))):
        start = low + (high - low) * draw(st.floats(-0.2, 1.0))
        length = (high - low) * draw(st.floats(0.01, 0.6))
        layer_name = draw(st.sampled_from([None, "primary", "secondary"]))
        overrides.append(Override("r", f"UCOVER{position}", start, start + length, layer_name))
    return layered, low, high, overrides


def reach(moment: datetime, zone: ZoneInfo) -> datetime:
    """The latest local time the clock has shown up to ``moment``: its local time, except
    in the second run of a repeated hour, where the clock already showed the end of it.

    A local window [from, to) is on call exactly while the reach is inside it: that is
    what reading its ends at their first occurrence, or at the end of a gap, means.
    """
    for change in TRANSITIONS[zone.key]:
        earlier = (change - timedelta(microseconds=1)).astimezone(zone).utcoffset()
        later = change.astimezone(zone).utcoffset()
        if later < earlier and change <= moment < change + (earlier - later):
            return wall(change - timedelta(microseconds=1), zone)
    return wall(moment, zone)


def in_window(role: Role, moment: datetime) -> bool:
    """Whether the secondary layer's windows cover ``moment``, from local times alone."""
    local = reach(moment, role.zone)
    minute = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
    for restriction in role.layers[1].restrictions:
        for start, end, _ in restriction.spans():
            # A Sunday overnight window runs past the end of the week into Monday.
            if start <= minute < end or start <= minute + 7 * MINUTES_PER_DAY < end:
                return True
    return False


@PROPERTY_SETTINGS
@given(layered_roles(), st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=5))
def test_restricted_and_overridden_layers_stay_consistent(
    case: tuple[Role, datetime, datetime, list[Override]], fractions: list[float]
) -> None:
    role, low, high, overrides = case
    found = shifts("r", role, low, high, overrides)
    by_layer: dict[str, list[Shift]] = {"primary": [], "secondary": []}
    for shift in found:
        by_layer[shift.layer].append(shift)
    for layer_shifts in by_layer.values():
        for before, after in itertools.pairwise(layer_shifts):
            assert before.end <= after.start  # no overlaps within a layer
    for shift in by_layer["primary"]:
        assert shift.start < shift.end
    for before, after in itertools.pairwise(by_layer["primary"]):
        assert before.end == after.start  # the unrestricted layer has no gaps, overrides or not
    for shift in by_layer["secondary"]:
        if shift.overridden_by is None:
            assert in_window(role, shift.start + (shift.end - shift.start) / 2)

    instants = [low + (high - low) * f for f in fractions] + [o.start for o in overrides]
    instants += [s.start for s in found] + [s.end - timedelta(microseconds=1) for s in found]
    for at in instants:
        if not low <= at < high:
            continue
        on_now = who_is_on_call("r", role, at, overrides)
        secondary_covered = any(o.start <= at < o.end and o.layer == "secondary" for o in overrides)
        if not secondary_covered:
            assert any(s.layer == "secondary" for s in on_now) == in_window(role, at)
        containing = [s for s in found if s.start <= at < s.end]
        assert on_now == sorted(containing, key=lambda s: s.layer != "primary")  # layer order
        for shift in on_now:
            covering = [
                o
                for o in overrides
                if o.start <= at < o.end and (o.layer or "primary") == shift.layer
            ]
            expected = covering[-1].user if covering else None  # the later override wins
            assert shift.overridden_by == expected
            if expected:
                assert shift.user == expected
