"""Slack mrkdwn primitives: escaping, cutting, mentions, dates and durations.

Everything Warroom shows in Slack is assembled from these few pieces, so the two
promises of DESIGN rule 6 live here: untrusted text can never become a mention or a
link (``escape``), and no text is ever too long for Slack (``truncate``). Warroom's own
tokens (``<@U…>``, ``<#C…>``, ``<!date…>``) are produced only by the helpers below, from
values that are checked first.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.clock import as_utc

ELLIPSIS = "…"

_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_LONGEST_ENTITY = len("&amp;")


def escape(text: str) -> str:
    """Neutralise Slack's three control characters and nothing else.

    Slack decodes only ``&amp;``, ``&lt;`` and ``&gt;``; encoding anything more (quotes,
    apostrophes) would show up literally as ``&#39;`` in the client.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with "…" when cut.

    The cut never lands inside an escape entity (half an ``&amp;`` would show as garbage)
    nor inside one of Warroom's own ``<…>`` tokens (half a mention would show raw markup).
    Apply it to already-escaped text, so the limit counts what Slack counts.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = _safe_cut(text, limit - len(ELLIPSIS))
    return text[:cut].rstrip() + ELLIPSIS


def _safe_cut(text: str, cut: int) -> int:
    """Move ``cut`` left so it does not split an entity or an angle-bracket token."""
    amp = text.rfind("&", max(0, cut - _LONGEST_ENTITY + 1), cut)
    if amp != -1:
        entity = _ENTITY.match(text, amp)
        if entity and entity.end() > cut:
            cut = amp
    # Escaped text holds no raw "<", so an unclosed one before the cut is our own token.
    opening = text.rfind("<", 0, cut)
    if opening != -1 and text.find(">", opening, cut) == -1:
        cut = opening
    return cut


def is_user_id(value: str | None) -> bool:
    """True for a well-formed Slack user ID, the only thing ever put in ``<@…>``."""
    return bool(value) and _USER_ID.match(value or "") is not None


def mention(user_id: str | None) -> str:
    """A user mention, or harmless text when the value is not a real user ID.

    A malformed ID (say ``<!channel>`` smuggled through a label) must not become markup,
    so it is shown escaped instead of being wrapped in ``<@…>``.
    """
    if not user_id:
        return "nobody"
    if is_user_id(user_id):
        return f"<@{user_id}>"
    return truncate(escape(user_id), 80)


def channel_link(channel_id: str | None, name: str | None) -> str:
    """A clickable channel link when the ID is real, else the plain (escaped) name."""
    label = escape(name or "").replace("|", "")
    if channel_id and _CHANNEL_ID.match(channel_id):
        return f"<#{channel_id}|{label}>" if label else f"<#{channel_id}>"
    if label:
        return f"#{label}"
    return "no channel yet"


def ts(dt: datetime) -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback text."""
    utc = as_utc(dt)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def ago(dt: datetime) -> str:
    """A relative date ("3 minutes ago") that Slack keeps current, so no clock is needed."""
    utc = as_utc(dt)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{ago}}|{fallback}>"


def duration(td: timedelta) -> str:
    """A short human duration with the two largest units: "4m 12s", "1h 5m", "2d 3h".

    Zero-valued second units are dropped ("7m", not "7m 0s"); negative spans, which only
    bad clocks produce, read as "0s" rather than as nonsense.
    """
    seconds = max(0, int(td.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{big_unit} {small}{small_unit}" if small else f"{big}{big_unit}"
    return f"{secs}s"
