"""Page DMs: what a paged person is sent, and the buttons to answer the page.

A page has to make sense on its own, away from the incident channel: what is wrong, why,
where to go, and until when to acknowledge. While the page still counts it carries its
buttons; afterwards the same DM, re-rendered, says what became of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.mrkdwn import channel_link, mention, ts
from bot.render import kit, pieces
from bot.render.kit import PAGE_ALERTS, Block, Message
from bot.snapshot import IncidentSnapshot, IncidentView, PageView

ACK_PAGE_ACTION = "page_ack"
ESCALATE_PAGE_ACTION = "page_escalate"
REASSIGN_PAGE_ACTION = "page_reassign"
REASSIGN_MODAL = "page_reassign_modal"


def page_message(snap: IncidentSnapshot, page: PageView) -> Message:
    """The direct message to a paged person: what, why, where, and a button while it counts."""
    incident = snap.incident
    role = kit.text(page.role_name, 80)
    fields = [
        ("Severity", f"{pieces.sev_emoji(incident.severity)} {pieces.sev(incident.severity)}"),
        ("Role", role),
        ("Channel", channel_link(incident.channel_id, incident.channel_name)),
        ("Paged", ts(page.sent_at) + (f" (attempt {page.attempt})" if page.attempt > 1 else "")),
    ]
    return kit.message(
        f"📟 Paged as {role}: {pieces.title(incident)} ({pieces.sev(incident.severity)})",
        [
            kit.section(f"📟 *You are paged as {role}*\n*{pieces.title(incident)}*"),
            kit.fields(fields),
            *(
                pieces.alert_blocks(pieces.sorted_firing(snap), PAGE_ALERTS, "Why: firing alerts")
                or [_why(snap)]
            ),
            *_page_state_blocks(snap, page),
        ],
    )


# One DM shows at most this many pages: a heading plus three blocks each stays within
# Slack's 50 blocks a message; the rest go in the next DM.
PAGES_PER_DM = 15
PAGE_TEXT_TITLE = 120  # per incident in the fallback text, so all fit in FALLBACK_TEXT


def pages_message(pages: Sequence[tuple[IncidentSnapshot, PageView]]) -> Message:
    """Several pages to one person in one DM (an alert storm): each with its own buttons.

    Phones show only the fallback text, so it names every incident.
    """
    if len(pages) == 1:
        return page_message(*pages[0])
    shown = pages[:PAGES_PER_DM]
    names = "; ".join(_page_text_title(snap.incident) for snap, _ in shown)
    return kit.message(
        f"📟 Paged for {len(shown)} incidents: {names}",
        [
            kit.section(f"📟 *You are paged for {len(shown)} incidents*"),
            *(block for snap, page in shown for block in _page_summary_blocks(snap, page)),
        ],
    )


def _page_text_title(incident: IncidentView) -> str:
    title = kit.text(incident.title, PAGE_TEXT_TITLE)
    return f"#{incident.number} {title} ({pieces.sev(incident.severity)})"


def _page_summary_blocks(snap: IncidentSnapshot, page: PageView) -> list[Block]:
    """One page in a combined DM: the incident, the role, where, and its own buttons."""
    incident = snap.incident
    attempt = f" (attempt {page.attempt})" if page.attempt > 1 else ""
    where = channel_link(incident.channel_id, incident.channel_name)
    line = (
        f"*{pieces.title(incident)}* · {pieces.sev(incident.severity)}\n"
        f"as {kit.text(page.role_name, 80)} · {where} · paged {ts(page.sent_at)}{attempt}"
    )
    return [kit.section(line), *_page_state_blocks(snap, page)]


def _page_state_blocks(snap: IncidentSnapshot, page: PageView) -> list[Block]:
    """The button while the page still counts; afterwards, what became of it."""
    if page.state != "pending":
        return [kit.section(_page_outcome(snap, page))]
    deadline = f"Acknowledge by {ts(page.ack_deadline)}, or the next person on call is paged."
    buttons = [
        kit.button("Acknowledge", ACK_PAGE_ACTION, str(page.id)),
        kit.button("Escalate now", ESCALATE_PAGE_ACTION, str(page.id), style=None),
        kit.button("Reassign…", REASSIGN_PAGE_ACTION, str(page.id), style=None),
    ]
    return [kit.context(deadline), kit.actions(f"page_actions_{page.id}", *buttons)]


def _why(snap: IncidentSnapshot) -> Block:
    if snap.incident.declared_by:
        return kit.section(f"*Why*\nDeclared by hand by {mention(snap.incident.declared_by)}.")
    return kit.section("*Why*\nNo alert is firing any more.")


def _page_outcome(snap: IncidentSnapshot, page: PageView) -> str:
    if page.state == "acknowledged" or page.acknowledged_at:
        when = f" {ts(page.acknowledged_at)}" if page.acknowledged_at else ""
        return f"✅ Acknowledged by {mention(page.acknowledged_by or page.user_id)}{when}."
    if page.state == "escalated":
        return "↪️ Not acknowledged in time; the next person on call was paged."
    if page.state == "exhausted":
        return "🚨 Not acknowledged in time, and nobody was left to page."
    if page.state == "cancelled":
        return f"✖️ Page cancelled: {_cancel_reason(snap, page)}."
    return f"🕑 Page {kit.text(page.state, 40)}."


def _cancel_reason(snap: IncidentSnapshot, page: PageView) -> str:
    if snap.incident.status == "resolved":
        return "the incident was resolved"
    ack = next((e for e in snap.events if e.kind == "acknowledged" and e.actor), None)
    if ack:
        return f"{mention(ack.actor)} acknowledged the incident"
    return "nobody needs to answer it any more"


def reassign_modal(page: PageView, incident_number: int) -> dict[str, Any]:
    """Hand a page to someone else: pick the person in Slack's own user picker."""
    return kit.modal(
        REASSIGN_MODAL,
        str(page.id),
        f"Reassign (#{incident_number})",
        "Page them",
        [
            kit.section(f"Who should take the *{kit.text(page.role_name, 80)}* page instead?"),
            kit.input("user", "Person", {"type": "users_select", "action_id": "user"}),
        ],
    )
