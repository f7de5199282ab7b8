"""The incident card: the message pinned in the incident channel.

It is re-rendered from the snapshot after every change, so it always shows the current
state (status, who is paged, firing alerts, the steps) and offers the Acknowledge button
only until someone acknowledges.
"""

from __future__ import annotations

from bot.clock import as_utc
from bot.mrkdwn import channel_link, mention, truncate, ts
from bot.postmortem import Postmortem
from bot.postmortem import build as build_postmortem
from bot.render import kit, pieces, steps
from bot.render.kit import CARD_ALERTS, STATUS_TEXT, Block, Message
from bot.snapshot import IncidentSnapshot, IncidentView, PageView

ACK_INCIDENT_ACTION = "incident_ack"


def incident_card(snap: IncidentSnapshot) -> Message:
    """The pinned card in the incident channel; re-rendered after every change."""
    incident = snap.incident
    status = pieces.incident_status(snap)
    firing = pieces.sorted_firing(snap)
    # Resolved cards show the same MTTA/MTTR figures as the postmortem, from the timeline.
    figures = build_postmortem(snap) if status == "Resolved" else None
    fallback = f"{pieces.title(incident)} — {pieces.sev(incident.severity)} · {status}"
    return kit.message(
        fallback,
        [
            kit.header(pieces.title(incident)),
            _resolution_block(figures) if figures else None,
            kit.fields(_card_fields(snap, status, figures)),
            kit.section(_paged_text(snap)),
            kit.context(*[f"🔗 {link}" for link in pieces.links(incident.links)])
            if incident.links
            else None,
            _status_block(snap),
            kit.divider() if firing else None,
            *pieces.alert_blocks(firing, CARD_ALERTS, "Firing alerts"),
            kit.divider() if snap.steps else None,
            *_step_blocks(snap),
            _card_actions(incident) if status == "Open" else None,
            kit.context(
                f"Channel {channel_link(incident.channel_id, incident.channel_name)}",
                f"Playbook `{kit.text(incident.playbook_id, 80)}`",
            ),
        ],
    )


def _card_fields(
    snap: IncidentSnapshot, status: str, figures: Postmortem | None
) -> list[tuple[str, str]]:
    incident = snap.incident
    fields = [
        ("Severity", f"{pieces.sev_emoji(incident.severity)} {pieces.sev(incident.severity)}"),
        ("Status", status),
        ("Playbook", kit.text(incident.playbook_title, 200)),
        ("Opened", ts(incident.opened_at)),
        ("Alerts", f"{len(snap.firing)} firing / {len(snap.alerts)} total"),
    ]
    if figures:
        fields += [
            ("Resolved", ts(figures.resolved_at or incident.resolved_at or incident.opened_at)),
            ("Time to acknowledge", pieces.maybe_duration(figures.time_to_acknowledge)),
            ("Time to resolve", pieces.maybe_duration(figures.time_to_resolve)),
        ]
    return fields


def _resolution_block(figures: Postmortem) -> Block:
    by = f" by {mention(figures.resolved_by)}" if figures.resolved_by else ""
    summary = kit.quote(figures.summary) if figures.summary else "_No summary was given._"
    return kit.section(f"✅ *Resolved*{by}\n{summary}")


def _paged_text(snap: IncidentSnapshot) -> str:
    by_role: dict[str, list[PageView]] = {}
    for page in sorted(snap.pages, key=lambda p: (as_utc(p.sent_at), p.id)):
        by_role.setdefault(page.role, []).append(page)
    lines = [_role_line(pages) for pages in by_role.values()]
    for event in snap.events:
        role = str(event.data.get("role") or "")
        if event.kind == "unroutable" and role not in by_role:
            by_role[role] = []
            lines.append(f"• *{pieces.role(snap, role)}*: ⚠️ nobody on call")
    body = "\n".join(lines) if lines else "_Nobody has been paged._"
    return truncate(f"*Paged*\n{body}", 2000)


def _role_line(pages: list[PageView]) -> str:
    """One role's paging state: the acknowledgement if any, else the latest attempt."""
    latest = max(pages, key=lambda p: (p.attempt, as_utc(p.sent_at), p.id))
    name = f"*{kit.text(latest.role_name, 80)}*"
    acked = next((p for p in pages if p.state == "acknowledged" or p.acknowledged_at), None)
    if acked:
        when = f" {ts(acked.acknowledged_at)}" if acked.acknowledged_at else ""
        return (
            f"• {name}: ✅ acknowledged by {mention(acked.acknowledged_by or acked.user_id)}{when}"
        )
    if latest.user_id is None:
        return f"• {name}: ⚠️ nobody on call"
    who = mention(latest.user_id)
    attempt = f" (attempt {latest.attempt})" if latest.attempt > 1 else ""
    states = {
        "pending": f"⏳ {who} paged{attempt}, waiting until {ts(latest.ack_deadline)}",
        "escalated": f"↪️ {who} did not acknowledge in time; escalating",
        "exhausted": f"🚨 {who} did not acknowledge; nobody left to page",
        "cancelled": f"✖️ page to {who} cancelled",
    }
    return f"• {name}: {states.get(latest.state, f'{who}: {kit.text(latest.state, 40)}')}"


def _status_block(snap: IncidentSnapshot) -> Block | None:
    text = snap.incident.status_text
    if not text or not text.strip():
        return None
    update = next((e for e in reversed(snap.events) if e.kind == "status"), None)
    by = f" · {pieces.actor(update.actor)} {ts(update.at)}" if update else ""
    return kit.section(f"*Latest status*{by}\n{kit.quote(text, STATUS_TEXT)}")


def _step_blocks(snap: IncidentSnapshot) -> list[Block]:
    if not snap.steps:
        return []
    names = pieces.role_names(snap)
    lines = [steps.step_line(s, names) for s in sorted(snap.steps, key=lambda s: s.position)]
    lines[0] = f"*Playbook steps*\n{lines[0]}"
    return kit.line_sections(lines, 2, lambda n: f"…and {n} more steps")


def _card_actions(incident: IncidentView) -> Block:
    button = kit.button("Acknowledge", ACK_INCIDENT_ACTION, str(incident.id))
    return kit.actions(f"incident_actions_{incident.id}", button)
