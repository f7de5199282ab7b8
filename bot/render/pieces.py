"""Pieces of incident rendering that several messages share.

The card, the page DMs, the timeline events and the replies must name an incident, its
severity, roles, alerts and links alike; building those pieces in one place keeps them in
step, and keeps the escaping of their untrusted text in one place too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta

from bot import mrkdwn
from bot.clock import as_utc
from bot.mrkdwn import escape, mention
from bot.render import kit
from bot.render.kit import (
    ALERT_NAME,
    ALERT_SECTION,
    ALERT_SUMMARY,
    LABEL_TEXT,
    LABELS_PER_ALERT,
    LINKS_PER_ALERT,
    TITLE_TEXT,
    Block,
)
from bot.snapshot import AlertView, IncidentSnapshot, IncidentView

SEV_EMOJI: dict[str, str] = {"sev1": "🔴", "sev2": "🟠", "sev3": "🟡", "sev4": "🔵"}
UNKNOWN_SEV_EMOJI = "⚪"

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


def sev_emoji(severity: str) -> str:
    return SEV_EMOJI.get(severity.lower(), UNKNOWN_SEV_EMOJI)


def sev(severity: str) -> str:
    return kit.text(severity.upper(), 20)


def title(incident: IncidentView) -> str:
    return (
        f"{sev_emoji(incident.severity)} #{incident.number} {kit.text(incident.title, TITLE_TEXT)}"
    )


def actor(user_id: str | None) -> str:
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


def role_names(snap: IncidentSnapshot) -> dict[str, str]:
    return {page.role: page.role_name for page in snap.pages}


def role(snap: IncidentSnapshot, role: object) -> str:
    """A role's display name (known from its pages), else its escaped ID."""
    key = str(role or "")
    return kit.text(role_names(snap).get(key, key) or "unknown role", 80)


def sorted_firing(snap: IncidentSnapshot) -> list[AlertView]:
    return sorted(snap.firing, key=lambda a: (as_utc(a.starts_at), a.id))


def _key_labels(labels: Mapping[str, str]) -> list[str]:
    """The few labels that tell alerts apart; the rest is noise in a card."""
    keys = [k for k in labels if k not in _IGNORED_LABELS]
    keys.sort(key=lambda k: (_PREFERRED_LABELS.index(k) if k in _PREFERRED_LABELS else 99, k))
    return [code(f"{key}={labels[key]}") for key in keys[:LABELS_PER_ALERT]]


def code(value: str) -> str:
    return "`" + kit.text(value.replace("`", "'"), LABEL_TEXT) + "`"


def links(links: Mapping[str, str]) -> list[str]:
    """Runbook and dashboard links; only plain http(s) URLs, labelled by their key."""
    shown = []
    for name, url in links.items():
        label = kit.text(name, 40).replace("|", "")
        if _SAFE_URL.match(url) and label:
            shown.append(f"<{escape(url)}|{label}>")
    return shown[:LINKS_PER_ALERT]


def _alert_text(alert: AlertView) -> str:
    line = f"*{kit.text(alert.name, ALERT_NAME)}*"
    if alert.flapping:
        line += " 🔁 _flapping, not re-paging_"
    if alert.summary.strip():
        line += " — " + kit.text(alert.summary, ALERT_SUMMARY)
    extras = _key_labels(alert.labels) + links(alert.links)
    if extras:
        line += "\n" + " ".join(extras)
    return line


def alert_blocks(alerts: Sequence[AlertView], limit: int, heading: str) -> list[Block]:
    if not alerts:
        return []
    blocks = [kit.section(f"*{heading}* ({len(alerts)})")]
    blocks += [kit.section(_alert_text(alert), ALERT_SECTION) for alert in alerts[:limit]]
    if len(alerts) > limit:
        blocks.append(kit.context(f"…and {len(alerts) - limit} more firing alerts"))
    return blocks


def maybe_duration(value: timedelta | None) -> str:
    return mrkdwn.duration(value) if value is not None else "—"
