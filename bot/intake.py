"""Intake: store alerts exactly once, then hand each new one to grouping.

Senders retry (Alertmanager re-sends on any 5xx and every ``group_interval``), and two
replicas may receive the same notification at once. The unique key on
``(source, fingerprint, starts_at)`` makes a repeat a no-op, and the partial unique index
on open incidents' group keys makes a concurrent second "open" fail and join instead.
Silenced alerts are stored and counted but go no further.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import grouping, incidents, silences
from bot.alerts import AlertStatus, NormalizedAlert
from bot.models import Alert, Incident, Silence
from bot.routing import Route, route
from bot.runtime import LoadedConfig
from bot.sql import insert


@dataclass
class IntakeResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    resolved: int = 0
    acknowledged: int = 0  # pages stopped because the sender said someone has it
    silenced: int = 0
    opened: list[int] = field(default_factory=list)  # incident numbers
    joined: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "resolved": self.resolved,
            "acknowledged": self.acknowledged,
            "silenced": self.silenced,
            "incidents_opened": sorted(set(self.opened)),
            "incidents_joined": sorted(set(self.joined) - set(self.opened)),
        }


@dataclass
class _Batch:
    config: LoadedConfig
    now: datetime
    silences: list[Silence]
    result: IntakeResult


async def ingest(
    session: AsyncSession, config: LoadedConfig, alerts: list[NormalizedAlert], *, now: datetime
) -> IntakeResult:
    active = await silences.active_for_transaction(session, now)
    batch = _Batch(config, now, active, IntakeResult(len(alerts)))
    for alert in alerts:
        await _ingest_one(session, batch, alert)
    return batch.result


async def _ingest_one(session: AsyncSession, batch: _Batch, alert: NormalizedAlert) -> None:
    if alert.starts_at is None:  # a sender that names only the fingerprint
        open_rows = await _open_rows(session, alert)
        if alert.status is not AlertStatus.FIRING or open_rows:
            for row in open_rows:
                await _update_existing(session, batch, row, alert)
            batch.result.duplicates += 0 if open_rows else 1
            return
        alert = replace(alert, starts_at=batch.now)  # a new occurrence, seen now
    target = route(batch.config.playbooks, alert)
    row = await _insert(session, alert, target, batch.now)
    if row is None:
        await _update_existing(session, batch, await _existing(session, alert), alert)
        return
    batch.result.stored += 1
    silence = silences.matching(batch.silences, alert.labels)
    if silence is not None:
        row.silence_id = silence.id
        silence.matched += 1
        batch.result.silenced += 1
    elif alert.status is AlertStatus.FIRING:
        incident, opened = await grouping.attach_firing(
            session, batch.config, row, target, now=batch.now
        )
        (batch.result.opened if opened else batch.result.joined).append(incident.number)
    else:
        await _first_seen_resolved(session, batch, row, target)


async def _first_seen_resolved(
    session: AsyncSession, batch: _Batch, row: Alert, target: Route
) -> None:
    """Heard of only once resolved (e.g. sent before Warroom ran): keep it, tell its incident."""
    batch.result.resolved += 1
    incident = await incidents.find_open_by_group(session, target.group_key)
    if incident is not None:
        row.incident_id = incident.id
        await grouping.record_resolved(session, batch.config, incident, row, now=batch.now)


async def _insert(
    session: AsyncSession, alert: NormalizedAlert, target: Route, now: datetime
) -> Alert | None:
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
        flapping=False,
        received_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_nothing(
        index_elements=[Alert.source, Alert.fingerprint, Alert.starts_at]
    ).returning(Alert)
    with session.no_autoflush:  # earlier alerts' pending writes can wait for one flush
        return await session.scalar(stmt)


async def _open_rows(session: AsyncSession, alert: NormalizedAlert) -> list[Alert]:
    query = (
        select(Alert)
        .where(
            Alert.source == alert.source,
            Alert.fingerprint == alert.fingerprint,
            Alert.status == AlertStatus.FIRING,
        )
        .order_by(Alert.starts_at)
        .with_for_update()
    )
    return list(await session.scalars(query))


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
    session: AsyncSession, batch: _Batch, row: Alert, alert: NormalizedAlert
) -> None:
    """A known alert again: a retry (nothing to do), its resolve, or its acknowledgement."""
    if row.status == AlertStatus.RESOLVED or alert.status is AlertStatus.FIRING:
        batch.result.duplicates += 1  # a retry, or a late "firing" after we saw it resolve
        return
    incident = await session.get(Incident, row.incident_id) if row.incident_id else None
    if alert.status is AlertStatus.ACKNOWLEDGED:
        if incident is not None and incident.is_open:
            pages = await incidents.acknowledge(
                session, incident, alert.source, now=batch.now, config=batch.config
            )
            batch.result.acknowledged += len(pages)
        return
    row.status = AlertStatus.RESOLVED
    row.ends_at = alert.ends_at or batch.now
    row.updated_at = batch.now
    batch.result.resolved += 1
    if incident is not None:
        await grouping.record_resolved(session, batch.config, incident, row, now=batch.now)
