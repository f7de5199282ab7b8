"""Who is on call: shift arithmetic in the role's wall time, across DST, before the start;
layers, restrictions, overrides, and the escalation levels they feed.

tests/test_oncall_properties.py checks the same rules on random rotations and instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import EscalationLevel, Role
from bot.oncall import (
    Override,
    Shift,
    escalation_steps,
    next_member,
    on_call,
    shifts,
    targets_for_level,
    who_is_on_call,
)

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
        ("2h", utc(2026, 10, 25, 1)),
        ("5h", utc(2026, 3, 29, 1)),
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


# --- skipped and repeated hours ----------------------------------------------------------


def test_a_handoff_in_a_skipped_hour_moves_to_the_end_of_the_gap() -> None:
    # London skips 01:00-02:00 on 2026-03-29: the 01:30 handoff happens at 02:00 BST (01:00Z).
    nightly = role(start="2026-01-05T01:30:00")
    before, during, after = shifts("r", nightly, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert (before.start, before.end) == (utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1))
    assert (during.start, during.end) == (utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30))
    assert during.start.astimezone(LONDON).strftime("%H:%M") == "02:00"
    assert after.start.astimezone(LONDON).strftime("%H:%M") == "01:30"


def test_a_handoff_in_a_repeated_hour_is_its_first_occurrence() -> None:
    # London repeats 01:00-02:00 on 2026-10-25: 01:30 BST (00:30Z) comes before 01:30 GMT.
    nightly = role(start="2026-01-05T01:30:00")
    shift = on_call("r", nightly, utc(2026, 10, 25, 1))  # 01:00 GMT, the second 01:00
    assert (shift.start, shift.end) == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30))
    assert shift.end - shift.start == timedelta(hours=25)


def test_lord_howe_half_hour_change() -> None:
    # Lord Howe Island goes from 02:00 (+10:30) to 02:30 (+11:00) on 2026-10-04.
    island = role(start="2026-01-05T02:15:00", timezone="Australia/Lord_Howe")
    shift = on_call("r", island, utc(2026, 10, 4, 12))
    assert shift.start == utc(2026, 10, 3, 15, 30)  # 02:30 local: the end of the gap
    assert shift.end == utc(2026, 10, 4, 15, 15)  # 02:15 local the next day
    assert shift.end - shift.start == timedelta(hours=23, minutes=45)


def test_an_hourly_shift_inside_the_skipped_hour_lasts_no_time_and_is_left_out() -> None:
    hourly = role(rotation="1h", start="2026-01-05T00:00:00")
    found = shifts("r", hourly, utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))
    # 00:00 GMT (UA), then 01:00-02:00 local never happens (UB's turn), then 02:00 BST (UC).
    assert [(s.user, s.start) for s in found] == [
        ("UA", utc(2026, 3, 29, 0)),
        ("UC", utc(2026, 3, 29, 1)),
        ("UA", utc(2026, 3, 29, 2)),
    ]


# --- layers and restrictions -------------------------------------------------------------

WEEKDAYS_9_TO_5: dict[str, Any] = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "from": "09:00",
    "to": "17:00",
}


def layered(*secondary_restrictions: dict[str, Any], **fields: Any) -> Role:
    """A role with a daily primary (UA, UB, UC) and a weekly secondary (UX, UY)."""
    return Role.model_validate(
        {
            "name": "Layered",
            "timezone": "Europe/London",
            "layers": [
                {
                    "name": "primary",
                    "members": ["UA", "UB", "UC"],
                    "rotation": "1d",
                    "start": "2026-01-05T09:00:00",
                },
                {
                    "name": "secondary",
                    "members": ["UX", "UY"],
                    "rotation": "1w",
                    "start": "2026-01-05T09:00:00",
                    "restrictions": list(secondary_restrictions),
                },
            ],
            **fields,
        }
    )


def on_now(role: Role, at: datetime, overrides: tuple[Override, ...] = ()) -> list[tuple[str, str]]:
    return [(s.layer, s.user) for s in who_is_on_call("r", role, at, overrides)]


def test_the_simple_form_is_one_layer_named_primary() -> None:
    simple = role()
    [layer] = simple.layers
    assert (layer.name, layer.members, layer.rotation) == (
        "primary",
        ["UA", "UB", "UC"],
        timedelta(days=1),
    )
    [shift] = who_is_on_call("r", simple, utc(2026, 1, 6, 12))
    assert shift == on_call("r", simple, utc(2026, 1, 6, 12))
    assert (shift.layer, shift.overridden_by) == ("primary", None)


def test_every_layer_has_its_own_rotation() -> None:
    both = layered()
    # Tuesday of the second week: primary's day 8 (UC), secondary's week 1 (UY).
    assert on_now(both, utc(2026, 1, 13, 12)) == [("primary", "UC"), ("secondary", "UY")]
    assert both.members == ["UA", "UB", "UC"]  # the first layer, for single-rotation callers


def test_working_hours_restriction() -> None:
    office = layered(WEEKDAYS_9_TO_5)
    assert on_now(office, utc(2026, 1, 7, 8, 59)) == [("primary", "UB")]
    assert on_now(office, utc(2026, 1, 7, 9)) == [("primary", "UC"), ("secondary", "UX")]
    assert on_now(office, utc(2026, 1, 7, 17)) == [("primary", "UC")]
    assert on_now(office, utc(2026, 1, 10, 12)) == [("primary", "UC")]  # Saturday
    [_, secondary] = who_is_on_call("r", office, utc(2026, 1, 7, 12))
    assert (secondary.start, secondary.end) == (utc(2026, 1, 7, 9), utc(2026, 1, 7, 17))


def test_restriction_windows_keep_local_time_across_dst() -> None:
    office = layered(WEEKDAYS_9_TO_5)
    [_, secondary] = who_is_on_call("r", office, utc(2026, 7, 1, 12))
    assert (secondary.start, secondary.end) == (utc(2026, 7, 1, 8), utc(2026, 7, 1, 16))


def test_overnight_restriction_runs_into_the_next_day() -> None:
    nights = layered({"days": ["fri"], "from": "22:00", "to": "06:00"})
    friday_night = [
        s for s in shifts("r", nights, utc(2026, 1, 5), utc(2026, 1, 12)) if s.layer == "secondary"
    ]
    assert [(s.start, s.end) for s in friday_night] == [(utc(2026, 1, 9, 22), utc(2026, 1, 10, 6))]
    assert ("secondary", "UX") in on_now(nights, utc(2026, 1, 10, 3))
    assert ("secondary", "UX") not in on_now(nights, utc(2026, 1, 10, 6))
    assert ("secondary", "UX") not in on_now(nights, utc(2026, 1, 9, 21, 59))


def test_sunday_overnight_window_ends_on_monday_after_the_handoff() -> None:
    # The weekly handoff (Monday 09:00) falls outside the window, which ends at 10:00.
    late = layered({"days": ["sun"], "from": "20:00", "to": "10:00"})
    found = [
        s for s in shifts("r", late, utc(2026, 1, 11), utc(2026, 1, 13)) if s.layer == "secondary"
    ]
    assert [(s.user, s.start, s.end) for s in found] == [
        ("UX", utc(2026, 1, 11, 20), utc(2026, 1, 12, 9)),
        ("UY", utc(2026, 1, 12, 9), utc(2026, 1, 12, 10)),
    ]


def test_weekend_only_layer_covers_saturday_and_sunday_whole() -> None:
    weekend = layered({"days": ["sat", "sun"]})
    found = [
        s for s in shifts("r", weekend, utc(2026, 1, 5), utc(2026, 1, 19)) if s.layer == "secondary"
    ]
    assert [(s.user, s.start, s.end) for s in found] == [
        ("UX", utc(2026, 1, 10), utc(2026, 1, 12)),
        ("UY", utc(2026, 1, 17), utc(2026, 1, 19)),
    ]
    assert on_now(weekend, utc(2026, 1, 12, 0)) == [("primary", "UA")]


def test_on_call_ignores_restrictions_for_old_callers() -> None:
    restricted_primary = Role.model_validate(
        {
            "name": "x",
            "timezone": "UTC",
            "layers": [
                {
                    "name": "day",
                    "members": ["UA"],
                    "start": "2026-01-05T09:00:00",
                    "restrictions": [WEEKDAYS_9_TO_5],
                }
            ],
        }
    )
    assert who_is_on_call("r", restricted_primary, utc(2026, 1, 5, 20)) == []
    assert on_call("r", restricted_primary, utc(2026, 1, 5, 20)).user == "UA"


# --- overrides ---------------------------------------------------------------------------


def test_override_in_the_middle_of_a_shift() -> None:
    # "@maria covers tonight 18:00-08:00" in UA's shift (Monday 09:00 to Tuesday 09:00).
    tonight = Override("r", "UMARIA", utc(2026, 1, 5, 18), utc(2026, 1, 6, 8))
    found = shifts("r", role(), utc(2026, 1, 5, 9), utc(2026, 1, 6, 9), [tonight])
    assert [(s.user, s.start, s.end, s.overridden_by) for s in found] == [
        ("UA", utc(2026, 1, 5, 9), utc(2026, 1, 5, 18), None),
        ("UMARIA", utc(2026, 1, 5, 18), utc(2026, 1, 6, 8), "UMARIA"),
        ("UA", utc(2026, 1, 6, 8), utc(2026, 1, 6, 9), None),
    ]
    [covered] = who_is_on_call("r", role(), utc(2026, 1, 5, 23), [tonight])
    assert covered == found[1]
    assert covered.index == 0  # covering for UA
    [after] = who_is_on_call("r", role(), utc(2026, 1, 6, 8, 30), [tonight])
    assert (after.user, after.start, after.end) == ("UA", utc(2026, 1, 6, 8), utc(2026, 1, 6, 9))
    assert on_call("r", role(), utc(2026, 1, 5, 23)).user == "UA"  # no overrides there


def test_override_across_a_handoff_and_later_overrides_win() -> None:
    long = Override("r", "ULONG", utc(2026, 1, 6, 6), utc(2026, 1, 6, 12))
    short = Override("r", "USHORT", utc(2026, 1, 6, 7), utc(2026, 1, 6, 8))
    found = shifts("r", role(), utc(2026, 1, 6), utc(2026, 1, 6, 13), [long, short])
    assert [(s.user, s.start, s.end) for s in found] == [
        ("UA", utc(2026, 1, 5, 9), utc(2026, 1, 6, 6)),
        ("ULONG", utc(2026, 1, 6, 6), utc(2026, 1, 6, 7)),
        ("USHORT", utc(2026, 1, 6, 7), utc(2026, 1, 6, 8)),
        ("ULONG", utc(2026, 1, 6, 8), utc(2026, 1, 6, 12)),
        ("UB", utc(2026, 1, 6, 12), utc(2026, 1, 7, 9)),
    ]


def test_override_on_a_named_layer_and_outside_its_windows() -> None:
    office = layered(WEEKDAYS_9_TO_5)
    evening = Override("r", "UMARIA", utc(2026, 1, 7, 16), utc(2026, 1, 7, 20), layer="secondary")
    assert on_now(office, utc(2026, 1, 7, 18), (evening,)) == [
        ("primary", "UC"),
        ("secondary", "UMARIA"),
    ]
    assert on_now(office, utc(2026, 1, 7, 12), (evening,)) == [
        ("primary", "UC"),
        ("secondary", "UX"),
    ]
    without_layer = Override("r", "UMARIA", utc(2026, 1, 7, 16), utc(2026, 1, 7, 20))
    assert on_now(office, utc(2026, 1, 7, 18), (without_layer,)) == [("primary", "UMARIA")]


def test_overrides_of_other_roles_or_unknown_layers_change_nothing() -> None:
    elsewhere = Override("other-role", "UMARIA", utc(2026, 1, 5), utc(2026, 1, 8))
    nowhere = Override("r", "UMARIA", utc(2026, 1, 5), utc(2026, 1, 8), layer="tertiary")
    assert on_now(layered(), utc(2026, 1, 6, 12), (elsewhere, nowhere)) == [
        ("primary", "UB"),
        ("secondary", "UX"),
    ]


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (datetime(2026, 1, 5, 18), utc(2026, 1, 6), "timezone-aware"),
        (utc(2026, 1, 6), utc(2026, 1, 6), "must end after it starts"),
    ],
)
def test_override_rejects(start: datetime, end: datetime, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Override("r", "UMARIA", start, end)


# --- escalation --------------------------------------------------------------------------


def level(notify: str, wait: str = "5m") -> EscalationLevel:
    return EscalationLevel.model_validate({"notify": notify, "wait": wait})


def test_targets_of_each_kind_of_level() -> None:
    office = layered(WEEKDAYS_9_TO_5, lead="ULEAD")
    other = role(members=["UO1", "UO2"], timezone="America/New_York")
    roles = {"r": office, "other": other}
    noon, night = utc(2026, 1, 7, 12), utc(2026, 1, 7, 22)

    def targets(notify: str, at: datetime = noon, **kwargs: Any) -> list[str]:
        return targets_for_level("r", office, level(notify), at, roles=roles, **kwargs)

    assert targets("layer:primary") == ["UC"]
    assert targets("layer:secondary") == ["UX"]
    assert targets("layer:secondary", night) == []  # outside the working-hours window
    assert targets("lead") == ["ULEAD"]
    assert targets("user:U0SOMEONE") == ["U0SOMEONE"]
    assert targets("usergroup:S0ONCALL") == ["subteam:S0ONCALL"]
    assert targets("role:other") == ["UO2"]  # 07:00 in New York: still day 1, UO2's
    assert targets("role:missing") == []
    assert targets("next:primary", previous_user="UC") == ["UA"]
    assert targets("next:secondary", previous_user="UX") == ["UY"]
    assert targets("next:secondary", night, previous_user="UX") == []
    assert targets("next:primary") == ["UC"]  # nobody paged before: whoever's turn it is
    # The override's person didn't answer: next is the member they were covering for.
    cover = Override("r", "UMARIA", utc(2026, 1, 7, 11), utc(2026, 1, 7, 13))
    assert targets("layer:primary", overrides=[cover]) == ["UMARIA"]
    assert targets("next:primary", previous_user="UMARIA", overrides=[cover]) == ["UC"]
    other_cover = Override("other", "UOTHERCOVER", utc(2026, 1, 7, 11), utc(2026, 1, 7, 13))
    assert targets("role:other", overrides=[other_cover]) == ["UOTHERCOVER"]


def test_default_policy_reproduces_next_member_escalation() -> None:
    # Before policies, an unacknowledged page went to next_member() until every member had
    # been tried three times; the default policy must page the same people in the same order.
    rotation = role(members=["UA", "UB", "UC", "UD"])
    at = utc(2026, 1, 6, 12)  # UB's day
    policy = escalation_steps(rotation)
    assert policy.repeat == 3
    assert [lv.notify for lv in policy.levels] == ["layer:primary"] + ["next:primary"] * 3
    assert {lv.wait for lv in policy.levels} == {rotation.ack_timeout}

    paged: list[str] = []
    for _ in range(policy.repeat):
        for lv in policy.levels:
            previous = paged[-1] if paged else None
            [user] = targets_for_level("r", rotation, lv, at, previous_user=previous)
            paged.append(user)
    expected = [on_call("r", rotation, at).user]
    while len(expected) < len(rotation.members) * 3:
        expected.append(next_member(rotation, expected[-1], at))
    assert paged == expected


def test_default_policy_of_a_layered_role_pages_each_layer_then_the_lead() -> None:
    policy = escalation_steps(layered(lead="ULEAD"), ack_timeout=timedelta(minutes=2))
    assert [(lv.notify, lv.wait) for lv in policy.levels] == [
        ("layer:primary", timedelta(minutes=2)),
        ("layer:secondary", timedelta(minutes=2)),
        ("lead", timedelta(minutes=2)),
    ]
    assert policy.repeat == 3


def test_explicit_policy_is_used_as_written() -> None:
    explicit = layered(
        lead="ULEAD",
        escalation={
            "levels": [
                {"notify": "layer:secondary", "wait": "1m"},
                {"notify": "lead", "wait": "2m"},
            ],
            "repeat": 2,
        },
    )
    policy = escalation_steps(explicit, ack_timeout=timedelta(minutes=30))
    assert [(lv.notify, lv.wait) for lv in policy.levels] == [
        ("layer:secondary", timedelta(minutes=1)),
        ("lead", timedelta(minutes=2)),
    ]
    assert policy.repeat == 2
