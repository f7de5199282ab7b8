"""Replies to ``/incident`` commands, and Warroom's other one-off posts.

Lists (incidents, silences, follow-ups, timeline entries, who is on call), the
postmortem summary, follow-up reminders, similar past incidents and notices: messages
that answer a question or announce something once, unlike the card, the page DMs and
the checklist, which follow an incident's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot import mrkdwn
from bot.clock import as_utc
from bot.mrkdwn import channel_link, escape, mention, ts
from bot.postmortem import build as build_postmortem
from bot.related import Related
from bot.render import kit, pieces
from bot.render.kit import SECTION_TEXT, Block, Message
from bot.snapshot import FollowupView, IncidentSnapshot, IncidentView, OncallRow, SilenceView

# --- Help and the incident list ------------------------------------------------------------

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
        return kit.message("No open incidents.", [kit.section("✅ No open incidents.")])
    lines = [_list_line(incident, now) for incident in open_incidents]
    count = len(open_incidents)
    return kit.message(
        f"{count} open incident{'s' if count != 1 else ''}",
        [
            kit.section(f"*Open incidents ({count})*"),
            *kit.line_sections(lines, 20, lambda n: f"…and {n} more open incidents"),
        ],
    )


def _list_line(incident: IncidentView, now: datetime | None) -> str:
    if now is None:
        age = mrkdwn.ago(incident.opened_at)
    else:
        age = mrkdwn.duration(as_utc(now) - as_utc(incident.opened_at)) + " ago"
    return (
        f"{pieces.title(incident)} · {pieces.sev(incident.severity)} · "
        f"{channel_link(incident.channel_id, incident.channel_name)} · opened {age}"
    )


# --- Silences ------------------------------------------------------------------------------

UNSILENCE_ACTION = "silence_end"


def silence_list(items: Sequence[SilenceView]) -> Message:
    """``/incident silences``: what is silenced, until when, by whom, with Unsilence buttons."""
    if not items:
        return kit.message("No active silences.", [kit.section("🔔 No active silences.")])
    blocks: list[Block | None] = [kit.section(f"*🔕 {len(items)} active silence(s)*")]
    for item in items[:20]:
        matchers = " ".join(pieces.code(m) for m in item.matchers)
        reason = f" — {kit.text(item.reason, 300)}" if item.reason else ""
        text = (
            f"{matchers}{reason}\nuntil {ts(item.ends_at)} · by {mention(item.created_by)}"
            f" · {item.matched} alert(s) kept quiet"
        )
        blocks.append(
            {
                "type": "section",
                "text": kit.mrkdwn(text, SECTION_TEXT),
                "accessory": kit.button("Unsilence", UNSILENCE_ACTION, str(item.id), style=None),
            }
        )
    return kit.message(f"{len(items)} active silence(s)", blocks)


def silence_created(item: SilenceView) -> str:
    matchers = " ".join(pieces.code(m) for m in item.matchers)
    return f"🔕 Silenced {matchers} until {ts(item.ends_at)} (silence {item.id})."


# --- Postmortem, follow-ups, related incidents, timeline, on call --------------------------

FOLLOWUP_DONE_ACTION = "followup_done"


def postmortem_summary(snap: IncidentSnapshot, version: int) -> Message:
    """The short message that goes with the attached postmortem document."""
    facts = build_postmortem(snap)
    figures = [
        f"time to acknowledge {pieces.maybe_duration(facts.tta.value)}",
        f"time to mitigate {pieces.maybe_duration(facts.ttm.value)}",
        f"time to resolve {pieces.maybe_duration(facts.ttr.value)}",
    ]
    done = sum(s.state == "done" for s in snap.steps)
    lines = [
        f"*📄 Postmortem of {pieces.title(snap.incident)}* (version {version})",
        " · ".join(figures),
        f"{len(snap.alerts)} alert(s) · {done} of {len(snap.steps)} playbook steps done"
        f" · {len(snap.followups)} follow-up(s)",
    ]
    if snap.incident.summary:
        lines.append(kit.quote(snap.incident.summary, 1000))
    text = "\n".join(lines)
    return kit.message(
        f"Postmortem of incident #{snap.incident.number} (v{version})", [kit.section(text)]
    )


def followup_list(items: Sequence[tuple[int, FollowupView]]) -> Message:
    """``/incident followups``: open follow-ups across incidents, each with a Done button."""
    if not items:
        return kit.message("No open follow-ups.", [kit.section("✅ No open follow-ups.")])
    blocks: list[Block | None] = [kit.section(f"*{len(items)} open follow-up(s)*")]
    blocks += [_followup_block(number, item) for number, item in items[:40]]
    return kit.message(f"{len(items)} open follow-up(s)", blocks)


def followup_reminder(items: Sequence[tuple[int, FollowupView]]) -> Message:
    message = followup_list(items)
    intro = kit.section("👋 Your open follow-ups from past incidents. Press *Done* when one is.")
    return {"text": "Your open follow-ups", "blocks": kit.fit([intro, *message["blocks"]])}


def _followup_block(number: int, item: FollowupView) -> Block:
    owner = f" · {mention(item.owner)}" if item.owner else " · _no owner_"
    due = f" · due {item.due.isoformat()}" if item.due else ""
    return {
        "type": "section",
        "text": kit.mrkdwn(f"*#{number}* {kit.text(item.text, 600)}{owner}{due}", SECTION_TEXT),
        "accessory": kit.button("Done", FOLLOWUP_DONE_ACTION, str(item.id), style=None),
    }


def related_message(related: Sequence[Related]) -> Message:
    lines = ["*🔎 Similar past incidents*"]
    for item in related:
        took = (
            f", resolved in {pieces.maybe_duration(item.time_to_resolve)}"
            if item.time_to_resolve
            else ""
        )
        how = f"\n> {kit.text(item.resolution, 300)}" if item.resolution else ""
        why = "; ".join(kit.text(r, 100) for r in item.reasons[:3])
        lines.append(f"• *{pieces.title(item.incident)}*{took} — _{why}_{how}")
    return kit.message("Similar past incidents", [kit.section("\n".join(lines))])


def timeline_list(snap: IncidentSnapshot) -> Message:
    """``/incident timeline``: the latest entries with their numbers (for ``remove``)."""
    lines = [f"*Timeline of {pieces.title(snap.incident)}* (latest {len(snap.events)})"]
    for event in snap.events:
        who = mention(event.actor) if event.actor else "Warroom"
        lines.append(f"`#{event.id}` {ts(event.at)} {who}: {kit.text(event.text, 300)}")
    lines.append("_Remove an entry you added with `/incident remove <number>`._")
    return kit.message(
        f"Timeline of incident #{snap.incident.number}",
        kit.line_sections(lines, 10, lambda n: f"…and {n} more"),
    )


def _person_mtta(row: OncallRow, user: str) -> str:
    mtta = row.people_mtta.get(user)
    return f" (their MTTA: {pieces.maybe_duration(mtta)})" if mtta is not None else ""


def oncall_text(rows: Sequence[OncallRow]) -> str:
    """``/incident oncall``: per role, who is on now and who is next, with their MTTA."""
    if not rows:
        return "No roles are defined in the on-call file."
    lines = []
    for row in rows:
        lines.append(f"*{kit.text(row.role_name, 80)}* (`{kit.text(row.role, 80)}`)")
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
                f"  • MTTA (30 days): {pieces.maybe_duration(row.mtta)} over {row.pages} page(s)"
            )
    return "\n".join(lines)


def notice(title: str, lines: Sequence[str]) -> Message:
    """Warroom's own lines (they may carry mentions it made); nothing untrusted goes in."""
    body = "\n".join(f"• {line}" for line in lines)
    return kit.message(title, [kit.section(f"*{escape(title)}*\n{body}")])
