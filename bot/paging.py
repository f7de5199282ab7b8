"""Paging: who gets woken, and escalation when nobody acknowledges.

Acknowledgement and escalation both lock the incident row first, so an
acknowledgement racing an escalation tick is serialised: either the tick sees the
page acknowledged and stops, or the acknowledgement sees the new page and stops it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, timeline
from bot.config import Playbook
from bot.models import Incident, Page, PageState
from bot.oncall import next_member, on_call
from bot.runtime import LoadedConfig
from bot.timeline import Kind

DEFAULT_ACK_TIMEOUT = timedelta(minutes=5)
# After this many trips round a rotation with no acknowledgement, stop paging and
# raise the alarm in the channel: a page that cycles forever is noise nobody reads.
MAX_ROUNDS = 3


def ack_timeout(config: LoadedConfig, role_id: str, playbook: Playbook | None) -> timedelta:
    if playbook is not None and playbook.ack_timeout is not None:
        return playbook.ack_timeout
    role = config.oncall.roles.get(role_id)
    return role.ack_timeout if role else DEFAULT_ACK_TIMEOUT


async def page_role(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    role_id: str,
    *,
    now: datetime,
    playbook: Playbook | None,
    reason: str,
) -> Page:
    """Page the role's current on-call member, or record that nobody is on call."""
    role = config.oncall.roles.get(role_id)
    user = on_call(role_id, role, now).user if role and role.members else None
    timeout = ack_timeout(config, role_id, playbook)
    return await _send(session, config, incident, role_id, user, 0, now, timeout, reason)


async def _send(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    role_id: str,
    user: str | None,
    attempt: int,
    now: datetime,
    wait: timedelta,
    reason: str,
) -> Page:
    state = PageState.PENDING if user else PageState.EXHAUSTED
    page = Page(
        incident_id=incident.id,
        role=role_id,
        user_id=user,
        attempt=attempt,
        state=state,
        reason=reason,
        sent_at=now,
        ack_deadline=now + wait,
    )
    session.add(page)
    await session.flush()
    role_name = config.role_name(role_id)
    if user is None:
        event = await timeline.record(
            session,
            incident,
            Kind.UNROUTABLE,
            f"Nobody is on call for {role_name}",
            now=now,
            data={"role": role_id, "page_id": page.id},
        )
    else:
        event = await timeline.record(
            session,
            incident,
            Kind.PAGED,
            f"Paged {user} as {role_name}",
            now=now,
            data={"role": role_id, "user_id": user, "attempt": attempt, "page_id": page.id},
        )
        effects.send_page(session, page, now=now)
    if attempt == 0:  # an escalation announces itself; one channel message is enough
        effects.post_event(session, event, now=now)
    return page


async def acknowledge(
    session: AsyncSession,
    incident: Incident,
    actor: str,
    *,
    now: datetime,
    page_id: int | None = None,
) -> list[Page]:
    """Acknowledge one page, or every pending page of the incident; returns those acknowledged.

    The caller must hold the incident row lock (``incidents.lock``).
    """
    query = select(Page).where(Page.incident_id == incident.id, Page.state == PageState.PENDING)
    if page_id is not None:
        query = query.where(Page.id == page_id)
    pages = list(await session.scalars(query.execution_options(populate_existing=True)))
    for page in pages:
        page.state = PageState.ACKNOWLEDGED
        page.acknowledged_at = now
        page.acknowledged_by = actor
        effects.refresh_page(session, page, now=now)
    return pages


async def cancel_pending(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    query = select(Page).where(Page.incident_id == incident.id, Page.state == PageState.PENDING)
    for page in await session.scalars(query):
        page.state = PageState.CANCELLED
        effects.refresh_page(session, page, now=now)


async def due_pages(session: AsyncSession, now: datetime, limit: int = 50) -> list[Page]:
    """Pages whose acknowledgement deadline has passed (candidates: re-check under lock)."""
    query = (
        select(Page)
        .where(Page.state == PageState.PENDING, Page.ack_deadline <= now)
        .order_by(Page.ack_deadline)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def escalate(
    session: AsyncSession, config: LoadedConfig, page: Page, incident: Incident, *, now: datetime
) -> Page | None:
    """Hand a timed-out page to the next member of the rotation; None when exhausted.

    The caller must hold the incident row lock and have re-read the page under it.
    """
    role = config.oncall.roles.get(page.role)
    members = role.members if role else []
    if not members or page.attempt + 1 >= len(members) * MAX_ROUNDS:
        page.state = PageState.EXHAUSTED
        effects.refresh_page(session, page, now=now)
        event = await timeline.record(
            session,
            incident,
            Kind.ESCALATION_EXHAUSTED,
            f"Nobody acknowledged the page for {config.role_name(page.role)}",
            now=now,
            data={"role": page.role, "page_id": page.id},
        )
        effects.post_event(session, event, now=now)
        return None
    page.state = PageState.ESCALATED
    effects.refresh_page(session, page, now=now)
    user = next_member(role, page.user_id or "", now) if role else None
    timeout = page.ack_deadline - page.sent_at
    event = await timeline.record(
        session,
        incident,
        Kind.ESCALATED,
        f"{page.user_id} did not acknowledge within {timeout}; escalating to {user}",
        now=now,
        data={"role": page.role, "from_user": page.user_id, "to_user": user},
    )
    effects.post_event(session, event, now=now)
    reason = f"escalated: {page.user_id} did not acknowledge"
    return await _send(
        session, config, incident, page.role, user, page.attempt + 1, now, timeout, reason
    )
