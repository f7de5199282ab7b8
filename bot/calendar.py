"""On-call shifts as an iCalendar feed, so people see their turns in their calendar app.

Calendar apps subscribe to a URL and poll it without any login, so the URL itself carries
the credential. It is derived per role from the server's webhook token with HMAC: the feed
URL never reveals the webhook secret (which would let its holder post alerts), and one
role's URL cannot read another role's feed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from icalendar import Calendar, Event, vDuration

from bot import overrides
from bot.config import Role
from bot.errors import UserError
from bot.oncall import Shift, shifts
from bot.runtime import Runtime

PRODID = "-//Warroom//On-call calendar//EN"
# The feed shows the recent past (who was on call during last week's incident) and what
# people plan around; anything further out changes too often to be worth showing.
PAST = timedelta(days=7)
AHEAD = timedelta(weeks=8)
# Subscribed calendars poll on their own schedule; this asks them to do so hourly.
REFRESH = timedelta(hours=1)
# Keeps the derived token apart from any other use of an HMAC keyed with the same secret.
_TOKEN_PURPOSE = b"warroom oncall calendar v1\x00"


def feed_token(secret: str, role_id: str) -> str:
    """The token that opens ``role_id``'s feed: HMAC-SHA256 of the role keyed by ``secret``.

    Changing the webhook token therefore revokes every calendar URL at once.
    """
    message = _TOKEN_PURPOSE + role_id.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_feed_token(secret: str, role_id: str, given: str) -> bool:
    """Whether ``given`` opens ``role_id``'s feed, compared in constant time."""
    expected = feed_token(secret, role_id)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def feed_path(secret: str, role_id: str) -> str:
    """The feed's path and query, e.g. to show someone the URL to subscribe to."""
    return f"/oncall/{quote(role_id, safe='')}.ics?token={feed_token(secret, role_id)}"


async def calendar_shifts(
    rt: Runtime, role_id: str, *, now: datetime | None = None
) -> tuple[Role, list[Shift]]:
    """The role and its shifts from ``PAST`` before now to ``AHEAD`` after, overrides
    from the database painted in; raises ``UserError`` for a role not in the on-call file.

    Overrides are read from the start of the window, not from now, so that last week's
    cover still shows who actually held the pager.
    """
    roles = rt.config.oncall.roles
    role = roles.get(role_id)
    if role is None:
        known = ", ".join(sorted(roles)) or "none"
        raise UserError(f"There is no role {role_id!r} in the on-call file (roles: {known}).")
    now = now or rt.clock()
    start, end = now - PAST, now + AHEAD
    async with rt.db.transaction() as session:
        covering = await overrides.active(session, start)
    return role, shifts(role_id, role, start, end, covering)


def render_ics(role_id: str, role: Role, found: list[Shift], *, now: datetime) -> bytes:
    """A VCALENDAR with one VEVENT per shift, times in UTC (the app shows them locally)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Warroom on-call: {role.name}")
    cal.add("x-wr-timezone", role.timezone)
    # icalendar does not know these two properties' type, so it is given explicitly.
    cal.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    stamp = now.astimezone(UTC)
    for shift in found:
        cal.add_component(_event(role_id, role, shift, stamp))
    return cal.to_ical()


def _event(role_id: str, role: Role, shift: Shift, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", _uid(role_id, shift))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start.astimezone(UTC))
    event.add("dtend", shift.end.astimezone(UTC))
    event.add("summary", f"On call: {role.name} ({shift.layer}) — <@{shift.user}>")
    event.add("description", _description(role, shift))
    # A week-long busy block would hide the person's real free/busy time from everyone.
    event.add("transp", "TRANSPARENT")
    return event


def _uid(role_id: str, shift: Shift) -> str:
    """Stable for the same turn, so a re-fetch updates the event instead of adding a copy.

    The end is left out: an override cutting a shift short moves its end, and the calendar
    should show that as the same event, shortened. Hashed because role ids and layer names
    come from a hand-edited file and a UID should be plain.
    """
    key = "\x00".join([role_id, shift.layer, shift.start.astimezone(UTC).isoformat(), shift.user])
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@warroom"


def _description(role: Role, shift: Shift) -> str:
    if shift.overridden_by is None:
        return (
            f"<@{shift.user}>'s turn in the {shift.layer} rotation of {role.name}. "
            f"Handoffs follow {role.timezone} time."
        )
    layer = role.layer(shift.layer)
    covered = layer.members[shift.index] if layer and shift.index < len(layer.members) else None
    instead = f" for <@{covered}>" if covered and covered != shift.user else ""
    return (
        f"Override: <@{shift.user}> covers {role.name} ({shift.layer}){instead}, "
        "replacing the rotation for this time."
    )
