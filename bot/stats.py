"""Incident insights: count, MTTA, time to mitigate and MTTR, overall and by group.

Computed from each incident's timeline with the same milestones as the postmortem
(``bot.postmortem.milestones``), so `/incident stats` never disagrees with a postmortem: the
clock starts at detection (the first alert's start, or the declaration), and stops at the
first acknowledgement, the first ``mitigated`` event and the last ``resolved`` event.

Groups: severity (the incident's current one), playbook, and role — the role of the
acknowledged page, so "MTTA for data scientists" measures how fast the data-scientist page
was answered; an incident counts once for every role that acknowledged it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import as_utc
from bot.mrkdwn import duration
from bot.postmortem import milestones
from bot.snapshot import EventView, IncidentSnapshot

NONE = "—"


@dataclass(frozen=True, slots=True)
class Agg:
    """Median and mean of the incidents that reached a milestone (``n`` of them)."""

    n: int
    median: timedelta | None
    mean: timedelta | None

    @classmethod
    def of(cls, values: Iterable[timedelta]) -> Agg:
        seconds = [v.total_seconds() for v in values]
        if not seconds:
            return cls(0, None, None)
        return cls(
            len(seconds),
            timedelta(seconds=statistics.median(seconds)),
            timedelta(seconds=statistics.fmean(seconds)),
        )


@dataclass(frozen=True, slots=True)
class GroupStats:
    count: int
    tta: Agg
    ttm: Agg
    ttr: Agg


@dataclass(frozen=True, slots=True)
class Stats:
    since: datetime
    until: datetime
    overall: GroupStats
    by_severity: dict[str, GroupStats] = field(default_factory=dict)
    by_playbook: dict[str, GroupStats] = field(default_factory=dict)
    by_role: dict[str, GroupStats] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.overall.count


@dataclass(frozen=True, slots=True)
class IncidentFigures:
    """One incident's figures; ``by_role`` is the time to acknowledge each role's page."""

    detected_at: datetime
    severity: str
    playbook: str
    tta: timedelta | None
    ttm: timedelta | None
    ttr: timedelta | None
    by_role: dict[str, timedelta]


def incident_figures(snap: IncidentSnapshot) -> IncidentFigures | None:
    """The figures of one incident from its timeline; None when nothing marks detection."""
    marks = milestones(snap)
    start = marks.detected_at
    if start is None:
        return None

    def since(event: EventView | None) -> timedelta | None:
        return max(timedelta(0), as_utc(event.at) - start) if event else None

    by_role: dict[str, timedelta] = {}
    for ack in marks.acknowledgements:
        for role in acknowledged_roles(ack, snap):
            by_role.setdefault(role, since(ack) or timedelta(0))
    return IncidentFigures(
        detected_at=start,
        severity=snap.incident.severity,
        playbook=snap.incident.playbook_id,
        tta=since(marks.first_ack),
        ttm=since(marks.mitigation),
        ttr=since(marks.resolution),
        by_role=by_role,
    )


def acknowledged_roles(ack: EventView, snap: IncidentSnapshot) -> list[str]:
    """The roles of the pages an acknowledgement answered: by page id, else as recorded."""
    page_roles = {str(p.id): p.role for p in snap.pages}  # JSON may give ids as strings
    refs = (str(i) for i in ack.data.get("page_ids") or [])
    roles = [page_roles[ref] for ref in refs if ref in page_roles]
    if not roles:
        recorded = ack.data.get("roles") or [ack.data.get("role")]
        roles = [str(r) for r in recorded if r]
    return list(dict.fromkeys(roles))


def compute_stats(snaps: list[IncidentSnapshot], *, since: datetime, until: datetime) -> Stats:
    """Stats of the incidents detected in ``[since, until)``."""
    since, until = as_utc(since), as_utc(until)
    figures = [f for f in map(incident_figures, snaps) if f and since <= f.detected_at < until]
    by_severity: dict[str, list[IncidentFigures]] = {}
    by_playbook: dict[str, list[IncidentFigures]] = {}
    by_role: dict[str, list[tuple[IncidentFigures, timedelta]]] = {}
    for fig in figures:
        by_severity.setdefault(fig.severity, []).append(fig)
        by_playbook.setdefault(fig.playbook, []).append(fig)
        for role, tta in fig.by_role.items():
            by_role.setdefault(role, []).append((fig, tta))
    return Stats(
        since=since,
        until=until,
        overall=_group(figures),
        by_severity={k: _group(v) for k, v in sorted(by_severity.items())},
        by_playbook={k: _group(v) for k, v in sorted(by_playbook.items())},
        by_role={
            role: _group([f for f, _ in pairs], [tta for _, tta in pairs])
            for role, pairs in sorted(by_role.items())
        },
    )


def _group(figures: list[IncidentFigures], tta: list[timedelta] | None = None) -> GroupStats:
    return GroupStats(
        count=len(figures),
        tta=Agg.of(tta if tta is not None else _reached(f.tta for f in figures)),
        ttm=Agg.of(_reached(f.ttm for f in figures)),
        ttr=Agg.of(_reached(f.ttr for f in figures)),
    )


def _reached(values: Iterable[timedelta | None]) -> Iterator[timedelta]:
    return (v for v in values if v is not None)


# --- Plain text ------------------------------------------------------------------------------

HEADERS = ("", "Count", "MTTA median / mean", "Mitigate median / mean", "MTTR median / mean")


def render_stats_text(stats: Stats) -> str:
    """A plain-text table for the terminal and for a Slack code block.

    Each figure is "median / mean"; "(n=2)" says how many of the group's incidents reached
    that milestone when not all of them did.
    """
    window = f"{_day(stats.since)} to {_day(stats.until)} UTC"
    if not stats.count:
        return f"No incidents detected {window}.\n"
    rows = [HEADERS, _row("All", stats.overall)]
    for title, groups in (
        ("Severity", stats.by_severity),
        ("Playbook", stats.by_playbook),
        ("Role", stats.by_role),
    ):
        rows += [_row(f"{title} {name}", group) for name, group in groups.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = [
        "  ".join(
            cell.rjust(width) if i == 1 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    head = f"Incidents detected {window}: {stats.count}"
    note = "Times from detection (first alert or declaration), from the timeline."
    return "\n".join([head, "", *lines, "", note]) + "\n"


def _row(label: str, group: GroupStats) -> tuple[str, ...]:
    return (
        label,
        str(group.count),
        _agg(group.tta, group.count),
        _agg(group.ttm, group.count),
        _agg(group.ttr, group.count),
    )


def _agg(agg: Agg, count: int) -> str:
    if agg.median is None or agg.mean is None:
        return NONE
    text = f"{duration(agg.median)} / {duration(agg.mean)}"
    return text if agg.n == count else f"{text} (n={agg.n})"


def _day(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M")
