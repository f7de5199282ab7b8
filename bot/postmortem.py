"""The postmortem: figures computed from the timeline, rendered to Markdown with Jinja2.

DESIGN rule 2 makes the timeline the source of truth for MTTA/MTTR, so every figure here
is derived from the snapshot's events, pages and alerts, never from cached columns that
could disagree with what actually happened. The template stays free of logic: it only
lays out the ``Postmortem`` facts, so teams can swap in their own layout safely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jinja2

from bot.clock import as_utc
from bot.mrkdwn import duration
from bot.snapshot import (
    AlertView,
    EventView,
    IncidentSnapshot,
    IncidentView,
    PageView,
    StepView,
)

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "postmortem.md.j2"
NOT_REACHED = "—"
_PAGE_OUTCOMES = {
    "pending": "not acknowledged yet",
    "escalated": "not acknowledged in time; escalated",
    "exhausted": "not acknowledged in time; nobody left to page",
    "cancelled": "cancelled",
}


@dataclass(frozen=True, slots=True)
class PageFact:
    """One page as the postmortem reports it: who, for which role, and how it ended."""

    user_id: str | None  # None: nobody was on call for the role
    role: str
    role_name: str
    attempt: int
    state: str
    sent_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    time_to_acknowledge: timedelta | None  # from this page being sent

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def outcome(self) -> str:
        """How the page ended, in words a reviewer understands without the state machine."""
        if self.acknowledged:
            return "acknowledged"
        if self.user_id is None:
            return "nobody on call"
        return _PAGE_OUTCOMES.get(self.state, self.state)


@dataclass(frozen=True, slots=True)
class Postmortem:
    """Computed facts about one incident; the template only formats these."""

    incident: IncidentView
    detected_at: datetime
    first_alert: AlertView | None
    declared_by: str | None  # who declared it by hand, when no alert opened it
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    time_to_acknowledge: timedelta | None  # from detection
    time_to_resolve: timedelta | None  # from detection
    acknowledged_by: list[str]
    resolved_by: str | None
    summary: str | None
    pages: list[PageFact]
    alerts: list[AlertView]
    steps: list[StepView]
    timeline: list[EventView]

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


def build(snap: IncidentSnapshot) -> Postmortem:
    """Compute the postmortem facts from the snapshot's timeline, pages and alerts."""
    timeline = sorted(snap.events, key=lambda e: (as_utc(e.at), e.id))
    alerts = sorted(snap.alerts, key=lambda a: (as_utc(a.starts_at), a.id))
    acks = [e for e in timeline if e.kind == "acknowledged"]
    resolutions = [e for e in timeline if e.kind == "resolved"]
    declared = next((e for e in timeline if e.kind == "declared"), None)

    detected_at = as_utc(alerts[0].starts_at if alerts else snap.incident.detected_at)
    acknowledged_at = as_utc(acks[0].at) if acks else None
    # The last resolution counts: it is the one that stuck.
    resolution = resolutions[-1] if resolutions else None
    resolved_at = as_utc(resolution.at) if resolution else None

    return Postmortem(
        incident=snap.incident,
        detected_at=detected_at,
        first_alert=alerts[0] if alerts else None,
        declared_by=(declared.actor if declared else None) or snap.incident.declared_by,
        acknowledged_at=acknowledged_at,
        resolved_at=resolved_at,
        time_to_acknowledge=_since(detected_at, acknowledged_at),
        time_to_resolve=_since(detected_at, resolved_at),
        acknowledged_by=_unique(e.actor for e in acks if e.actor),
        resolved_by=resolution.actor if resolution else None,
        summary=_summary(snap, resolution),
        pages=[_page_fact(p) for p in sorted(snap.pages, key=lambda p: (as_utc(p.sent_at), p.id))],
        alerts=alerts,
        steps=sorted(snap.steps, key=lambda s: s.position),
        timeline=timeline,
    )


def _since(start: datetime, end: datetime | None) -> timedelta | None:
    """Elapsed time, clamped at zero: an alert stamped late must not give a negative MTTA."""
    if end is None:
        return None
    return max(timedelta(0), as_utc(end) - as_utc(start))


def _unique(values: Iterable[str]) -> list[str]:
    """First-seen order: the first person to acknowledge is listed first."""
    return list(dict.fromkeys(values))


def _summary(snap: IncidentSnapshot, resolution: EventView | None) -> str | None:
    """The resolution summary as recorded on the timeline, else the incident's own."""
    text = (resolution.text if resolution else "") or snap.incident.summary or ""
    return text.strip() or None


def _page_fact(page: PageView) -> PageFact:
    acked = as_utc(page.acknowledged_at) if page.acknowledged_at else None
    return PageFact(
        user_id=page.user_id,
        role=page.role,
        role_name=page.role_name,
        attempt=page.attempt,
        state=page.state,
        sent_at=as_utc(page.sent_at),
        acknowledged_at=acked,
        acknowledged_by=page.acknowledged_by,
        time_to_acknowledge=_since(page.sent_at, acked),
    )


# --- Markdown rendering -------------------------------------------------------------------


def md(text: object) -> str:
    """Neutralise HTML in untrusted text; Markdown renderers pass raw tags through."""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def inline(text: object) -> str:
    """Untrusted text on one line (titles, list items): no smuggled headings or rows."""
    return re.sub(r"\s+", " ", md(text)).strip()


def cell(text: object) -> str:
    """Untrusted text inside a Markdown table cell."""
    return inline(text).replace("|", "\\|")


def utc(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else NOT_REACHED


def dur(value: timedelta | None) -> str:
    return duration(value) if value is not None else NOT_REACHED


def who(user_id: str | None) -> str:
    """A person in the document; ``None`` is Warroom itself acting."""
    return f"@{inline(user_id)}" if user_id else "Warroom"


def _environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=False,  # Markdown, not HTML; untrusted text goes through md/inline/cell
        undefined=jinja2.StrictUndefined,  # a typo in a custom template fails loudly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, inline=inline, cell=cell, utc=utc, dur=dur, who=who)
    return env


def render_markdown(snap: IncidentSnapshot, template_path: Path | None = None) -> str:
    """The postmortem document as Markdown; ``template_path`` swaps in a team's own layout."""
    path = Path(template_path) if template_path else DEFAULT_TEMPLATE
    template = _environment(path.parent).get_template(path.name)
    return template.render(pm=build(snap), incident=snap.incident, snap=snap)
