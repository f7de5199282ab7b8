"""Grouping: which incident a stored alert belongs to, and what its arrival changes.

A firing alert joins the open incident of its group key, or opens one. Two refinements
keep people from being woken twice for one problem: an alert that keeps firing and
resolving (flapping) re-opens its recent incident quietly instead of paging again, and a
playbook may ask for a recently resolved incident to be reopened (``reopen_within``).
When every alert of an incident has resolved, the channel is told, and with the
playbook's ``auto_resolve`` the incident resolves after that quiet period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, incidents, templating, timeline
from bot.alerts import AlertStatus
from bot.models import Alert, Incident, IncidentStatus
from bot.routing import Route
from bot.runtime import LoadedConfig
from bot.timeline import Kind

FLAP_WINDOW = timedelta(hours=1)
FLAP_STARTS = 3  # this many starts of one alert within the window is flapping


async def attach_firing(
    session: AsyncSession,
    config: LoadedConfig,
    row: Alert,
    target: Route,
    *,
    now: datetime,
    flapping: bool = False,
) -> tuple[Incident, bool]:
    """Put a new firing alert into its incident; True if that incident was opened for it.

    ``flapping``: the alert started ``FLAP_STARTS`` times within ``FLAP_WINDOW`` (intake
    counts starts for a whole batch at once).
    """
    if flapping:
        row.flapping = True
    # Reads that need nothing pending: leaving the batch's UPDATEs and timeline INSERTs
    # unflushed lets SQLAlchemy write them together, many rows a statement.
    with session.no_autoflush:
        incident = await incidents.find_open_by_group(session, target.group_key)
        if incident is None:  # ask again once it is this transaction's turn to open
            await incidents.take_turn_to_open(session)
            incident = await incidents.find_open_by_group(session, target.group_key)
    if incident is None:
        incident = await _reopenable(session, row, target, now)
        if incident is not None:
            await _reopen(session, incident, row, now)
        else:
            return await _open(session, config, row, target, now), True
    if row.incident_id != incident.id:  # intake sets it when the incident was open already
        row.incident_id = incident.id
    if incident.auto_resolve_at is not None:
        incident.auto_resolve_at = None  # it is firing again: no automatic resolution
    # A joining alert updates the card, not the channel: no message per alert.
    what = "fired again (flapping)" if row.flapping else "fired"
    timeline.record_at_commit(
        session,
        incident,
        Kind.ALERT_FIRED,
        f"{row.name} {what}: {row.summary}",
        now=now,
        at=row.starts_at,
        data={"alert_id": row.id, "fingerprint": row.fingerprint, "flapping": row.flapping},
    )
    effects.refresh_card(session, incident, now=now)
    return incident, False


async def _reopenable(
    session: AsyncSession, row: Alert, target: Route, now: datetime
) -> Incident | None:
    """The group's last incident, if flapping or the playbook's reopen window allow reopening."""
    window = FLAP_WINDOW if row.flapping else target.playbook.reopen_within
    if window is None:
        return None
    query = (
        select(Incident)
        .where(
            Incident.group_key == target.group_key,
            Incident.status == IncidentStatus.RESOLVED,
            Incident.resolved_at >= now - window,
        )
        .order_by(Incident.resolved_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _reopen(session: AsyncSession, incident: Incident, row: Alert, now: datetime) -> None:
    incident.status = IncidentStatus.OPEN
    incident.resolved_at = None
    incidents.remember_open(session, incident)
    why = "it is flapping; nobody is paged again" if row.flapping else "it fired again soon after"
    event = await timeline.record(
        session,
        incident,
        Kind.REOPENED,
        f"Reopened: {row.name} {why}",
        now=now,
        data={"alert_id": row.id, "flapping": row.flapping},
    )
    effects.post_event(session, event, now=now)


async def _open(
    session: AsyncSession, config: LoadedConfig, row: Alert, target: Route, now: datetime
) -> Incident:
    """Open the group's incident; the caller holds the turn, so nobody else has meanwhile."""
    incident = await incidents.open_incident(
        session,
        config,
        playbook=target.playbook,
        title=title(target, row),
        now=now,
        group_key=target.group_key,
        detected_at=row.starts_at,
        labels=row.labels,
    )
    row.incident_id = incident.id
    # Written at commit with the batch's other events: it is dated when the alert
    # started, before the opening, so it still comes first on the timeline.
    timeline.record_at_commit(
        session,
        incident,
        Kind.DETECTED,
        f"{row.name} fired: {row.summary}",
        now=now,
        at=row.starts_at,
        data={"alert_id": row.id},
    )
    incidents.remember_open(session, incident)  # its group's next alerts join it
    return incident


def title(target: Route, row: Alert) -> str:
    """The playbook's ``incident_title`` template, else its title and the grouping values."""
    playbook = target.playbook
    if playbook.incident_title:
        try:
            rendered = templating.render(playbook.incident_title, row.labels, row.annotations)
        except templating.TemplateError:
            rendered = ""
        if rendered.strip():
            return rendered
    values = [row.labels.get(name, "") for name in playbook.group_by]
    detail = " ".join(v for v in values if v) or row.summary
    return f"{playbook.title}: {detail}"


async def record_resolved(
    session: AsyncSession, config: LoadedConfig, incident: Incident, row: Alert, *, now: datetime
) -> None:
    """Tell the channel an alert resolved; when it was the last, maybe schedule auto-resolve."""
    firing = await incidents.count_alerts(session, incident, AlertStatus.FIRING)
    text = f"{row.name} resolved: {row.summary}"
    data: dict[str, object] = {"alert_id": row.id, "firing": firing}
    playbook = config.playbooks.get(incident.playbook_id)
    if firing == 0 and incident.is_open:
        text += " — all alerts of this incident have now resolved"
        if playbook is not None and playbook.auto_resolve is not None:
            incident.auto_resolve_at = now + playbook.auto_resolve
            data["auto_resolve_at"] = incident.auto_resolve_at.isoformat()
            data["incident_id"] = incident.id
    event = await timeline.record(
        session, incident, Kind.ALERT_RESOLVED, text, now=now, at=row.ends_at or now, data=data
    )
    effects.post_event(session, event, now=now)
    effects.refresh_card(session, incident, now=now)
