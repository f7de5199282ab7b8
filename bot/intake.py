"""Intake: store alerts exactly once, then hand each new one to grouping.

Senders retry (Alertmanager re-sends on any 5xx and every ``group_interval``), and two
replicas may receive the same notification at once. The unique key on
``(source, fingerprint, starts_at)`` makes a repeat a no-op, and openings take turns
(``incidents.take_turn_to_open``), so a second "open" of a group finds the first and joins.
Silenced alerts are stored and counted but go no further.

A batch (several webhook requests, see ``intake_queue``) is written with a few
statements, not a few per alert: the alerts new to the batch go in one multi-row INSERT,
already knowing the open incident they join, and flapping is counted once per batch.
Repeats within the batch and senders that name only a fingerprint take the one-by-one
path, in the order they arrived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy import insert as sa_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot import grouping, incidents, silences, sql
from bot.alerts import AlertStatus, NormalizedAlert
from bot.models import Alert, Incident, Silence
from bot.routing import Route, route
from bot.runtime import LoadedConfig
from bot.sql import insert

AlertKey = tuple[str, str, datetime]  # (source, fingerprint, starts_at)
FlapKey = tuple[str, str]  # (source, fingerprint)


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
class _Item:
    """One alert of the batch, routed, with the request whose result it counts in."""

    alert: NormalizedAlert
    target: Route
    result: IntakeResult
    silence: Silence | None
    bulk: bool  # first of its key in the batch: inserted with the others up front


@dataclass
class _Batch:
    config: LoadedConfig
    now: datetime
    silences: list[Silence]
    flaps: _FlapCounter
    inserted: dict[AlertKey, Alert] = field(default_factory=dict)


@dataclass
class _FlapCounter:
    """Starts of each alert within the flapping window: counted once, then kept up to date."""

    now: datetime
    starts: Counter[FlapKey] = field(default_factory=Counter)
    loaded: set[FlapKey] = field(default_factory=set)

    async def load(self, session: AsyncSession, starts: set[AlertKey]) -> set[AlertKey]:
        """Count the stored starts of these alerts not counted yet; return those stored.

        One query answers both: how often each alert started within the window, and
        which of these very starts are stored already (a sender's retry).
        """
        if not starts:
            return set()
        window = self.now - grouping.FLAP_WINDOW
        values = {
            "sources": sql.padded({source for source, _, _ in starts}),
            "fingerprints": sql.padded({fingerprint for _, fingerprint, _ in starts}),
            "since": min(window, *(started for _, _, started in starts)),
        }
        stored = set((await session.execute(_STARTS, values)).tuples())
        wanted = {(source, fingerprint) for source, fingerprint, _ in starts} - self.loaded
        self.loaded |= wanted
        for source, fingerprint, started in stored:
            if (source, fingerprint) in wanted and started >= window:
                self.starts[source, fingerprint] += 1
        return stored & starts

    def started(self, row: Alert) -> bool:
        """Count a newly stored start; True if its alert is now flapping."""
        key = (row.source, row.fingerprint)
        if row.starts_at >= self.now - grouping.FLAP_WINDOW:
            self.starts[key] += 1
        return self.starts[key] >= grouping.FLAP_STARTS


# Built once (``sql.in_list``): the lookups of every intake commit.
_STARTS = select(Alert.source, Alert.fingerprint, Alert.starts_at).where(
    Alert.source.in_(sql.in_list("sources")),
    Alert.fingerprint.in_(sql.in_list("fingerprints")),
    Alert.starts_at >= bindparam("since"),
)
_INSERT = sa_insert(Alert).returning(Alert)


async def ingest_batch(
    session: AsyncSession,
    config: LoadedConfig,
    requests: list[list[NormalizedAlert]],
    *,
    now: datetime,
) -> list[IntakeResult]:
    """Store the alerts of several requests in this transaction; one result per request."""
    active = await silences.active_for_transaction(session, now)
    batch = _Batch(config, now, active, _FlapCounter(now))
    results = [IntakeResult(len(alerts)) for alerts in requests]
    items = _plan(batch, requests, results)
    await _insert_new(session, batch, [item for item in items if item.bulk])
    for item in items:
        if item.bulk:
            await _after_insert(session, batch, item)
        else:
            await _ingest_one(session, batch, item)
    return results


def _plan(
    batch: _Batch, requests: list[list[NormalizedAlert]], results: list[IntakeResult]
) -> list[_Item]:
    seen: set[AlertKey] = set()
    items = []
    for alerts, result in zip(requests, results, strict=True):
        for alert in alerts:
            key = _key(alert)
            bulk = key is not None and key not in seen
            if key is not None:
                seen.add(key)
            silence = silences.matching(batch.silences, alert.labels)
            target = route(batch.config.playbooks, alert)
            items.append(_Item(alert, target, result, silence, bulk))
    return items


def _key(alert: NormalizedAlert) -> AlertKey | None:
    if alert.starts_at is None:
        return None
    return (alert.source, alert.fingerprint, alert.starts_at)


async def _insert_new(session: AsyncSession, batch: _Batch, items: list[_Item]) -> None:
    """INSERT the batch's new alerts, each firing one already in its open incident.

    Stored ones (retries) are looked up with the flapping count, and the rest go in a
    plain INSERT: SQLAlchemy compiles an INSERT … ON CONFLICT anew every time (it has
    no cache key), which cost more than the rest of a small batch. Another replica may
    store one of these alerts in between (PostgreSQL; SQLite has one writer): the INSERT
    then fails, and ``IntakeQueue`` retries each request on its own, finding it stored.
    """
    stored = await batch.flaps.load(session, {key for i in items if (key := _key(i.alert))})
    items = [item for item in items if _key(item.alert) not in stored]
    if not items:
        return
    firing = [i for i in items if i.alert.status is AlertStatus.FIRING]
    groups = {i.target.group_key for i in firing}
    open_incidents = await incidents.find_open_by_groups(session, groups)
    rows = [_values(item, batch.now, _joins(item, open_incidents)) for item in items]
    with session.no_autoflush:  # earlier alerts' pending writes can wait for one flush
        # The rows go as parameters of one statement, sent as multi-row VALUES.
        for row in await session.scalars(_INSERT, rows):
            batch.inserted[row.source, row.fingerprint, row.starts_at] = row


def _joins(item: _Item, open_incidents: dict[str, Incident]) -> int | None:
    """The open incident a new firing alert joins, known before it is stored (no UPDATE)."""
    if item.alert.status is not AlertStatus.FIRING or item.silence is not None:
        return None
    incident = open_incidents.get(item.target.group_key)
    return incident.id if incident is not None else None


def _values(item: _Item, now: datetime, incident_id: int | None) -> dict[str, object]:
    alert = item.alert
    return {
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "name": alert.name[:200],
        "summary": alert.summary,
        "severity": alert.severity,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "links": alert.links,
        "raw": alert.raw,
        "group_key": item.target.group_key,
        "playbook_id": item.target.playbook.id,
        "incident_id": incident_id,
        "silence_id": item.silence.id if item.silence else None,
        "flapping": False,
        "received_at": now,
        "updated_at": now,
    }


async def _after_insert(session: AsyncSession, batch: _Batch, item: _Item) -> None:
    key = _key(item.alert)
    row = batch.inserted.get(key) if key is not None else None
    if row is None:  # stored before (a retry), or by another replica a moment ago
        await _update_existing(session, batch, item, await _existing(session, item.alert))
    else:
        await _stored(session, batch, item, row)


async def _ingest_one(session: AsyncSession, batch: _Batch, item: _Item) -> None:
    """An alert the multi-row INSERT could not take: a repeat, or one without a start."""
    if item.alert.starts_at is None:  # a sender that names only the fingerprint
        open_rows = await _open_rows(session, item.alert)
        if item.alert.status is not AlertStatus.FIRING or open_rows:
            for row in open_rows:
                await _update_existing(session, batch, item, row)
            item.result.duplicates += 0 if open_rows else 1
            return
        item = replace(item, alert=replace(item.alert, starts_at=batch.now))  # seen now
    alert = item.alert
    if alert.status is AlertStatus.FIRING and alert.starts_at is not None:
        await batch.flaps.load(session, {(alert.source, alert.fingerprint, alert.starts_at)})
    rows = await _insert_rows(session, [_values(item, batch.now, None)])
    if rows:
        await _stored(session, batch, item, rows[0])
    else:
        await _update_existing(session, batch, item, await _existing(session, alert))


async def _stored(session: AsyncSession, batch: _Batch, item: _Item, row: Alert) -> None:
    """A new alert row: count it, and unless it is silenced, tell its incident."""
    item.result.stored += 1
    flapping = batch.flaps.started(row)
    if item.silence is not None:
        item.silence.matched += 1
        item.result.silenced += 1
    elif row.status == AlertStatus.FIRING:
        incident, opened = await grouping.attach_firing(
            session, batch.config, row, item.target, now=batch.now, flapping=flapping
        )
        (item.result.opened if opened else item.result.joined).append(incident.number)
    else:
        await _first_seen_resolved(session, batch, item, row)


async def _first_seen_resolved(
    session: AsyncSession, batch: _Batch, item: _Item, row: Alert
) -> None:
    """Heard of only once resolved (e.g. sent before Warroom ran): keep it, tell its incident."""
    item.result.resolved += 1
    incident = await incidents.find_open_by_group(session, item.target.group_key)
    if incident is not None:
        row.incident_id = incident.id
        await grouping.record_resolved(session, batch.config, incident, row, now=batch.now)


async def _insert_rows(session: AsyncSession, rows: list[dict[str, object]]) -> list[Alert]:
    """Insert these alerts; those whose (source, fingerprint, starts_at) is stored are skipped."""
    stmt = (
        insert(session, Alert)
        .on_conflict_do_nothing(index_elements=[Alert.source, Alert.fingerprint, Alert.starts_at])
        .returning(Alert)
    )
    with session.no_autoflush:  # earlier alerts' pending writes can wait for one flush
        return list(await session.scalars(stmt, rows))


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


async def _update_existing(session: AsyncSession, batch: _Batch, item: _Item, row: Alert) -> None:
    """A known alert again: a retry (nothing to do), its resolve, or its acknowledgement."""
    alert, result = item.alert, item.result
    if row.status == AlertStatus.RESOLVED or alert.status is AlertStatus.FIRING:
        result.duplicates += 1  # a retry, or a late "firing" after we saw it resolve
        return
    incident = await session.get(Incident, row.incident_id) if row.incident_id else None
    if alert.status is AlertStatus.ACKNOWLEDGED:
        if incident is not None and incident.is_open:
            pages = await incidents.acknowledge(
                session, incident, alert.source, now=batch.now, config=batch.config
            )
            result.acknowledged += len(pages)
        return
    row.status = AlertStatus.RESOLVED
    row.ends_at = alert.ends_at or batch.now
    row.updated_at = batch.now
    result.resolved += 1
    if incident is not None:
        await grouping.record_resolved(session, batch.config, incident, row, now=batch.now)
