"""Database tables: what Warroom remembers.

The database, not Python, enforces the promises that retried webhooks and several
replicas would otherwise break: one alert row per ``(source, fingerprint, starts_at)``,
one open incident per group key, one page per ``(incident, role, attempt)``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class PageState(StrEnum):
    PENDING = "pending"  # sent, waiting for an acknowledgement
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # timed out; the next member was paged
    CANCELLED = "cancelled"  # incident resolved or acknowledged by someone else
    EXHAUSTED = "exhausted"  # the last level timed out; nobody left to page


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"


class EffectState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"  # gave up after the last retry; kept for inspection


class Counter(Base):
    """Gap-free sequences (incident numbers): bumped under a row lock in the same transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class KeyValue(Base):
    """Small pieces of state the bot generates once, such as the webhook token."""

    __tablename__ = "key_values"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_open_group_key",
            "group_key",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.OPEN)
    playbook_id: Mapped[str] = mapped_column(String(80))
    group_key: Mapped[str | None] = mapped_column(String(500))
    declared_by: Mapped[str | None] = mapped_column(String(32))
    status_text: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    steps_ts: Mapped[str | None] = mapped_column(String(32))  # the interactive checklist
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the opening alert's
    # Set when every alert has resolved and the playbook says `auto_resolve`; cleared by a
    # new alert or by someone pressing "Keep open".
    auto_resolve_at: Mapped[datetime | None] = mapped_column(index=True)
    commander: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("source", "fingerprint", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(40))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    links: Mapped[dict[str, Any]]
    raw: Mapped[dict[str, Any]] = mapped_column(deferred=True, deferred_raiseload=True)
    group_key: Mapped[str | None] = mapped_column(String(500))
    playbook_id: Mapped[str | None] = mapped_column(String(80))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silences.id"))
    flapping: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OncallOverride(Base):
    """Someone covers a role for a while ("@maria covers ml-engineer tonight 18:00-08:00")."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_end", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(80))
    layer: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Silence(Base):
    """Alerts matching every matcher between ``starts_at`` and ``ends_at`` are stored, not paged."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_active", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[list[str]] = mapped_column(JSONType)  # canonical matcher strings
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    ended_by: Mapped[str | None] = mapped_column(String(32))  # unsilenced early by
    matched: Mapped[int] = mapped_column(default=0)  # alerts it has kept quiet


class Page(Base):
    """One notification of one person for one role; escalation adds the next attempt."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("incident_id", "role", "attempt"),
        Index("ix_pages_due", "state", "ack_deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    role: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[str | None] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(default=0)
    # The attempt this escalation chain began at: the policy level is attempt - chain_start.
    chain_start: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default=PageState.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime]
    ack_deadline: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    dm_ts: Mapped[str | None] = mapped_column(String(32))


class StepProgress(Base):
    """The playbook's steps, copied at opening so later playbook edits don't rewrite history."""

    __tablename__ = "step_progress"
    __table_args__ = (UniqueConstraint("incident_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    position: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(80))
    details: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=StepState.PENDING)
    done_by: Mapped[str | None] = mapped_column(String(32))
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)  # why it was skipped
    check: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # the playbook's check
    check_outcome: Mapped[str | None] = mapped_column(String(8))  # pass | fail | error
    check_detail: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None]


class TimelineEvent(Base):
    """Append-only record of everything that happened; the postmortem is built from it."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_incident_at", "incident_id", "at"),
        # A Slack message added twice (pinned, then via the shortcut) is one entry.
        UniqueConstraint("incident_id", "source_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime]  # when it happened (an alert's startsAt may predate the record)
    recorded_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(32))  # Slack user ID; None = Warroom
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    source_key: Mapped[str | None] = mapped_column(String(120))  # e.g. slack:C1:1700.0001


class SlackEvent(Base):
    """Events API deliveries seen, by ``event_id``: Slack retries, and we must act once."""

    __tablename__ = "slack_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class Postmortem(Base):
    """Every generated postmortem, kept: a reviewer can see what changed between versions."""

    __tablename__ = "postmortems"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    version: Mapped[int]
    markdown: Mapped[str] = mapped_column(Text)
    narrative: Mapped[str | None] = mapped_column(Text)  # the LLM's draft, if any
    created_at: Mapped[datetime]


class Followup(Base):
    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    due: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(32))


class Effect(Base):
    """A side effect to deliver after commit (a Slack call, an outbound page).

    Effects sharing an ``ordering_key`` are delivered strictly in id order, so a message
    to an incident channel never overtakes the creation of that channel.
    """

    __tablename__ = "effects"
    __table_args__ = (
        Index("ix_effects_due", "state", "due_at"),
        # "Is an edit of this card already waiting?" must not scan every pending effect.
        Index("ix_effects_key_state", "ordering_key", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    ordering_key: Mapped[str] = mapped_column(String(80), index=True)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default=EffectState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
