"""Who is on call: shift arithmetic in the role's wall time, across DST, before the start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Role
from bot.oncall import Shift, next_member, on_call

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def role(
    members: list[str] | None = None,
    rotation: str = "1d",
    start: datetime | str = "2026-01-05T09:00:00",
    timezone: str = "Europe/London",
) -> Role:
    return Role.model_validate(
        {
            "name": "Test role",
            "members": members or ["UA", "UB", "UC"],
            "rotation": rotation,
            "start": start,
            "timezone": timezone,
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_first_shift_starts_at_start() -> None:
    shift = on_call("ml-engineer", role(), utc(2026, 1, 5, 9, 0))
    assert shift == Shift("ml-engineer", "UA", 0, utc(2026, 1, 5, 9), utc(2026, 1, 6, 9))


@pytest.mark.parametrize(
    ("at", "user", "start"),
    [
        (utc(2026, 1, 6, 8, 59, 59), "UA", utc(2026, 1, 5, 9)),
        (utc(2026, 1, 6, 9, 0), "UB", utc(2026, 1, 6, 9)),
        (utc(2026, 1, 7, 12, 0), "UC", utc(2026, 1, 7, 9)),
        (utc(2026, 1, 8, 9, 0), "UA", utc(2026, 1, 8, 9)),  # wraps round
        # 329 days after the start: 329 % 3 == 2.
        (utc(2026, 11, 30, 10, 0), "UC", utc(2026, 11, 30, 9)),
    ],
)
def test_daily_rotation(at: datetime, user: str, start: datetime) -> None:
    shift = on_call("r", role(), at)
    assert (shift.user, shift.start, shift.end - shift.start) == (user, start, timedelta(days=1))


@pytest.mark.parametrize(
    ("at", "user", "index", "start"),
    [
        (utc(2026, 1, 5, 8, 59, 59), "UC", 2, utc(2026, 1, 4, 9)),  # shift -1
        (utc(2026, 1, 4, 9, 0), "UC", 2, utc(2026, 1, 4, 9)),
        (utc(2026, 1, 3, 23, 0), "UB", 1, utc(2026, 1, 3, 9)),  # shift -2
        (utc(2025, 12, 25, 12, 0), "UB", 1, utc(2025, 12, 25, 9)),  # shift -11; -11 % 3 == 1
    ],
)
def test_before_start_counts_backwards(
    at: datetime, user: str, index: int, start: datetime
) -> None:
    shift = on_call("r", role(), at)
    assert (shift.user, shift.index, shift.start) == (user, index, start)


def test_london_spring_forward_keeps_the_0900_handoff() -> None:
    # Clocks go forward on Sunday 2026-03-29: 09:00 is 09:00Z the day before, 08:00Z after.
    london = role()
    before = on_call("r", london, utc(2026, 3, 29, 7, 59))
    after = on_call("r", london, utc(2026, 3, 29, 8, 0))
    assert before.start == utc(2026, 3, 28, 9) and before.end == utc(2026, 3, 29, 8)
    assert before.end - before.start == timedelta(hours=23)
    assert after.start == before.end and after.user != before.user
    assert after.start.astimezone(LONDON).hour == 9


def test_london_fall_back_keeps_the_0900_handoff() -> None:
    # Clocks go back on Sunday 2026-10-25: the shift over the change lasts 25 hours.
    shift = on_call("r", role(), utc(2026, 10, 25, 8, 30))  # 08:30 GMT, before the handoff
    assert shift.start == utc(2026, 10, 24, 8) and shift.end == utc(2026, 10, 25, 9)
    assert shift.end - shift.start == timedelta(hours=25)


def test_new_york_weekly_handoff_across_dst() -> None:
    # US clocks go forward on Sunday 2026-03-08; the Monday handoff is 09:00 EDT = 13:00Z.
    weekly = role(rotation="1w", timezone="America/New_York")
    spanning = on_call("r", weekly, utc(2026, 3, 9, 12, 59))
    assert spanning.start == utc(2026, 3, 2, 14) and spanning.end == utc(2026, 3, 9, 13)
    assert spanning.end - spanning.start == timedelta(hours=167)
    following = on_call("r", weekly, utc(2026, 3, 9, 13, 0))
    assert following.start == spanning.end
    assert following.start.astimezone(NEW_YORK).hour == 9
    # 2026-03-02 is 8 weeks after 2026-01-05: shift 8 is UC's (8 % 3 == 2), then UA's.
    assert (spanning.user, following.user) == ("UC", "UA")


@pytest.mark.parametrize("timezone", ["Europe/London", "America/New_York"])
def test_a_year_of_shifts_is_contiguous_and_always_hands_off_at_0900(timezone: str) -> None:
    daily = role(timezone=timezone)
    zone = ZoneInfo(timezone)
    shift = on_call("r", daily, utc(2026, 1, 5, 15))
    for _ in range(400):
        following = on_call("r", daily, shift.end)
        assert following.start == shift.end
        assert following.index == (shift.index + 1) % 3
        local = following.start.astimezone(zone)
        assert (local.hour, local.minute) == (9, 0)
        shift = following


@pytest.mark.parametrize(
    ("rotation", "around"),
    [
        ("1h", utc(2026, 3, 29, 1)),  # London: 01:00 GMT jumps to 02:00 BST
        ("1h", utc(2026, 10, 25, 1)),  # London: 02:00 BST falls back to 01:00 GMT
        ("30m", utc(2026, 10, 25, 1)),
        ("12h", utc(2026, 3, 29, 1)),
    ],
)
def test_short_rotations_stay_contiguous_across_dst(rotation: str, around: datetime) -> None:
    short = role(rotation=rotation, start="2026-01-05T00:00:00")
    previous = None
    for minutes in range(-300, 300, 7):
        at = around + timedelta(minutes=minutes)
        shift = on_call("r", short, at)
        assert shift.start <= at < shift.end
        if previous is not None and shift != previous:
            assert shift.start == previous.end
        previous = shift


def test_twelve_hour_rotation_hands_off_at_0900_and_2100_local() -> None:
    halves = role(rotation="12h")
    starts = {
        on_call("r", halves, utc(2026, 3, 29) + timedelta(hours=h)).start.astimezone(LONDON).hour
        for h in range(0, 96, 5)
    }
    assert starts == {9, 21}


def test_single_member_is_always_on_call() -> None:
    alone = role(members=["USOLO"], rotation="1w")
    for at in (utc(2020, 1, 1), utc(2026, 1, 5, 9), utc(2030, 6, 1)):
        shift = on_call("r", alone, at)
        assert (shift.user, shift.index) == ("USOLO", 0)
        assert shift.start <= at < shift.end


def test_aware_start_is_read_as_wall_time_in_the_role_zone() -> None:
    # 09:00Z on a winter day is 09:00 in London, so the handoff stays at 09:00 local in summer.
    aware = role(start=datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert on_call("r", aware, utc(2026, 7, 1, 12)).start == utc(2026, 7, 1, 8)


def test_shift_times_are_utc() -> None:
    # 16:00 in London is 11:00 in New York, two hours into the shift that began at 09:00 EDT.
    shift = on_call("r", role(timezone="America/New_York"), datetime(2026, 7, 1, 16, tzinfo=LONDON))
    assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC
    assert shift.start == utc(2026, 7, 1, 13)


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call("r", role(), datetime(2026, 1, 5, 9))


def test_next_member_wraps_round_the_rotation() -> None:
    rotation = role()
    assert next_member(rotation, "UA") == "UB"
    assert next_member(rotation, "UC") == "UA"


def test_next_member_of_an_outsider_is_whoever_is_on_call() -> None:
    rotation = role()
    assert next_member(rotation, "UNOBODY", utc(2026, 1, 6, 12)) == "UB"
    assert next_member(rotation, "", utc(2026, 1, 7, 12)) == "UC"


def test_next_member_of_a_single_member_rotation_is_that_member() -> None:
    assert next_member(role(members=["USOLO"]), "USOLO") == "USOLO"
