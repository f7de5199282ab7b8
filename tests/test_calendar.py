"""The on-call calendar feed: per-role tokens, and ``GET /oncall/{role}.ics`` through the
real app, read back with icalendar the way a calendar app would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from bot import overrides
from bot.calendar import AHEAD, PAST, feed_path, feed_token, render_ics, verify_feed_token
from bot.oncall import Override, shifts
from handlers import calendar
from tests.conftest import WEBHOOK_TOKEN, FakeClock
from tests.harness import Harness

LONDON = ZoneInfo("Europe/London")
ROUTE = "/oncall/{role}.ics"


@pytest.fixture
def feed(bot: Harness) -> Harness:
    """The bot with the calendar route, whether or not the app includes it already."""
    if not any(getattr(route, "path", None) == ROUTE for route in bot.app.routes):
        bot.app.include_router(calendar.router)
    return bot


async def fetch(bot: Harness, role: str, token: str | None = None) -> httpx.Response:
    token = feed_token(WEBHOOK_TOKEN, role) if token is None else token
    return await bot.client.get(f"/oncall/{role}.ics", params={"token": token})


def events(body: bytes) -> list[dict[str, object]]:
    """Each VEVENT as plain values, in feed order."""
    return [
        {
            "uid": str(event["UID"]),
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
            "description": str(event["DESCRIPTION"]),
            "stamp": event.decoded("DTSTAMP"),
        }
        for event in Calendar.from_ical(body).walk("VEVENT")
    ]


# --- tokens ----------------------------------------------------------------------------


def test_feed_token_is_stable_and_differs_per_role_and_secret() -> None:
    token = feed_token("secret", "data-scientist")
    assert token == feed_token("secret", "data-scientist")
    assert token != feed_token("secret", "ml-engineer")
    assert token != feed_token("other-secret", "data-scientist")
    assert "secret" not in token


def test_verify_feed_token_refuses_anything_but_the_roles_own_token() -> None:
    secret = "secret"
    assert verify_feed_token(secret, "data-scientist", feed_token(secret, "data-scientist"))
    assert not verify_feed_token(secret, "data-scientist", feed_token(secret, "ml-engineer"))
    assert not verify_feed_token(secret, "data-scientist", secret)
    assert not verify_feed_token(secret, "data-scientist", "")
    assert not verify_feed_token(secret, "data-scientist", "nicht-ascii-ü")


def test_feed_path_quotes_the_role() -> None:
    assert feed_path("s", "a b") == f"/oncall/a%20b.ics?token={feed_token('s', 'a b')}"


# --- the route -------------------------------------------------------------------------


async def test_unknown_role_is_404_listing_the_known_roles(feed: Harness) -> None:
    response = await fetch(feed, "nobody")
    assert response.status_code == 404
    message = response.json()["error"]
    assert "'nobody'" in message
    assert "aiops-specialist, data-scientist, ml-engineer" in message


@pytest.mark.parametrize(
    "token",
    ["", "wrong", WEBHOOK_TOKEN, feed_token(WEBHOOK_TOKEN, "ml-engineer")],
    ids=["missing", "wrong", "webhook-token", "other-roles-token"],
)
async def test_wrong_token_is_401(feed: Harness, token: str) -> None:
    response = await fetch(feed, "data-scientist", token)
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    assert "BEGIN:VCALENDAR" not in response.text


async def test_no_token_parameter_is_401(feed: Harness) -> None:
    response = await feed.client.get("/oncall/data-scientist.ics")
    assert response.status_code == 401


async def test_feed_lists_the_weekly_rotation(feed: Harness, clock: FakeClock) -> None:
    response = await fetch(feed, "data-scientist")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "max-age=300"
    cal = Calendar.from_ical(response.content)
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]).startswith("-//Warroom//")
    assert str(cal["X-WR-CALNAME"]) == "Warroom on-call: Data scientist"
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/London"
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in response.content
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in response.content
    found = events(response.content)
    # From 7 days back to 8 weeks ahead: the week that began 2026-11-23 (UDS1, week 46)
    # through the one containing 2027-01-25 10:00 UTC.
    assert [e["start"] for e in found] == [
        datetime(2026, 11, 23, 9, tzinfo=UTC) + timedelta(weeks=n) for n in range(10)
    ]
    assert found[0]["summary"] == "On call: Data scientist (primary) — <@UDS1>"
    assert found[1]["summary"] == "On call: Data scientist (primary) — <@UDS2>"
    assert found[1]["start"] <= clock.now < found[1]["end"]
    assert all(e["end"] - e["start"] == timedelta(weeks=1) for e in found)
    assert all(e["stamp"] == clock.now for e in found)
    assert found[0]["start"] < clock.now - PAST < found[0]["end"]
    assert found[-1]["start"] < clock.now + AHEAD < found[-1]["end"]


async def test_handoff_stays_0900_london_across_the_dst_change(
    feed: Harness, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 3, 15, 12, tzinfo=UTC)

    found = events((await fetch(feed, "data-scientist")).content)

    by_start = {e["start"]: e for e in found}
    winter = datetime(2027, 3, 22, 9, tzinfo=UTC)  # GMT: 09:00 local is 09:00 UTC
    summer = datetime(2027, 3, 29, 8, tzinfo=UTC)  # BST: 09:00 local is 08:00 UTC
    assert by_start[winter]["end"] == summer
    assert by_start[summer]["end"] == datetime(2027, 4, 5, 8, tzinfo=UTC)
    # The shift spanning the change is an hour shorter in real time.
    assert summer - winter == timedelta(weeks=1, hours=-1)
    assert {e["start"].astimezone(LONDON).hour for e in found} == {9}
    assert by_start[winter]["summary"] != by_start[summer]["summary"]


async def test_uids_are_stable_across_requests(feed: Harness, clock: FakeClock) -> None:
    first = events((await fetch(feed, "ml-engineer")).content)
    clock.advance(hours=1)
    second = events((await fetch(feed, "ml-engineer")).content)

    assert len({e["uid"] for e in first}) == len(first)
    assert [e["uid"] for e in first] == [e["uid"] for e in second]
    assert first[0]["stamp"] != second[0]["stamp"]


async def test_a_new_day_keeps_the_uids_of_the_shifts_still_shown(
    feed: Harness, clock: FakeClock
) -> None:
    before = {e["start"]: e["uid"] for e in events((await fetch(feed, "ml-engineer")).content)}
    clock.advance(days=1)
    after = {e["start"]: e["uid"] for e in events((await fetch(feed, "ml-engineer")).content)}

    common = before.keys() & after.keys()
    assert len(common) == len(before) - 1
    assert all(before[start] == after[start] for start in common)


async def test_an_override_from_the_database_shows_in_the_feed(
    feed: Harness, clock: FakeClock
) -> None:
    # UDS2 is on call this week (from 2026-11-30 09:00 UTC); UCOVER takes two days of it.
    start, end = datetime(2026, 12, 1, 18, tzinfo=UTC), datetime(2026, 12, 3, 18, tzinfo=UTC)
    before = events((await fetch(feed, "data-scientist")).content)
    async with feed.rt.db.transaction() as session:
        cover = Override(role="data-scientist", user="UCOVER", start=start, end=end)
        await overrides.add(session, cover, "UADMIN", now=clock.now)

    found = events((await fetch(feed, "data-scientist")).content)

    week = datetime(2026, 11, 30, 9, tzinfo=UTC)
    spans = [(e["start"], e["end"], e["summary"]) for e in found if week <= e["start"] <= end]
    assert spans == [
        (week, start, "On call: Data scientist (primary) — <@UDS2>"),
        (start, end, "On call: Data scientist (primary) — <@UCOVER>"),
        (end, week + timedelta(weeks=1), "On call: Data scientist (primary) — <@UDS2>"),
    ]
    covering = next(e for e in found if "UCOVER" in e["summary"])
    assert "Override" in covering["description"]
    assert "<@UDS2>" in covering["description"]
    # The cut shift is still the same event (its end moved), so apps update it in place.
    cut = next(e for e in found if e["start"] == week)
    assert cut["uid"] == next(e["uid"] for e in before if e["start"] == week)


async def test_a_past_override_still_shows_last_weeks_cover(
    feed: Harness, clock: FakeClock
) -> None:
    start, end = datetime(2026, 11, 25, 9, tzinfo=UTC), datetime(2026, 11, 26, 9, tzinfo=UTC)
    async with feed.rt.db.transaction() as session:
        cover = Override(role="data-scientist", user="UCOVER", start=start, end=end)
        await overrides.add(session, cover, "UADMIN", now=start)

    found = events((await fetch(feed, "data-scientist")).content)

    assert (start, end) in [(e["start"], e["end"]) for e in found if "UCOVER" in e["summary"]]


# --- rendering -------------------------------------------------------------------------


def test_render_escapes_nothing_by_hand(feed: Harness) -> None:
    role = feed.rt.config.oncall.roles["ml-engineer"]
    role = role.model_copy(update={"name": "ML, infra; and \\ more"})
    now = datetime(2026, 11, 30, 10, tzinfo=UTC)
    found = shifts("ml-engineer", role, now, now + timedelta(days=1))

    body = render_ics("ml-engineer", role, found, now=now)

    assert b"ML\\, infra\\; and \\\\ more" in body
    cal = Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "Warroom on-call: ML, infra; and \\ more"
    assert all(str(e["TRANSP"]) == "TRANSPARENT" for e in cal.walk("VEVENT"))
