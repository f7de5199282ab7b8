"""Read-only pictures of an incident, handed to rendering (Block Kit, postmortem, console).

Rendering must be a pure function of data; these frozen dataclasses are that data, loaded
in one query batch so no renderer ever touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    name: str
    summary: str
    status: str  # firing | resolved
    severity: str | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    links: dict[str, str] = field(default_factory=dict)
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class PageView:
    id: int
    role: str
    role_name: str
    user_id: str | None  # None: nobody was on call for the role
    attempt: int
    state: str  # pending | acknowledged | escalated | cancelled | exhausted
    sent_at: datetime
    ack_deadline: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True, slots=True)
class StepView:
    position: int  # 0-based; people see position + 1
    title: str
    role: str | None
    details: str
    state: str  # pending | done | skipped
    done_by: str | None
    done_at: datetime | None
    id: int = 0
    note: str | None = None  # why it was skipped
    check: str | None = None  # what the automated check does, in words
    check_outcome: str | None = None  # pass | fail | error, once it has run
    check_detail: str | None = None


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    at: datetime
    kind: str
    actor: str | None  # Slack user ID, None when Warroom did it
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FollowupView:
    """A follow-up action agreed during or after the incident; listed in the postmortem."""

    id: int
    text: str
    owner: str | None  # Slack user ID
    due: date | None
    done: bool


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    number: int
    title: str
    severity: str  # sev1 … sev4
    status: str  # open | resolved
    playbook_id: str
    playbook_title: str
    channel_id: str | None
    channel_name: str | None
    status_text: str | None
    summary: str | None
    declared_by: str | None
    opened_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    links: dict[str, str] = field(default_factory=dict)  # the playbook's, rendered


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    incident: IncidentView
    alerts: list[AlertView]
    pages: list[PageView]
    steps: list[StepView]
    events: list[EventView]
    followups: list[FollowupView] = field(default_factory=list)

    @property
    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def current_step(self) -> StepView | None:
        """The first step still pending: the one the checklist highlights."""
        pending = [s for s in self.steps if s.state == "pending"]
        return min(pending, key=lambda s: s.position) if pending else None


@dataclass(frozen=True, slots=True)
class SilenceView:
    id: int
    matchers: list[str]
    reason: str
    created_by: str
    starts_at: datetime
    ends_at: datetime
    ended_by: str | None
    matched: int


@dataclass(frozen=True, slots=True)
class OncallRow:
    """One role in ``/incident oncall``: shifts now and next, and its recent MTTA."""

    role: str
    role_name: str
    now: list[Any]  # bot.oncall.Shift
    next: list[Any]
    mtta: timedelta | None
    pages: int
    calendar: str | None = None  # the role's iCalendar feed path, with its token
    people_mtta: dict[str, timedelta] = field(default_factory=dict)  # of those now and next
