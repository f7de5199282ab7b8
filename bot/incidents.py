"""Incidents: opening, finding, changing and resolving them.

Functions here run inside the caller's transaction and take the session explicitly,
so intake and the slash commands compose them into one unit of work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, paging, sql, steps, templating, timeline
from bot.alerts import AlertStatus
from bot.checks import describe_check
from bot.config import Playbook
from bot.db import before_commit
from bot.errors import UserError
from bot.followups import view as followup_view
from bot.models import (
    Alert,
    Counter,
    Followup,
    Incident,
    IncidentStatus,
    Page,
    PageState,
    StepProgress,
    TimelineEvent,
)
from bot.runtime import LoadedConfig
from bot.snapshot import AlertView, EventView, IncidentSnapshot, IncidentView, PageView, StepView
from bot.sql import insert
from bot.timeline import Kind


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """How a person names an incident: its number, or the channel they typed in."""

    number: int | None = None
    channel_id: str | None = None
    id: int | None = None  # from a button, which carries the row id


async def take_turn_to_open(session: AsyncSession) -> None:
    """Take this transaction's turn to open or reopen incidents, held until it ends.

    Two transactions that each found no open incident for a group would otherwise both
    open one. The turn is the incident counter's row lock, which every opening needs for
    its number anyway. Once it is held, nobody else can open an incident until this
    transaction ends, so the groups it found without one are asked once more (another
    transaction may have opened one and committed since), and from then on what it knows
    stays true. On SQLite, with one writer at a time, the transaction is the turn.

    It replaces a savepoint around each opening, which caught the index's refusal of a
    second open incident per group: two statements more per incident, 80 of them when a
    storm opens 40 (that index stays, as the last guard).
    """
    if _LAST_NUMBER in session.info:
        return
    stmt = insert(session, Counter).values(name="incident", value=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value}
    ).returning(Counter.value)
    session.info[_LAST_NUMBER] = int(await session.scalar(stmt))
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        return  # one writer: nobody could have opened one since this transaction began
    known: dict[str, Incident | None] = session.info.get(_OPEN_BY_GROUP, {})
    if unopened := {key for key, incident in known.items() if incident is None}:
        await find_open_by_groups(session, unopened, fresh=True)


async def next_number(session: AsyncSession) -> int:
    """Gap-free incident numbers: counted here during the turn, written once at commit."""
    await take_turn_to_open(session)
    if not session.info.get(_NUMBERED):
        session.info[_NUMBERED] = True
        before_commit(session, _save_last_number)
    session.info[_LAST_NUMBER] += 1
    return int(session.info[_LAST_NUMBER])


async def _save_last_number(session: AsyncSession) -> None:
    number = session.info[_LAST_NUMBER]
    await session.execute(update(Counter).where(Counter.name == "incident").values(value=number))


_LAST_NUMBER = "incident_number"  # present once this transaction has its turn
_NUMBERED = "incident_numbered"


async def open_incident(
    session: AsyncSession,
    config: LoadedConfig,
    *,
    playbook: Playbook,
    title: str,
    now: datetime,
    group_key: str | None = None,
    detected_at: datetime | None = None,
    declared_by: str | None = None,
    labels: dict[str, str] | None = None,
) -> Incident:
    incident = Incident(
        number=await next_number(session),
        title=title[:200],
        severity=playbook.severity_for(labels or {}),
        status=IncidentStatus.OPEN,
        playbook_id=playbook.id,
        group_key=group_key,
        declared_by=declared_by,
        opened_at=now,
        detected_at=detected_at or now,
        labels=labels or {},
    )
    session.add(incident)
    await session.flush()
    await _record_opening(session, incident, playbook, now=now)
    effects.open_channel(session, incident, now=now)
    await steps.create(session, incident, playbook, now=now)
    effects.post_related(session, incident, now=now)
    effects.invite(session, incident, [declared_by] if declared_by else [], now=now)
    for role_id in dict.fromkeys(playbook.page):  # a role listed twice is paged once
        await paging.page_role(
            session,
            config,
            incident,
            role_id,
            now=now,
            playbook=playbook,
            reason=f"{playbook.title} playbook pages {config.role_name(role_id)}",
            first=True,
        )
    return incident


async def _record_opening(
    session: AsyncSession, incident: Incident, playbook: Playbook, *, now: datetime
) -> None:
    if incident.declared_by:
        await timeline.record(
            session,
            incident,
            Kind.DECLARED,
            f"Declared: {incident.title}",
            now=now,
            actor=incident.declared_by,
            data={"playbook": playbook.id},
        )
        return
    await timeline.record(
        session,
        incident,
        Kind.OPENED,
        f"Opened by alert, playbook {playbook.id}",
        now=now,
        data={"playbook": playbook.id, "group_key": incident.group_key},
    )


async def find_open_by_group(session: AsyncSession, group_key: str) -> Incident | None:
    return (await find_open_by_groups(session, {group_key})).get(group_key)


async def find_open_by_groups(
    session: AsyncSession, group_keys: set[str], *, fresh: bool = False
) -> dict[str, Incident]:
    """These groups' open incidents; remembered for the rest of the transaction.

    During a storm a batch holds many alerts of the same few groups; asking once for all
    of them instead of once per alert is most of intake's database work saved. A group
    with no open incident is remembered too, so its first alert opens one without asking
    again, and the rest find it (``remember_open``). ``fresh``: ask anyway, because
    another transaction may have opened one since.
    """
    known: dict[str, Incident | None] = session.info.setdefault(_OPEN_BY_GROUP, {})
    wanted = {key for key in group_keys if fresh or _unknown(known, key)}
    if wanted:
        known.update(dict.fromkeys(wanted))
        for incident in await session.scalars(_OPEN_IN_GROUPS, {"keys": sql.padded(wanted)}):
            remember_open(session, incident)
    return {key: found for key in group_keys if (found := known.get(key)) is not None}


# Built once: every intake commit asks (see ``sql.in_list`` for why).
_OPEN_IN_GROUPS = select(Incident).where(
    Incident.group_key.in_(sql.in_list("keys")), Incident.status == IncidentStatus.OPEN
)


def remember_open(session: AsyncSession, incident: Incident) -> None:
    """``incident`` is its group's open incident from now on in this transaction."""
    if incident.group_key is not None:
        session.info.setdefault(_OPEN_BY_GROUP, {})[incident.group_key] = incident


_OPEN_BY_GROUP = "open_by_group"


def _unknown(known: dict[str, Incident | None], key: str) -> bool:
    """Not asked for yet, or the incident remembered has been resolved since."""
    return key not in known or (known[key] is not None and not known[key].is_open)


async def find(session: AsyncSession, ref: IncidentRef) -> Incident:
    """The incident a command is about, or a UserError that says how to name one."""
    if ref.id is not None:
        incident = await session.get(Incident, ref.id)
        if incident is None:
            raise UserError("That incident no longer exists.")
        return incident
    if ref.number is not None:
        incident = await session.scalar(select(Incident).where(Incident.number == ref.number))
        if incident is None:
            raise UserError(f"There is no incident #{ref.number}.")
        return incident
    if ref.channel_id:
        query = select(Incident).where(Incident.channel_id == ref.channel_id)
        incident = await session.scalar(query)
        if incident is not None:
            return incident
    raise UserError(
        "This is not an incident channel. Run the command in the incident's channel, "
        "or name the incident, e.g. `/incident note #12 rolled back`."
    )


async def hand_on(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    page_id: int,
    actor: str,
    to_user: str | None,
    *,
    now: datetime,
) -> None:
    """Pass a waiting page to the next level, or to a named person, before it times out."""
    incident = await lock(session, incident.id) or incident
    require_open(incident)
    page = await session.get(Page, page_id, populate_existing=True)
    if page is None or page.state != PageState.PENDING:
        raise UserError("That page is no longer waiting: it was acknowledged or moved on.")
    await paging.escalate(session, config, page, incident, now=now, by=actor, to_user=to_user)
    effects.refresh_card(session, incident, now=now)


async def find_by_page(session: AsyncSession, page_id: int) -> Incident:
    query = select(Incident).join(Page, Page.incident_id == Incident.id).where(Page.id == page_id)
    incident = await session.scalar(query)
    if incident is None:
        raise UserError("That page no longer exists.")
    return incident


async def lock(
    session: AsyncSession, incident_id: int, *, skip_locked: bool = False
) -> Incident | None:
    """Re-read the incident under a row lock (PostgreSQL).

    Acknowledgements and escalations both take this lock before touching pages, always
    in the order incident → page, so they serialise without deadlocking.
    """
    query = (
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def escalate_page(
    session: AsyncSession, config: LoadedConfig, page: Page, *, now: datetime
) -> bool:
    """Escalate a timed-out page unless someone acted first; True if it escalated.

    A replica that finds the incident locked skips it: whoever holds the lock is either
    acknowledging (so no escalation is wanted) or escalating it already.
    """
    incident = await lock(session, page.incident_id, skip_locked=True)
    if incident is None:
        return False
    page = (
        await session.scalars(
            select(Page).where(Page.id == page.id).execution_options(populate_existing=True)
        )
    ).one()
    if page.state != PageState.PENDING or page.ack_deadline > now or not incident.is_open:
        return False
    await paging.escalate(session, config, page, incident, now=now)
    effects.refresh_card(session, incident, now=now)
    return True


def require_open(incident: Incident) -> None:
    if not incident.is_open:
        raise UserError(f"Incident #{incident.number} is already resolved.")


async def acknowledge(
    session: AsyncSession,
    incident: Incident,
    actor: str,
    *,
    now: datetime,
    config: LoadedConfig,
    page_id: int | None = None,
) -> list[Page]:
    incident = await lock(session, incident.id) or incident
    require_open(incident)
    pages = await paging.acknowledge(session, config, incident, actor, now=now, page_id=page_id)
    if not pages:
        return []
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
    roles = sorted({p.role for p in pages})
    names = ", ".join(config.role_name(r) for r in roles)
    event = await timeline.record(
        session,
        incident,
        Kind.ACKNOWLEDGED,
        f"{actor} acknowledged the page for {names}",
        now=now,
        actor=actor,
        data={"roles": roles, "page_ids": [p.id for p in pages]},
    )
    effects.post_event(session, event, now=now)
    effects.invite(session, incident, [actor], now=now)
    effects.refresh_card(session, incident, now=now)
    return pages


async def add_note(
    session: AsyncSession, incident: Incident, actor: str, text: str, *, now: datetime
) -> TimelineEvent:
    event = await timeline.record(session, incident, Kind.NOTE, text, now=now, actor=actor)
    effects.post_event(session, event, now=now)
    return event


async def set_status(
    session: AsyncSession, incident: Incident, actor: str, text: str, *, now: datetime
) -> TimelineEvent:
    require_open(incident)
    incident.status_text = text
    event = await timeline.record(session, incident, Kind.STATUS, text, now=now, actor=actor)
    effects.post_event(session, event, now=now)
    effects.refresh_card(session, incident, now=now)
    return event


async def resolve(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    actor: str | None,
    summary: str,
    *,
    now: datetime,
) -> TimelineEvent:
    incident = await lock(session, incident.id) or incident
    require_open(incident)
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.auto_resolve_at = None
    incident.summary = summary or None
    await paging.close_pages(session, config, incident, now=now)
    event = await timeline.record(
        session, incident, Kind.RESOLVED, summary or "Resolved", now=now, actor=actor
    )
    effects.post_event(session, event, now=now)
    effects.refresh_card(session, incident, now=now)
    effects.post_postmortem(session, incident, now=now)
    return event


SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


async def mitigated(
    session: AsyncSession, incident: Incident, actor: str, text: str, *, now: datetime
) -> TimelineEvent:
    """The bleeding has stopped (rolled back, failed over) though the cause may remain."""
    require_open(incident)
    event = await timeline.record(
        session, incident, Kind.MITIGATED, text or "Mitigated", now=now, actor=actor
    )
    effects.post_event(session, event, now=now)
    effects.refresh_card(session, incident, now=now)
    return event


async def set_severity(
    session: AsyncSession, incident: Incident, actor: str, severity: str, *, now: datetime
) -> TimelineEvent:
    severity = severity.strip().lower()
    if severity not in SEVERITIES:
        raise UserError(f"Severity must be one of {', '.join(SEVERITIES)} (sev1 is the worst).")
    if severity == incident.severity:
        raise UserError(f"Incident #{incident.number} is already {severity.upper()}.")
    before, incident.severity = incident.severity, severity
    event = await timeline.record(
        session,
        incident,
        Kind.SEVERITY_CHANGED,
        f"Severity changed from {before.upper()} to {severity.upper()}",
        now=now,
        actor=actor,
        data={"from": before, "to": severity},
    )
    effects.post_event(session, event, now=now)
    effects.refresh_card(session, incident, now=now)
    return event


async def assign(
    session: AsyncSession, incident: Incident, actor: str, role: str, user: str, *, now: datetime
) -> TimelineEvent:
    """Give someone an incident role (incident-commander, comms, scribe, …) and invite them."""
    role = slug(role, 40)
    if role in ("commander", "ic"):
        role = "incident-commander"
    if role == "incident-commander":
        incident.commander = user
    event = await timeline.record(
        session,
        incident,
        Kind.ROLE_ASSIGNED,
        f"{user} is now {role}",
        now=now,
        actor=actor,
        data={"role": role, "user": user},
    )
    effects.post_event(session, event, now=now)
    effects.invite(session, incident, [user], now=now)
    effects.refresh_card(session, incident, now=now)
    return event


async def cancel_auto_resolve(
    session: AsyncSession, incident: Incident, actor: str, *, now: datetime
) -> None:
    incident.auto_resolve_at = None
    event = await timeline.record(
        session,
        incident,
        Kind.AUTO_RESOLVE_CANCELLED,
        "Kept open: the incident will not resolve automatically",
        now=now,
        actor=actor,
    )
    effects.post_event(session, event, now=now)


async def due_for_auto_resolve(session: AsyncSession, now: datetime) -> list[int]:
    query = select(Incident.id).where(
        Incident.status == IncidentStatus.OPEN, Incident.auto_resolve_at <= now
    )
    return list(await session.scalars(query))


async def by_ids(session: AsyncSession, ids: set[int]) -> list[Incident]:
    return list(await session.scalars(select(Incident).where(Incident.id.in_(ids)))) if ids else []


async def detected_between(session: AsyncSession, since: datetime, until: datetime) -> list[int]:
    query = select(Incident.id).where(Incident.detected_at >= since, Incident.detected_at < until)
    return list(await session.scalars(query.order_by(Incident.id).limit(2000)))


async def recent_resolved(session: AsyncSession, limit: int, *, exclude: int) -> list[int]:
    query = select(Incident.id).where(
        Incident.status == IncidentStatus.RESOLVED, Incident.id != exclude
    )
    return list(await session.scalars(query.order_by(Incident.id.desc()).limit(limit)))


async def list_open(session: AsyncSession) -> list[Incident]:
    query = select(Incident).where(Incident.status == IncidentStatus.OPEN)
    return list(await session.scalars(query.order_by(Incident.number)))


async def count_alerts(session: AsyncSession, incident: Incident, status: str) -> int:
    query = select(func.count(Alert.id)).where(
        Alert.incident_id == incident.id, Alert.status == status
    )
    return int(await session.scalar(query) or 0)


def slug(text: str, limit: int = 60) -> str:
    """Slack channel names: lowercase letters, digits, hyphens; at most 80 characters."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:limit].rstrip("-") or "incident"


def channel_name(incident: Incident | IncidentView) -> str:
    return f"inc-{incident.number}-{slug(incident.title)}"


async def snapshot(
    session: AsyncSession, config: LoadedConfig, incident_id: int
) -> IncidentSnapshot:
    """Everything rendering needs, loaded in a handful of queries.

    Alerts and events are read as plain columns, not ORM objects, and without the alerts'
    raw payloads: a card is re-rendered every few seconds during a storm, and building
    thousands of tracked objects per render was most of what a storm cost.
    """
    incident = await session.get_one(Incident, incident_id)
    alerts = await _alert_views(session, incident_id)
    pages = await _page_views(session, config, incident_id)
    progress = await session.scalars(
        select(StepProgress)
        .where(StepProgress.incident_id == incident_id)
        .order_by(StepProgress.position)
    )
    steps = [_step_view(s) for s in progress]
    events = await _event_views(session, incident_id)
    followups = await session.scalars(
        select(Followup).where(Followup.incident_id == incident_id).order_by(Followup.id)
    )
    return IncidentSnapshot(
        followups=[followup_view(f) for f in followups],
        incident=view(incident, config),
        alerts=alerts,
        pages=pages,
        steps=steps,
        events=events,
    )


async def page_snapshot(
    session: AsyncSession, config: LoadedConfig, incident_id: int
) -> IncidentSnapshot:
    """What a page's DM shows, and no more.

    That is the incident, its pages, its firing alerts and its acknowledgements; no steps,
    follow-ups or other timeline entries. During a storm one DM gathers a person's pages
    of up to ``render.PAGES_PER_DM`` incidents, each with hundreds of alerts and an "alert
    fired" entry for each; full snapshots of them all were the dearest part of delivering
    a page.
    """
    incident = await session.get_one(Incident, incident_id)
    alerts = await _alert_views(session, incident_id, Alert.status == AlertStatus.FIRING)
    pages = await _page_views(session, config, incident_id)
    kinds = [Kind.ACKNOWLEDGED, Kind.ENTRY_REMOVED]
    events = await _event_views(session, incident_id, TimelineEvent.kind.in_(kinds))
    return IncidentSnapshot(
        incident=view(incident, config), alerts=alerts, pages=pages, steps=[], events=events
    )


async def _alert_views(
    session: AsyncSession, incident_id: int, *where: ColumnElement[bool]
) -> list[AlertView]:
    rows = await session.execute(
        select(*_ALERT_VIEW_COLUMNS)
        .where(Alert.incident_id == incident_id, *where)
        .order_by(Alert.starts_at, Alert.id)
    )
    return [AlertView(*row) for row in rows]


async def _page_views(
    session: AsyncSession, config: LoadedConfig, incident_id: int
) -> list[PageView]:
    pages = await session.scalars(
        select(Page).where(Page.incident_id == incident_id).order_by(Page.sent_at, Page.id)
    )
    return [_page_view(p, config) for p in pages]


async def _event_views(
    session: AsyncSession, incident_id: int, *where: ColumnElement[bool]
) -> list[EventView]:
    rows = await session.execute(
        select(*_EVENT_VIEW_COLUMNS)
        .where(TimelineEvent.incident_id == incident_id, *where)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    return _without_removed([EventView(*row) for row in rows])


async def load_view(session: AsyncSession, config: LoadedConfig, incident_id: int) -> IncidentView:
    """The incident alone, for work that needs no alerts or timeline (creating its channel)."""
    return view(await session.get_one(Incident, incident_id), config)


def view(incident: Incident, config: LoadedConfig) -> IncidentView:
    playbook = config.playbooks.get(incident.playbook_id)
    return IncidentView(
        id=incident.id,
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        playbook_id=incident.playbook_id,
        playbook_title=playbook.title if playbook else incident.playbook_id,
        channel_id=incident.channel_id,
        channel_name=incident.channel_name,
        status_text=incident.status_text,
        summary=incident.summary,
        declared_by=incident.declared_by,
        opened_at=incident.opened_at,
        detected_at=incident.detected_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        links=playbook_links(playbook, incident.labels) if playbook else {},
    )


def playbook_links(playbook: Playbook, labels: dict[str, str]) -> dict[str, str]:
    """The playbook's dashboards and runbooks, with label values quoted into their URLs."""
    links = {}
    for link in playbook.links:
        try:
            links[link.title] = templating.render(link.url, labels, url=True)
        except templating.TemplateError:
            continue  # a link that cannot be built is left off, not shown broken
    return links


# In the order of AlertView's and EventView's fields.
_ALERT_VIEW_COLUMNS = (
    Alert.id,
    Alert.name,
    Alert.summary,
    Alert.status,
    Alert.severity,
    Alert.labels,
    Alert.starts_at,
    Alert.ends_at,
    Alert.links,
    Alert.flapping,
)
_EVENT_VIEW_COLUMNS = (
    TimelineEvent.id,
    TimelineEvent.at,
    TimelineEvent.kind,
    TimelineEvent.actor,
    TimelineEvent.text,
    TimelineEvent.data,
)


def _page_view(page: Page, config: LoadedConfig) -> PageView:
    return PageView(
        id=page.id,
        role=page.role,
        role_name=config.role_name(page.role),
        user_id=page.user_id,
        attempt=page.attempt,
        state=page.state,
        sent_at=page.sent_at,
        ack_deadline=page.ack_deadline,
        acknowledged_at=page.acknowledged_at,
        acknowledged_by=page.acknowledged_by,
    )


def _step_view(step: StepProgress) -> StepView:
    return StepView(
        id=step.id,
        position=step.position,
        title=step.title,
        role=step.role,
        details=step.details,
        state=step.state,
        done_by=step.done_by,
        done_at=step.done_at,
        note=step.note,
        check=describe_check(step.check) if step.check else None,
        check_outcome=step.check_outcome,
        check_detail=step.check_detail,
    )


def _without_removed(events: list[EventView]) -> list[EventView]:
    """Entries someone removed stay in the table but leave the timeline people read."""
    removed = {e.data.get("event_id") for e in events if e.kind == Kind.ENTRY_REMOVED}
    return [e for e in events if e.id not in removed]
