"""Intake: store alerts exactly once, then open or join the incident of their group.

Senders retry (Alertmanager re-sends on any 5xx and every ``group_interval``), and two
replicas may receive the same notification at once. The unique key on
``(source, fingerprint, starts_at)`` makes a repeat a no-op, and the partial unique index
on open incidents' group keys makes a concurrent second "open" fail and join instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, incidents, templating, timeline
from bot.alerts import AlertStatus, NormalizedAlert
from bot.models import Alert, Incident
from bot.routing import Route, route
from bot.runtime import LoadedConfig
from bot.sql import insert
from bot.timeline import Kind


@dataclass
class IntakeResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    resolved: int = 0
    acknowledged: int = 0  # pages stopped because the sender said someone has it
    opened: list[int] = field(default_factory=list)  # incident numbers
    joined: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "resolved": self.resolved,
            "acknowledged": self.acknowledged,
            "incidents_opened": sorted(set(self.opened)),
            "incidents_joined": sorted(set(self.joined) - set(self.opened)),
        }


async def ingest(
    session: AsyncSession, config: LoadedConfig, alerts: list[NormalizedAlert], *, now: datetime
) -> IntakeResult:
    result = IntakeResult(received=len(alerts))
    for alert in alerts:
        await _ingest_one(session, config, alert, now, result)
    return result


async def _ingest_one(
    session: AsyncSession,
    config: LoadedConfig,
    alert: NormalizedAlert,
    now: datetime,
    result: IntakeResult,
) -> None:
    target = route(config.playbooks, alert)
    if alert.starts_at is None:  # a sender that names only the fingerprint
        latest = await _latest(session, alert)
        if latest is not None:
            await _update_existing(session, config, latest, alert, now, result)
            return
        if alert.status is not AlertStatus.FIRING:
            result.duplicates += 1  # a resolve or acknowledge for something we never saw
            return
        alert = replace(alert, starts_at=now)
    row_id = await _insert(session, alert, target, now)
    if row_id is None:
        existing = await _existing(session, alert)
        await _update_existing(session, config, existing, alert, now, result)
        return
    result.stored += 1
    row = await session.get_one(Alert, row_id)
    if alert.status is AlertStatus.FIRING:
        await _attach_firing(session, config, row, target, now, result)
        return
    # First heard of as already resolved (e.g. sent before Warroom ran): keep it, and let
    # an open incident of its group know.
    incident = await incidents.find_open_by_group(session, target.group_key)
    if incident is not None:
        row.incident_id = incident.id
        await _record_resolved(session, incident, row, now)
    result.resolved += 1


async def _insert(
    session: AsyncSession, alert: NormalizedAlert, target: Route, now: datetime
) -> int | None:
    """Insert the alert; None when this (source, fingerprint, starts_at) is already stored."""
    stmt = insert(session, Alert).values(
        source=alert.source,
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        status=alert.status,
        name=alert.name[:200],
        summary=alert.summary,
        severity=alert.severity,
        labels=alert.labels,
        annotations=alert.annotations,
        links=alert.links,
        raw=alert.raw,
        group_key=target.group_key,
        playbook_id=target.playbook.id,
        received_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_nothing(
        index_elements=[Alert.source, Alert.fingerprint, Alert.starts_at]
    ).returning(Alert.id)
    return await session.scalar(stmt)


async def _latest(session: AsyncSession, alert: NormalizedAlert) -> Alert | None:
    query = (
        select(Alert)
        .where(Alert.source == alert.source, Alert.fingerprint == alert.fingerprint)
        .order_by(Alert.starts_at.desc())
        .limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def _existing(session: AsyncSession, alert: NormalizedAlert) -> Alert:
    query = (
        select(Alert)
        .where(
            Alert.source == alert.source,
            Alert.fingerprint == alert.fingerprint,
            Alert.starts_at == alert.starts_at,
        )
        .with_for_update()
    )
    return (await session.scalars(query)).one()


async def _update_existing(
    session: AsyncSession,
    config: LoadedConfig,
    row: Alert,
    alert: NormalizedAlert,
    now: datetime,
    result: IntakeResult,
) -> None:
    """A known alert again: a retry (nothing to do), its resolve, or its acknowledgement."""
    if row.status == AlertStatus.RESOLVED or alert.status is AlertStatus.FIRING:
        result.duplicates += 1  # a retry, or a late "firing" after we saw it resolve
        return
    incident = await session.get(Incident, row.incident_id) if row.incident_id else None
    if alert.status is AlertStatus.ACKNOWLEDGED:
        acked = (
            incident is not None
            and incident.is_open
            and await incidents.acknowledge(session, incident, alert.source, now=now, config=config)
        )
        result.duplicates += 0 if acked else 1
        return
    row.status = AlertStatus.RESOLVED
    row.ends_at = alert.ends_at or now
    row.updated_at = now
    result.resolved += 1
    if incident is not None:
        await _record_resolved(session, incident, row, now)


async def _attach_firing(
    session: AsyncSession,
    config: LoadedConfig,
    row: Alert,
    target: Route,
    now: datetime,
    result: IntakeResult,
) -> None:
    incident = await incidents.find_open_by_group(session, target.group_key)
    if incident is None:
        incident, opened = await _open_or_join(session, config, row, target, now)
        if opened:
            result.opened.append(incident.number)
            return
    row.incident_id = incident.id
    result.joined.append(incident.number)
    # A joining alert updates the card, not the channel: no message per alert.
    await timeline.record(
        session,
        incident,
        Kind.ALERT_FIRED,
        f"{row.name} fired: {row.summary}",
        now=now,
        at=row.starts_at,
        data={"alert_id": row.id, "fingerprint": row.fingerprint},
    )
    await effects.refresh_card(session, incident, now=now)


async def _open_or_join(
    session: AsyncSession, config: LoadedConfig, row: Alert, target: Route, now: datetime
) -> tuple[Incident, bool]:
    """Open the group's incident (True); if another transaction just did, join it (False)."""
    try:
        async with session.begin_nested():
            incident = await incidents.open_incident(
                session,
                config,
                playbook=target.playbook,
                title=_title(target, row),
                now=now,
                group_key=target.group_key,
                detected_at=row.starts_at,
                labels=row.labels,
            )
            row.incident_id = incident.id
            await timeline.record(
                session,
                incident,
                Kind.DETECTED,
                f"{row.name} fired: {row.summary}",
                now=now,
                at=row.starts_at,
                data={"alert_id": row.id},
            )
            return incident, True
    except IntegrityError:
        winner = await incidents.find_open_by_group(session, target.group_key)
        if winner is None:
            raise
        return winner, False


def _title(target: Route, row: Alert) -> str:
    """The playbook's ``incident_title`` template, else its title and the grouping values."""
    playbook = target.playbook
    if playbook.incident_title:
        try:
            title = templating.render(playbook.incident_title, row.labels, row.annotations)
        except templating.TemplateError:
            title = ""
        if title.strip():
            return title
    values = [row.labels.get(name, "") for name in playbook.group_by]
    detail = " ".join(v for v in values if v) or row.summary
    return f"{playbook.title}: {detail}"


async def _record_resolved(
    session: AsyncSession, incident: Incident, row: Alert, now: datetime
) -> None:
    firing = await incidents.count_alerts(session, incident, AlertStatus.FIRING)
    text = f"{row.name} resolved: {row.summary}"
    if firing == 0 and incident.is_open:
        text += " — all alerts of this incident have now resolved"
    event = await timeline.record(
        session,
        incident,
        Kind.ALERT_RESOLVED,
        text,
        now=now,
        at=row.ends_at or now,
        data={"alert_id": row.id, "firing": firing},
    )
    effects.post_event(session, event, now=now)
    await effects.refresh_card(session, incident, now=now)
