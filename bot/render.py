"""Block Kit messages, built by pure functions from snapshots (DESIGN rule 6).

This is the one place Slack payload dicts are made. Every builder takes frozen snapshot
data and returns ``{"text": …, "blocks": […]}``, so it can be tested without Slack and
re-run at any time to refresh a message. Two invariants hold for every message:

* untrusted text (alert names, summaries, labels, titles, notes, status text) goes
  through ``mrkdwn.escape`` before it meets any markup, so it can never mention
  ``@channel`` or disguise a link; only Warroom's own text carries ``<…>`` tokens;
* every piece is cut to Slack's limits (PLATFORM-NOTES §A5), and ``_fit`` keeps the
  whole message under the block count and total size, dropping the least important
  blocks last in the list but never the Acknowledge button.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict

from bot import mrkdwn
from bot.clock import as_utc
from bot.mrkdwn import channel_link, escape, mention, truncate, ts
from bot.postmortem import Postmortem
from bot.postmortem import build as build_postmortem
from bot.related import Related
from bot.snapshot import (
    AlertView,
    EventView,
    FollowupView,
    IncidentSnapshot,
    IncidentView,
    OncallRow,
    PageView,
    SilenceView,
    StepView,
)

Block = dict[str, Any]


class Message(TypedDict):
    """What ``chat.postMessage`` / ``chat.update`` take: fallback text plus blocks."""

    text: str
    blocks: list[Block]


# Slack's limits (PLATFORM-NOTES §A5).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
FIELD_TEXT = 2000
MAX_FIELDS = 10
BUTTON_TEXT = 75
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
MESSAGE_CHARS = 12_000  # undocumented total cap (`msg_blocks_too_long` at ~13k)
FALLBACK_TEXT = 3000  # Slack allows 40k, but notifications show only the start

# Warroom's own budgets, tighter than Slack's so one long field cannot crowd out the rest.
TITLE_TEXT = 150
ALERT_NAME = 150
ALERT_SUMMARY = 400
ALERT_SECTION = 1000
LABEL_TEXT = 80
LABELS_PER_ALERT = 4
LINKS_PER_ALERT = 3
STATUS_TEXT = 1500
QUOTE_TEXT = 2800
STEP_TITLE = 200
CARD_ALERTS = 5
PAGE_ALERTS = 3

SEV_EMOJI: dict[str, str] = {"sev1": "🔴", "sev2": "🟠", "sev3": "🟡", "sev4": "🔵"}
UNKNOWN_SEV_EMOJI = "⚪"
STEP_MARK: dict[str, str] = {"pending": "☐", "done": "☑", "skipped": "⏭"}

ACK_INCIDENT_ACTION = "incident_ack"
ACK_PAGE_ACTION = "page_ack"
ESCALATE_PAGE_ACTION = "page_escalate"
REASSIGN_PAGE_ACTION = "page_reassign"
REASSIGN_MODAL = "page_reassign_modal"

_SHORTENED_NOTE = "✂️ Shortened to fit Slack's limits; the full record is in the timeline."
_IGNORED_LABELS = frozenset({"alertname", "severity", "__name__"})
_PREFERRED_LABELS = (
    "model",
    "service",
    "job",
    "namespace",
    "env",
    "environment",
    "cluster",
    "instance",
)
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


# --- Block primitives: each one enforces its own Slack limit -------------------------------


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    """A mrkdwn text object; ``verbatim`` stops Slack from auto-linking untrusted text."""
    return {"type": "mrkdwn", "text": truncate(text, limit) or "—", "verbatim": True}


def _header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT) or "—", "emoji": True},
    }


def _section(text: str, limit: int = SECTION_TEXT) -> Block:
    return {"type": "section", "text": _mrkdwn(text, min(limit, SECTION_TEXT))}


def _fields(pairs: Sequence[tuple[str, str]]) -> Block:
    fields = [_mrkdwn(f"*{label}*\n{value}", FIELD_TEXT) for label, value in pairs]
    return {"type": "section", "fields": fields[:MAX_FIELDS]}


def _context(*parts: str) -> Block:
    elements = [_mrkdwn(part, CONTEXT_TEXT) for part in parts if part]
    return {"type": "context", "elements": elements[:CONTEXT_ELEMENTS] or [_mrkdwn("—", 1)]}


def _divider() -> Block:
    return {"type": "divider"}


def _button(
    label: str, action_id: str, value: str, style: str | None = "primary"
) -> dict[str, Any]:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(label, BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    return button | ({"style": style} if style else {})


def _actions(block_id: str, *buttons: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def _chars(node: object) -> int:
    """Characters of text a message carries, as Slack's total-size cap counts them."""
    if isinstance(node, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else _chars(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return sum(_chars(item) for item in node)
    return 0


def _fit(blocks: list[Block]) -> list[Block]:
    """Keep a message within 50 blocks and ~12k characters.

    Builders list blocks most important first, so the tail is dropped; headers and action
    blocks are always kept, because a card without its Acknowledge button is worse than a
    card without its step list.
    """
    note = _context(_SHORTENED_NOTE)
    kept_always = [b for b in blocks if b["type"] in ("header", "actions")]
    chars_left = MESSAGE_CHARS - _chars(kept_always) - _chars(note)
    blocks_left = MAX_BLOCKS - len(kept_always) - 1
    if len(blocks) <= MAX_BLOCKS and _chars(blocks) <= MESSAGE_CHARS:
        return blocks
    fitted: list[Block] = []
    overflowing = False
    for block in blocks:
        if block["type"] in ("header", "actions"):
            fitted.append(block)
            continue
        size = _chars(block)
        if overflowing or size > chars_left or blocks_left <= 0:
            overflowing = True
            continue
        fitted.append(block)
        chars_left -= size
        blocks_left -= 1
    return [*fitted, note]


def _message(text: str, blocks: Iterable[Block | None]) -> Message:
    """Assemble a message; ``None`` entries are optional blocks that were not needed."""
    present = [block for block in blocks if block is not None]
    return {"text": truncate(text, FALLBACK_TEXT) or "—", "blocks": _fit(present)}


def _line_sections(
    lines: Sequence[str], max_sections: int, more: Callable[[int], str]
) -> list[Block]:
    """Pack lines into as few sections as fit, with an "and N more" note for the rest."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        line = truncate(line, SECTION_TEXT)
        if len("\n".join([*chunks[-1], line])) > SECTION_TEXT:
            chunks.append([])
        chunks[-1].append(line)
    shown = [chunk for chunk in chunks[:max_sections] if chunk]
    blocks = [_section("\n".join(chunk)) for chunk in shown]
    hidden = len(lines) - sum(len(chunk) for chunk in shown)
    if hidden:
        blocks.append(_context(more(hidden)))
    return blocks


def _quote(text: str, limit: int = QUOTE_TEXT) -> str:
    """Untrusted multi-line text as a mrkdwn block quote (the ``>`` is ours, not theirs)."""
    escaped = truncate(escape(text.strip()), limit)
    return "\n".join(f">{line}" for line in escaped.splitlines()) or ">_(empty)_"


def _text(value: str, limit: int) -> str:
    """Untrusted single-line text: escaped, then cut (so entities are never split)."""
    return truncate(escape(" ".join(value.split())), limit)


# --- Shared pieces of incident rendering ---------------------------------------------------


def sev_emoji(severity: str) -> str:
    return SEV_EMOJI.get(severity.lower(), UNKNOWN_SEV_EMOJI)


def _sev(severity: str) -> str:
    return _text(severity.upper(), 20)


def _title(incident: IncidentView) -> str:
    return f"{sev_emoji(incident.severity)} #{incident.number} {_text(incident.title, TITLE_TEXT)}"


def _actor(user_id: str | None) -> str:
    """Who did something; ``None`` on the timeline means Warroom itself."""
    return mention(user_id) if user_id else "Warroom"


def incident_status(snap: IncidentSnapshot) -> str:
    """Open, Acknowledged or Resolved, from every trace an acknowledgement leaves."""
    if snap.incident.status == "resolved":
        return "Resolved"
    acknowledged = (
        snap.incident.acknowledged_at is not None
        or any(p.state == "acknowledged" or p.acknowledged_at for p in snap.pages)
        or any(e.kind == "acknowledged" for e in snap.events)
    )
    return "Acknowledged" if acknowledged else "Open"


def _role_names(snap: IncidentSnapshot) -> dict[str, str]:
    return {page.role: page.role_name for page in snap.pages}


def _role(snap: IncidentSnapshot, role: object) -> str:
    """A role's display name (known from its pages), else its escaped ID."""
    key = str(role or "")
    return _text(_role_names(snap).get(key, key) or "unknown role", 80)


def _sorted_firing(snap: IncidentSnapshot) -> list[AlertView]:
    return sorted(snap.firing, key=lambda a: (as_utc(a.starts_at), a.id))


def _key_labels(labels: Mapping[str, str]) -> list[str]:
    """The few labels that tell alerts apart; the rest is noise in a card."""
    keys = [k for k in labels if k not in _IGNORED_LABELS]
    keys.sort(key=lambda k: (_PREFERRED_LABELS.index(k) if k in _PREFERRED_LABELS else 99, k))
    return [_code(f"{key}={labels[key]}") for key in keys[:LABELS_PER_ALERT]]


def _code(value: str) -> str:
    return "`" + _text(value.replace("`", "'"), LABEL_TEXT) + "`"


def _links(links: Mapping[str, str]) -> list[str]:
    """Runbook and dashboard links; only plain http(s) URLs, labelled by their key."""
    shown = []
    for name, url in links.items():
        label = _text(name, 40).replace("|", "")
        if _SAFE_URL.match(url) and label:
            shown.append(f"<{escape(url)}|{label}>")
    return shown[:LINKS_PER_ALERT]


def _alert_text(alert: AlertView) -> str:
    line = f"*{_text(alert.name, ALERT_NAME)}*"
    if alert.flapping:
        line += " 🔁 _flapping, not re-paging_"
    if alert.summary.strip():
        line += " — " + _text(alert.summary, ALERT_SUMMARY)
    extras = _key_labels(alert.labels) + _links(alert.links)
    if extras:
        line += "\n" + " ".join(extras)
    return line


def _alert_blocks(alerts: Sequence[AlertView], limit: int, heading: str) -> list[Block]:
    if not alerts:
        return []
    blocks = [_section(f"*{heading}* ({len(alerts)})")]
    blocks += [_section(_alert_text(alert), ALERT_SECTION) for alert in alerts[:limit]]
    if len(alerts) > limit:
        blocks.append(_context(f"…and {len(alerts) - limit} more firing alerts"))
    return blocks


# --- Incident card -------------------------------------------------------------------------


def incident_card(snap: IncidentSnapshot) -> Message:
    """The pinned card in the incident channel; re-rendered after every change."""
    incident = snap.incident
    status = incident_status(snap)
    firing = _sorted_firing(snap)
    # Resolved cards show the same MTTA/MTTR figures as the postmortem, from the timeline.
    figures = build_postmortem(snap) if status == "Resolved" else None
    fallback = f"{_title(incident)} — {_sev(incident.severity)} · {status}"
    return _message(
        fallback,
        [
            _header(_title(incident)),
            _resolution_block(figures) if figures else None,
            _fields(_card_fields(snap, status, figures)),
            _section(_paged_text(snap)),
            _context(*[f"🔗 {link}" for link in _links(incident.links)])
            if incident.links
            else None,
            _status_block(snap),
            _divider() if firing else None,
            *_alert_blocks(firing, CARD_ALERTS, "Firing alerts"),
            _divider() if snap.steps else None,
            *_step_blocks(snap),
            _card_actions(incident) if status == "Open" else None,
            _context(
                f"Channel {channel_link(incident.channel_id, incident.channel_name)}",
                f"Playbook `{_text(incident.playbook_id, 80)}`",
            ),
        ],
    )


def _card_fields(
    snap: IncidentSnapshot, status: str, figures: Postmortem | None
) -> list[tuple[str, str]]:
    incident = snap.incident
    fields = [
        ("Severity", f"{sev_emoji(incident.severity)} {_sev(incident.severity)}"),
        ("Status", status),
        ("Playbook", _text(incident.playbook_title, 200)),
        ("Opened", ts(incident.opened_at)),
        ("Alerts", f"{len(snap.firing)} firing / {len(snap.alerts)} total"),
    ]
    if figures:
        fields += [
            ("Resolved", ts(figures.resolved_at or incident.resolved_at or incident.opened_at)),
            ("Time to acknowledge", _maybe_duration(figures.time_to_acknowledge)),
            ("Time to resolve", _maybe_duration(figures.time_to_resolve)),
        ]
    return fields


def _maybe_duration(value: timedelta | None) -> str:
    return mrkdwn.duration(value) if value is not None else "—"


def _resolution_block(figures: Postmortem) -> Block:
    by = f" by {mention(figures.resolved_by)}" if figures.resolved_by else ""
    summary = _quote(figures.summary) if figures.summary else "_No summary was given._"
    return _section(f"✅ *Resolved*{by}\n{summary}")


def _paged_text(snap: IncidentSnapshot) -> str:
    by_role: dict[str, list[PageView]] = {}
    for page in sorted(snap.pages, key=lambda p: (as_utc(p.sent_at), p.id)):
        by_role.setdefault(page.role, []).append(page)
    lines = [_role_line(pages) for pages in by_role.values()]
    for event in snap.events:
        role = str(event.data.get("role") or "")
        if event.kind == "unroutable" and role not in by_role:
            by_role[role] = []
            lines.append(f"• *{_role(snap, role)}*: ⚠️ nobody on call")
    body = "\n".join(lines) if lines else "_Nobody has been paged._"
    return truncate(f"*Paged*\n{body}", 2000)


def _role_line(pages: list[PageView]) -> str:
    """One role's paging state: the acknowledgement if any, else the latest attempt."""
    latest = max(pages, key=lambda p: (p.attempt, as_utc(p.sent_at), p.id))
    name = f"*{_text(latest.role_name, 80)}*"
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
    return f"• {name}: {states.get(latest.state, f'{who}: {_text(latest.state, 40)}')}"


def _status_block(snap: IncidentSnapshot) -> Block | None:
    text = snap.incident.status_text
    if not text or not text.strip():
        return None
    update = next((e for e in reversed(snap.events) if e.kind == "status"), None)
    by = f" · {_actor(update.actor)} {ts(update.at)}" if update else ""
    return _section(f"*Latest status*{by}\n{_quote(text, STATUS_TEXT)}")


def _step_blocks(snap: IncidentSnapshot) -> list[Block]:
    if not snap.steps:
        return []
    names = _role_names(snap)
    lines = []
    for step in sorted(snap.steps, key=lambda s: s.position):
        line = (
            f"{STEP_MARK.get(step.state, '☐')} {step.position + 1}. {_text(step.title, STEP_TITLE)}"
        )
        if step.role:
            line += f" · _{_text(names.get(step.role, step.role), 80)}_"
        if step.state != "pending" and step.done_by:
            line += f" · {mention(step.done_by)}"
        lines.append(line)
    lines[0] = f"*Playbook steps*\n{lines[0]}"
    return _line_sections(lines, 2, lambda n: f"…and {n} more steps")


def _card_actions(incident: IncidentView) -> Block:
    button = _button("Acknowledge", ACK_INCIDENT_ACTION, str(incident.id))
    return _actions(f"incident_actions_{incident.id}", button)


# --- The page DM ---------------------------------------------------------------------------


def page_message(snap: IncidentSnapshot, page: PageView) -> Message:
    """The direct message to a paged person: what, why, where, and a button while it counts."""
    incident = snap.incident
    role = _text(page.role_name, 80)
    fields = [
        ("Severity", f"{sev_emoji(incident.severity)} {_sev(incident.severity)}"),
        ("Role", role),
        ("Channel", channel_link(incident.channel_id, incident.channel_name)),
        ("Paged", ts(page.sent_at) + (f" (attempt {page.attempt})" if page.attempt > 1 else "")),
    ]
    return _message(
        f"📟 Paged as {role}: {_title(incident)} ({_sev(incident.severity)})",
        [
            _section(f"📟 *You are paged as {role}*\n*{_title(incident)}*"),
            _fields(fields),
            *(
                _alert_blocks(_sorted_firing(snap), PAGE_ALERTS, "Why: firing alerts")
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
    return _message(
        f"📟 Paged for {len(shown)} incidents: {names}",
        [
            _section(f"📟 *You are paged for {len(shown)} incidents*"),
            *(block for snap, page in shown for block in _page_summary_blocks(snap, page)),
        ],
    )


def _page_text_title(incident: IncidentView) -> str:
    title = _text(incident.title, PAGE_TEXT_TITLE)
    return f"#{incident.number} {title} ({_sev(incident.severity)})"


def _page_summary_blocks(snap: IncidentSnapshot, page: PageView) -> list[Block]:
    """One page in a combined DM: the incident, the role, where, and its own buttons."""
    incident = snap.incident
    attempt = f" (attempt {page.attempt})" if page.attempt > 1 else ""
    where = channel_link(incident.channel_id, incident.channel_name)
    line = (
        f"*{_title(incident)}* · {_sev(incident.severity)}\n"
        f"as {_text(page.role_name, 80)} · {where} · paged {ts(page.sent_at)}{attempt}"
    )
    return [_section(line), *_page_state_blocks(snap, page)]


def _page_state_blocks(snap: IncidentSnapshot, page: PageView) -> list[Block]:
    """The button while the page still counts; afterwards, what became of it."""
    if page.state != "pending":
        return [_section(_page_outcome(snap, page))]
    deadline = f"Acknowledge by {ts(page.ack_deadline)}, or the next person on call is paged."
    buttons = [
        _button("Acknowledge", ACK_PAGE_ACTION, str(page.id)),
        _button("Escalate now", ESCALATE_PAGE_ACTION, str(page.id), style=None),
        _button("Reassign…", REASSIGN_PAGE_ACTION, str(page.id), style=None),
    ]
    return [_context(deadline), _actions(f"page_actions_{page.id}", *buttons)]


def _why(snap: IncidentSnapshot) -> Block:
    if snap.incident.declared_by:
        return _section(f"*Why*\nDeclared by hand by {mention(snap.incident.declared_by)}.")
    return _section("*Why*\nNo alert is firing any more.")


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
    return f"🕑 Page {_text(page.state, 40)}."


def _cancel_reason(snap: IncidentSnapshot, page: PageView) -> str:
    if snap.incident.status == "resolved":
        return "the incident was resolved"
    ack = next((e for e in snap.events if e.kind == "acknowledged" and e.actor), None)
    if ack:
        return f"{mention(ack.actor)} acknowledged the incident"
    return "nobody needs to answer it any more"


# --- Timeline events in the channel --------------------------------------------------------


KEEP_OPEN_ACTION = "incident_keep_open"


def event_message(snap: IncidentSnapshot, event: EventView) -> Message:
    """One timeline event as a channel message, worded by its kind."""
    line = _EVENT_LINES.get(event.kind, _generic_line)(snap, event)
    return _message(
        line,
        [_section(line), _keep_open(snap, event), _context(_actor(event.actor), ts(event.at))],
    )


def _keep_open(snap: IncidentSnapshot, event: EventView) -> Block | None:
    """A way to object to an automatic resolution, on the message that announces it."""
    when = event.data.get("auto_resolve_at")
    if event.kind != "alert_resolved" or not isinstance(when, str):
        return None
    at = ts(datetime.fromisoformat(when))
    button = _button("Keep open", KEEP_OPEN_ACTION, str(snap.incident.id), style=None)
    return {
        "type": "section",
        "text": _mrkdwn(
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
    role = _role(snap, event.data.get("role"))
    return f"📟 Paged {_data_user(event, 'user_id')} as *{role}*{suffix}"


def _escalated_line(snap: IncidentSnapshot, event: EventView) -> str:
    return (
        f"↪️ {_data_user(event, 'from_user')} did not acknowledge in time; "
        f"paging {_data_user(event, 'to_user')} as *{_role(snap, event.data.get('role'))}*"
    )


def _exhausted_line(snap: IncidentSnapshot, event: EventView) -> str:
    # <!here> is Warroom's own text: the one deliberate channel-wide alarm.
    return (
        f"<!here> 🚨 Nobody acknowledged the *{_role(snap, event.data.get('role'))}* page "
        "and nobody is left to page. Can someone take this? `/incident ack`"
    )


def _unroutable_line(snap: IncidentSnapshot, event: EventView) -> str:
    return (
        f"⚠️ Nobody is on call as *{_role(snap, event.data.get('role'))}*, "
        "so nobody was paged for that role."
    )


def _acknowledged_line(snap: IncidentSnapshot, event: EventView) -> str:
    role = event.data.get("role")
    as_role = f" as *{_role(snap, role)}*" if role else ""
    return f"✅ {_actor(event.actor)} acknowledged{as_role}"


def _note_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"📝 *Note* from {_actor(event.actor)}\n{_quote(event.text)}"


def _status_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"📣 *Status update* from {_actor(event.actor)}\n{_quote(event.text)}"


def _resolved_line(snap: IncidentSnapshot, event: EventView) -> str:
    summary = _quote(event.text) if event.text.strip() else "_No summary was given._"
    return f"🎉 *Resolved* by {_actor(event.actor)}\n{summary}"


def _alert_resolved_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🟢 {_text(event.text, SECTION_TEXT - 10) or 'An alert resolved'}"


def _declared_line(snap: IncidentSnapshot, event: EventView) -> str:
    by = f" by {mention(event.actor)}" if event.actor else ""
    detail = f"\n{_text(event.text, 1000)}" if event.text.strip() else ""
    return f"🚨 *Incident declared*{by}: {_title(snap.incident)}{detail}"


def _reopened_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🔄 *Reopened*: {_text(event.text, SECTION_TEXT - 20)}"


def _check_line(snap: IncidentSnapshot, event: EventView) -> str:
    mark = CHECK_MARK.get(str(event.data.get("outcome")), "🔎")
    return f"{mark} {_text(event.text, SECTION_TEXT - 10)}"


def _generic_line(snap: IncidentSnapshot, event: EventView) -> str:
    return f"🕑 {_text(event.text, SECTION_TEXT - 10) or _text(event.kind, 40)}"


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


# --- Slash-command replies -----------------------------------------------------------------


_HELP_COMMANDS = (
    ("help", "show this list"),
    ("declare <title>", "open an incident by hand, with its own channel"),
    ("list", "show the open incidents"),
    ("ack", "acknowledge the incident: you are on it, escalation stops"),
    ("note <text>", "add a note to the timeline"),
    ("status <text>", "post a status update for everyone following"),
    ("resolve [summary]", "resolve the incident; the summary goes into the postmortem"),
    ("steps", "show the playbook's checklist and where the incident is in it"),
    ("postmortem", "show the postmortem draft built from the timeline"),
    (
        "silence <matchers> <duration> [reason]",
        "keep matching alerts from paging, e.g. during maintenance",
    ),
    ("silences", "list active silences, with Unsilence buttons"),
    ("mitigated [text]", "the impact has stopped, though the cause may remain"),
    ("severity <sev1-4>", "change the severity"),
    ("assign <role> @user", "give someone a role, e.g. incident-commander"),
    ("timeline", "show the latest timeline entries; 📌 a message to add it"),
    ("remove <entry number>", "take an entry you added out of the timeline"),
    ("followup <text> [@owner] [YYYY-MM-DD]", "record a follow-up action"),
    ("followups", "open follow-ups across incidents"),
    ("stats [30d]", "incident count, MTTA, MTTR by severity, playbook and role"),
    ("page <role> [message]", "page another role into this incident"),
    ("oncall [role]", "who is on call now and next, and the role's MTTA"),
    ("override <role> @user <14h | until 08:00>", "cover a role for a while"),
    ("reload", "admins: re-read playbooks and the on-call file"),
)


def help_text() -> str:
    """The reply to ``/incident help`` (mrkdwn; ``<title>`` is escaped so it stays text)."""
    lines = [f"• `/incident {escape(usage)}`: {escape(what)}" for usage, what in _HELP_COMMANDS]
    return "\n".join(
        [
            "*Warroom: `/incident` commands*",
            *lines,
            "",
            "Inside an incident channel, commands apply to that incident. Anywhere else, name "
            "the incident by its number, for example `/incident note #12 text`.",
        ]
    )


def incident_list(incidents: Sequence[IncidentView], now: datetime | None = None) -> Message:
    """The reply to ``/incident list``: open incidents, worst first.

    ``now`` makes ages exact text ("12m ago"); without it Slack renders a live relative date,
    which keeps this function free of a clock.
    """
    open_incidents = sorted(
        (i for i in incidents if i.status != "resolved"),
        key=lambda i: (i.severity, as_utc(i.opened_at)),
    )
    if not open_incidents:
        return _message("No open incidents.", [_section("✅ No open incidents.")])
    lines = [_list_line(incident, now) for incident in open_incidents]
    count = len(open_incidents)
    return _message(
        f"{count} open incident{'s' if count != 1 else ''}",
        [
            _section(f"*Open incidents ({count})*"),
            *_line_sections(lines, 20, lambda n: f"…and {n} more open incidents"),
        ],
    )


def _list_line(incident: IncidentView, now: datetime | None) -> str:
    if now is None:
        age = mrkdwn.ago(incident.opened_at)
    else:
        age = mrkdwn.duration(as_utc(now) - as_utc(incident.opened_at)) + " ago"
    return (
        f"{_title(incident)} · {_sev(incident.severity)} · "
        f"{channel_link(incident.channel_id, incident.channel_name)} · opened {age}"
    )


# --- Console mode ---------------------------------------------------------------------------


_TOKEN = re.compile(r"<([^<>]*)>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONSOLE_LINE = 200
CONSOLE_LINES = 4


def console_line(method: str, params: Mapping[str, Any]) -> str:
    """A readable rendering of a Web API call for console mode (no ``SLACK_BOT_TOKEN``)."""
    target = _console_target(params.get("channel") or params.get("users"))
    text = _console_text(params.get("text"))
    describe: dict[str, Callable[[], str]] = {
        "chat.postMessage": lambda: f"{target} ← {text}",
        "chat.update": lambda: f"{target} (update {params.get('ts', '?')}) ← {text}",
        "chat.postEphemeral": lambda: f"{target} (only {params.get('user', '?')} sees it) ← {text}",
        "conversations.create": lambda: f"create channel #{_console_text(params.get('name'))}",
        "conversations.invite": lambda: f"invite {params.get('users', '?')} to {target}",
        "conversations.setTopic": lambda: f"{target} topic ← {_console_text(params.get('topic'))}",
        "conversations.setPurpose": lambda: (
            f"{target} purpose ← {_console_text(params.get('purpose'))}"
        ),
        "conversations.open": lambda: f"open DM with {params.get('users', '?')}",
        "conversations.archive": lambda: f"archive {target}",
        "pins.add": lambda: f"pin {params.get('timestamp', '?')} in {target}",
    }
    line = describe[method]() if method in describe else _console_generic(method, params)
    return f"[slack] {line}"


def _console_target(value: object) -> str:
    if not value:
        return "?"
    target = _CONTROL.sub("", str(value))
    if mrkdwn.is_user_id(target):
        return f"DM {target}"
    if re.match(r"^[CGD][A-Z0-9]{2,}$", target) or target.startswith("#"):
        return target
    return f"#{target}"


def _console_text(value: object) -> str:
    """Slack markup made readable: tokens to their labels, entities decoded, few lines."""
    if value is None:
        return ""
    text = _TOKEN.sub(lambda m: _console_token(m.group(1)), str(value))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = _CONTROL.sub("", text).strip().splitlines() or [""]
    shown = [truncate(line, CONSOLE_LINE) for line in lines[:CONSOLE_LINES]]
    if len(lines) > CONSOLE_LINES:
        shown.append("…")
    return "\n    ".join(shown)


def _console_token(token: str) -> str:
    body, _, label = token.partition("|")
    if body.startswith("@"):
        return body
    if body.startswith("#"):
        return f"#{label}" if label else body
    if body.startswith("!date"):
        return label or body
    if body.startswith("!"):
        return "@" + body[1:]
    return f"{label} ({body})" if label else body


def _console_generic(method: str, params: Mapping[str, Any]) -> str:
    scalars = [
        f"{key}={_console_text(value)}"
        for key, value in params.items()
        if isinstance(value, str | int | float | bool) and key != "text"
    ]
    return " ".join([method, *scalars])


# --- The playbook checklist ----------------------------------------------------------------

STEP_DONE_ACTION = "step_done"
STEP_SKIP_ACTION = "step_skip"
STEP_CHECK_ACTION = "step_check"
SKIP_MODAL = "step_skip_modal"
CHECK_MARK = {"pass": "✅", "fail": "❌", "error": "⚠️"}
STEP_DETAILS = 1800


def steps_message(snap: IncidentSnapshot, *, interactive: bool = True) -> Message:
    """The checklist: every step with its state, the current one expanded with its buttons."""
    current = snap.current_step
    names = _role_names(snap)
    title = f"Playbook steps: {snap.incident.playbook_title}"
    blocks: list[Block | None] = [_section(f"*{_text(title, STEP_TITLE)}*")]
    for step in sorted(snap.steps, key=lambda s: s.position):
        if current is not None and step.id == current.id:
            blocks += _current_step_blocks(
                step, names, interactive and snap.incident.status == "open"
            )
        else:
            blocks.append(_context(_step_line(step, names)))
    done = sum(s.state != "pending" for s in snap.steps)
    if current is None and snap.steps:
        blocks.append(_section("🎉 Every step is done."))
    fallback = f"Incident #{snap.incident.number}: {done} of {len(snap.steps)} steps done"
    return _message(fallback, blocks)


def _step_line(step: StepView, names: Mapping[str, str]) -> str:
    line = (
        f"{STEP_MARK.get(step.state, '☐')} *{step.position + 1}.* {_text(step.title, STEP_TITLE)}"
    )
    if step.role:
        line += f" · _{_text(names.get(step.role, step.role), 80)}_"
    if step.state != "pending" and step.done_by:
        line += f" · {mention(step.done_by)}"
    if step.note:
        line += f" · skipped: {_text(step.note, 300)}"
    if step.check_outcome:
        line += f" · {CHECK_MARK.get(step.check_outcome, '')} check {step.check_outcome}"
    return line


def _current_step_blocks(
    step: StepView, names: Mapping[str, str], interactive: bool
) -> list[Block]:
    role = f" · _{_text(names.get(step.role, step.role), 80)}_" if step.role else ""
    text = f"▶️ *{step.position + 1}. {_text(step.title, STEP_TITLE)}*{role}"
    if step.details.strip():
        text += "\n" + truncate(escape(step.details.strip()), STEP_DETAILS)
    blocks = [_section(text)]
    if step.check:
        result = "_not run yet_"
        if step.check_outcome:
            mark = CHECK_MARK.get(step.check_outcome, "")
            result = f"{mark} *{step.check_outcome}*: {_text(step.check_detail or '', 600)}"
        blocks.append(_context(f"🔎 Check: {_text(step.check, 300)}", result))
    if interactive:
        buttons = [
            _button("Done", STEP_DONE_ACTION, str(step.id)),
            _button("Skip…", STEP_SKIP_ACTION, str(step.id), style=None),
        ]
        if step.check:
            buttons.append(_button("Run check", STEP_CHECK_ACTION, str(step.id), style=None))
        blocks.append(_actions(f"step_actions_{step.id}", *buttons))
    return blocks


def skip_modal(step: StepView, incident_number: int) -> dict[str, Any]:
    """The modal that asks why a step is skipped (the reason goes on the timeline)."""
    reason = {
        "type": "plain_text_input",
        "action_id": "reason",
        "multiline": True,
        "max_length": 1000,
    }
    return _modal(
        SKIP_MODAL,
        str(step.id),
        f"Skip a step (#{incident_number})",
        "Skip step",
        [
            _section(f"*{step.position + 1}. {_text(step.title, STEP_TITLE)}*"),
            _input("reason", "Why skip it?", reason),
        ],
    )


def _modal(
    callback_id: str, metadata: str, title: str, submit: str, blocks: list[Block]
) -> dict[str, Any]:
    """A modal view; the title is cut to Slack's 24 characters."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _input(block_id: str, label: str, element: dict[str, Any]) -> Block:
    """An input whose value arrives as ``state.values[block_id][block_id]``."""
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }


# --- Silences ------------------------------------------------------------------------------

UNSILENCE_ACTION = "silence_end"


def silence_list(items: Sequence[SilenceView]) -> Message:
    """``/incident silences``: what is silenced, until when, by whom, with Unsilence buttons."""
    if not items:
        return _message("No active silences.", [_section("🔔 No active silences.")])
    blocks: list[Block | None] = [_section(f"*🔕 {len(items)} active silence(s)*")]
    for item in items[:20]:
        matchers = " ".join(_code(m) for m in item.matchers)
        reason = f" — {_text(item.reason, 300)}" if item.reason else ""
        text = (
            f"{matchers}{reason}\nuntil {ts(item.ends_at)} · by {mention(item.created_by)}"
            f" · {item.matched} alert(s) kept quiet"
        )
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(text, SECTION_TEXT),
                "accessory": _button("Unsilence", UNSILENCE_ACTION, str(item.id), style=None),
            }
        )
    return _message(f"{len(items)} active silence(s)", blocks)


def silence_created(item: SilenceView) -> str:
    matchers = " ".join(_code(m) for m in item.matchers)
    return f"🔕 Silenced {matchers} until {ts(item.ends_at)} (silence {item.id})."


# --- Postmortem, follow-ups, related incidents, timeline -----------------------------------

FOLLOWUP_DONE_ACTION = "followup_done"


def postmortem_summary(snap: IncidentSnapshot, version: int) -> Message:
    """The short message that goes with the attached postmortem document."""
    facts = build_postmortem(snap)
    figures = [
        f"time to acknowledge {_maybe_duration(facts.tta.value)}",
        f"time to mitigate {_maybe_duration(facts.ttm.value)}",
        f"time to resolve {_maybe_duration(facts.ttr.value)}",
    ]
    done = sum(s.state == "done" for s in snap.steps)
    lines = [
        f"*📄 Postmortem of {_title(snap.incident)}* (version {version})",
        " · ".join(figures),
        f"{len(snap.alerts)} alert(s) · {done} of {len(snap.steps)} playbook steps done"
        f" · {len(snap.followups)} follow-up(s)",
    ]
    if snap.incident.summary:
        lines.append(_quote(snap.incident.summary, 1000))
    text = "\n".join(lines)
    return _message(
        f"Postmortem of incident #{snap.incident.number} (v{version})", [_section(text)]
    )


def followup_list(items: Sequence[tuple[int, FollowupView]]) -> Message:
    """``/incident followups``: open follow-ups across incidents, each with a Done button."""
    if not items:
        return _message("No open follow-ups.", [_section("✅ No open follow-ups.")])
    blocks: list[Block | None] = [_section(f"*{len(items)} open follow-up(s)*")]
    blocks += [_followup_block(number, item) for number, item in items[:40]]
    return _message(f"{len(items)} open follow-up(s)", blocks)


def followup_reminder(items: Sequence[tuple[int, FollowupView]]) -> Message:
    message = followup_list(items)
    intro = _section("👋 Your open follow-ups from past incidents. Press *Done* when one is.")
    return {"text": "Your open follow-ups", "blocks": _fit([intro, *message["blocks"]])}


def _followup_block(number: int, item: FollowupView) -> Block:
    owner = f" · {mention(item.owner)}" if item.owner else " · _no owner_"
    due = f" · due {item.due.isoformat()}" if item.due else ""
    return {
        "type": "section",
        "text": _mrkdwn(f"*#{number}* {_text(item.text, 600)}{owner}{due}", SECTION_TEXT),
        "accessory": _button("Done", FOLLOWUP_DONE_ACTION, str(item.id), style=None),
    }


def related_message(related: Sequence[Related]) -> Message:
    lines = ["*🔎 Similar past incidents*"]
    for item in related:
        took = (
            f", resolved in {_maybe_duration(item.time_to_resolve)}" if item.time_to_resolve else ""
        )
        how = f"\n> {_text(item.resolution, 300)}" if item.resolution else ""
        why = "; ".join(_text(r, 100) for r in item.reasons[:3])
        lines.append(f"• *{_title(item.incident)}*{took} — _{why}_{how}")
    return _message("Similar past incidents", [_section("\n".join(lines))])


def timeline_list(snap: IncidentSnapshot) -> Message:
    """``/incident timeline``: the latest entries with their numbers (for ``remove``)."""
    lines = [f"*Timeline of {_title(snap.incident)}* (latest {len(snap.events)})"]
    for event in snap.events:
        who = mention(event.actor) if event.actor else "Warroom"
        lines.append(f"`#{event.id}` {ts(event.at)} {who}: {_text(event.text, 300)}")
    lines.append("_Remove an entry you added with `/incident remove <number>`._")
    return _message(
        f"Timeline of incident #{snap.incident.number}",
        _line_sections(lines, 10, lambda n: f"…and {n} more"),
    )


def reassign_modal(page: PageView, incident_number: int) -> dict[str, Any]:
    """Hand a page to someone else: pick the person in Slack's own user picker."""
    return _modal(
        REASSIGN_MODAL,
        str(page.id),
        f"Reassign (#{incident_number})",
        "Page them",
        [
            _section(f"Who should take the *{_text(page.role_name, 80)}* page instead?"),
            _input("user", "Person", {"type": "users_select", "action_id": "user"}),
        ],
    )


def _person_mtta(row: OncallRow, user: str) -> str:
    mtta = row.people_mtta.get(user)
    return f" (their MTTA: {_maybe_duration(mtta)})" if mtta is not None else ""


def oncall_text(rows: Sequence[OncallRow]) -> str:
    """``/incident oncall``: per role, who is on now and who is next, with their MTTA."""
    if not rows:
        return "No roles are defined in the on-call file."
    lines = []
    for row in rows:
        lines.append(f"*{_text(row.role_name, 80)}* (`{_text(row.role, 80)}`)")
        for shift in row.now:
            covering = " (override)" if shift.overridden_by else ""
            lines.append(
                f"  • now, {shift.layer}: {mention(shift.user)}{covering} until {ts(shift.end)}"
                + _person_mtta(row, shift.user)
            )
        if not row.now:
            lines.append("  • ⚠️ nobody is on call right now")
        for shift in row.next:
            lines.append(
                f"  • next, {shift.layer}: {mention(shift.user)} from {ts(shift.start)}"
                + _person_mtta(row, shift.user)
            )
        if row.mtta is not None:
            lines.append(
                f"  • MTTA (30 days): {_maybe_duration(row.mtta)} over {row.pages} page(s)"
            )
    return "\n".join(lines)


def notice(title: str, lines: Sequence[str]) -> Message:
    """Warroom's own lines (they may carry mentions it made); nothing untrusted goes in."""
    body = "\n".join(f"• {line}" for line in lines)
    return _message(title, [_section(f"*{escape(title)}*\n{body}")])
