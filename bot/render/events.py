"""Timeline events as channel messages, each worded by its kind.

The incident channel reads as the incident's running log; the one event that invites an
answer, an automatic resolution on its way, carries a Keep open button.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.mrkdwn import mention, ts
from bot.render import kit, pieces
from bot.render.kit import SECTION_TEXT, Block, Message
from bot.render.steps import CHECK_MARK
from bot.snapshot import EventView, IncidentSnapshot

KEEP_OPEN_ACTION = "incident_keep_open"


def event_message(snap: IncidentSnapshot, event: EventView) -> Message:
    """One timeline event as a channel message, worded by its kind."""
    line = _EVENT_LINES.get(event.kind, _generic_line)(snap, event)
    return kit.message(
        line,
        [
            kit.section(line),
            _keep_open(snap, event),
            kit.context(pieces.actor(event.actor), ts(event.at)),
        ],
    )


def _keep_open(snap: IncidentSnapshot, event: EventView) -> Block | None:
    """A way to object to an automatic resolution, on the message that announces it."""
    when = event.data.get("auto_resolve_at")
    if event.kind != "alert_resolved" or not isinstance(when, str):
        return None
    at = ts(datetime.fromisoformat(when))
    button = kit.button("Keep open", KEEP_OPEN_ACTION, str(snap.incident.id), style=None)
    return {
        "type": "section",
        "text": kit.mrkdwn(
            f"⏲️ Warroom will resolve this incident at {at} unless someone objects.", 500
        ),
        "accessory": button,
    }


def _data_user(event: EventView, key: str) -> str:
    value = event.data.get(key)
    return mention(value if isinstance(value, str) else None)


def _paged_line(snap: IncidentSnapshot, event: EventView) -> str:
    attempt = event.data.get("attempt")
    suffix = f" (attempt {int(attempt)})" if isinstance(attempt, int) and attempt > 1 else ""
    role = pieces.role(snap, event.data.get("role"))
    return f"📟 Paged {_data_user(event, 'user_id')} as *{role}*{suffix}"


def _escalated_line(snap: IncidentSnapshot, event: EventView) -> str:
    return (
        f"↪️ {_data_user(event, 'from_user')} did not acknowledge in time; "
        f"paging {_data_user(event, 'to_user')} as *{pieces.role(snap, event.data.get('role'))}*"
    )


def _exhausted_line(snap: IncidentSnapshot, event: EventView) -> str:
    # <!here> is Warroom's own text: the one deliberate channel-wide alarm.
    return (
        f"<!here> 🚨 Nobody acknowledged the *{pieces.role(snap, event.data.get('role'))}* page "
        "and nobody is left to page. Can someone take this? `/incident ack`"
    )


def _unroutable_line(snap: IncidentSnapshot, event: EventView) -> str:
    return (
        f"⚠️ Nobody is on call as *{pieces.role(snap, event.data.get('role'))}*, "
        "so nobody was paged for that role."
    )


def _acknowledged_line(snap: IncidentSnapshot, event: EventView) -> str:
    role = event.data.get("role")
    as_role = f" as *{pieces.role(snap, role)}*" if role else ""
    return f"✅ {pieces.actor(event.actor)} acknowledged{as_role}"


def _note_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"📝 *Note* from {pieces.actor(event.actor)}\n{kit.quote(event.text)}"


def _status_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"📣 *Status update* from {pieces.actor(event.actor)}\n{kit.quote(event.text)}"


def _resolved_line(snap: IncidentSnapshot, event: EventView) -> str:
    summary = kit.quote(event.text) if event.text.strip() else "_No summary was given._"
    return f"🎉 *Resolved* by {pieces.actor(event.actor)}\n{summary}"


def _alert_resolved_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🟢 {kit.text(event.text, SECTION_TEXT - 10) or 'An alert resolved'}"


def _declared_line(snap: IncidentSnapshot, event: EventView) -> str:
    by = f" by {mention(event.actor)}" if event.actor else ""
    detail = f"\n{kit.text(event.text, 1000)}" if event.text.strip() else ""
    return f"🚨 *Incident declared*{by}: {pieces.title(snap.incident)}{detail}"


def _reopened_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🔄 *Reopened*: {kit.text(event.text, SECTION_TEXT - 20)}"


def _check_line(snap: IncidentSnapshot, event: EventView) -> str:
    mark = CHECK_MARK.get(str(event.data.get("outcome")), "🔎")
    return f"{mark} {kit.text(event.text, SECTION_TEXT - 10)}"


def _generic_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🕑 {kit.text(event.text, SECTION_TEXT - 10) or kit.text(event.kind, 40)}"


_EVENT_LINES: dict[str, Callable[[IncidentSnapshot, EventView], str]] = {
    "paged": _paged_line,
    "escalated": _escalated_line,
    "escalation_exhausted": _exhausted_line,
    "unroutable": _unroutable_line,
    "acknowledged": _acknowledged_line,
    "note": _note_line,
    "status": _status_line,
    "resolved": _resolved_line,
    "alert_resolved": _alert_resolved_line,
    "declared": _declared_line,
    "reopened": _reopened_line,
    "check_result": _check_line,
}
