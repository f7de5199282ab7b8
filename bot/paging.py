"""Paging: who gets woken, and escalation when nobody acknowledges.

Each paged role follows an escalation policy (the playbook's, else the role's own, else
the default: whoever is on call, then the next members in turn). A page row is one
level of that policy; when its wait runs out the next level is paged, and after the last
level of the last repeat Warroom gives up loudly in the channel. A level with nobody to
page (a layer off duty, no lead) is skipped at once and said so in the channel.

Acknowledgement and escalation both lock the incident row first, so an acknowledgement
racing an escalation tick is serialised: either the tick sees the page acknowledged and
stops, or the acknowledgement sees the new page and stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, overrides, timeline
from bot.config import EscalationPolicy, Playbook
from bot.models import Incident, Page, PageState
from bot.oncall import escalation_steps, targets_for_level
from bot.runtime import LoadedConfig
from bot.timeline import Kind

DEFAULT_ACK_TIMEOUT = timedelta(minutes=5)


def policy_for(
    config: LoadedConfig, role_id: str, playbook: Playbook | None
) -> EscalationPolicy | None:
    if playbook is not None and playbook.escalation is not None:
        return playbook.escalation
    role = config.oncall.roles.get(role_id)
    if role is None:
        return None
    return escalation_steps(role, playbook.ack_timeout if playbook else None)


@dataclass(frozen=True, slots=True)
class Chain:
    """Where a role's escalation stands: the policy, and the attempt its level 0 was."""

    role_id: str
    policy: EscalationPolicy
    start: int

    def level(self, attempt: int) -> int:
        return (attempt - self.start) % len(self.policy.levels)

    def exhausted(self, attempt: int) -> bool:
        return attempt - self.start >= len(self.policy.levels) * self.policy.repeat


async def page_role(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    role_id: str,
    *,
    now: datetime,
    playbook: Playbook | None,
    reason: str,
    first: bool = False,
) -> Page | None:
    """Start the role's escalation chain at its first level (again, if paged before).

    ``first``: the incident was opened in this transaction, so nobody was paged for it yet
    (one query less for each incident of a storm's first seconds).
    """
    policy = policy_for(config, role_id, playbook)
    if policy is None:
        event = await timeline.record(
            session,
            incident,
            Kind.UNROUTABLE,
            f"Nobody is on call for {config.role_name(role_id)}: the role has no rotation",
            now=now,
            data={"role": role_id},
        )
        effects.post_event(session, event, now=now)
        return None
    start = 0 if first else await _next_attempt(session, incident, role_id)
    chain = Chain(role_id, policy, start)
    return await _page_level(session, config, incident, chain, start, None, now=now, reason=reason)


async def _next_attempt(session: AsyncSession, incident: Incident, role_id: str) -> int:
    latest = await session.scalar(
        select(func.max(Page.attempt)).where(Page.incident_id == incident.id, Page.role == role_id)
    )
    return 0 if latest is None else int(latest) + 1


async def _page_level(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    chain: Chain,
    attempt: int,
    previous_user: str | None,
    *,
    now: datetime,
    reason: str,
) -> Page | None:
    """Page the first level from ``attempt`` on that has somebody; None when none has."""
    role = config.oncall.roles.get(chain.role_id)
    covering = await overrides.active(session, now)
    while not chain.exhausted(attempt):
        level = chain.policy.levels[chain.level(attempt)]
        users = (
            targets_for_level(
                chain.role_id,
                role,
                level,
                now,
                previous_user=previous_user,
                overrides=covering,
                roles=config.oncall.roles,
            )
            if role is not None
            else []
        )
        if users:
            return await _send(
                session, config, incident, chain, attempt, users[0], level.wait, now, reason
            )
        event = await timeline.record(
            session,
            incident,
            Kind.UNROUTABLE,
            f"Nobody to page for {config.role_name(chain.role_id)} at {level.notify}; next level",
            now=now,
            data={"role": chain.role_id, "level": level.notify},
        )
        effects.post_event(session, event, now=now)
        attempt += 1
    await _give_up(session, config, incident, chain.role_id, now=now)
    return None


async def _send(
    session: AsyncSession,
    config: LoadedConfig,
    incident: Incident,
    chain: Chain,
    attempt: int,
    user: str,
    wait: timedelta,
    now: datetime,
    reason: str,
) -> Page:
    page = Page(
        incident_id=incident.id,
        role=chain.role_id,
        user_id=user,
        attempt=attempt,
        chain_start=chain.start,
        state=PageState.PENDING,
        reason=reason,
        sent_at=now,
        ack_deadline=now + wait,
    )
    session.add(page)
    await session.flush()
    event = await timeline.record(
        session,
        incident,
        Kind.PAGED,
        f"Paged {user} as {config.role_name(chain.role_id)}",
        now=now,
        data={"role": chain.role_id, "user_id": user, "attempt": attempt, "page_id": page.id},
    )
    effects.send_page(session, page, now=now)
    _tell_pagers(session, config, page, "trigger", now=now)
    if attempt == chain.start:  # an escalation announces itself; one channel message is enough
        effects.post_event(session, event, now=now)
    return page


async def _give_up(
    session: AsyncSession, config: LoadedConfig, incident: Incident, role_id: str, *, now: datetime
) -> None:
    event = await timeline.record(
        session,
        incident,
        Kind.ESCALATION_EXHAUSTED,
        f"Nobody acknowledged the page for {config.role_name(role_id)}",
        now=now,
        data={"role": role_id},
    )
    effects.post_event(session, event, now=now)


async def acknowledge(
    session: AsyncSession,
    config: LoadedConfig,
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
        _tell_pagers(session, config, page, "acknowledge", now=now)
    return pages


async def close_pages(
    session: AsyncSession, config: LoadedConfig, incident: Incident, *, now: datetime
) -> None:
    """The incident is resolved: waiting pages are cancelled, and pagers told it is over."""
    open_states = (PageState.PENDING, PageState.ACKNOWLEDGED)
    query = select(Page).where(Page.incident_id == incident.id, Page.state.in_(open_states))
    for page in await session.scalars(query):
        if page.state == PageState.PENDING:
            page.state = PageState.CANCELLED
            effects.refresh_page(session, page, now=now)
        _tell_pagers(session, config, page, "resolve", now=now)


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
    session: AsyncSession,
    config: LoadedConfig,
    page: Page,
    incident: Incident,
    *,
    now: datetime,
    by: str | None = None,
    to_user: str | None = None,
) -> Page | None:
    """Move a page on: to the next level (timed out, or "Escalate now"), or to ``to_user``.

    The caller must hold the incident row lock and have re-read the page under it.
    """
    playbook = config.playbooks.get(incident.playbook_id)
    policy = policy_for(config, page.role, playbook)
    page.state = PageState.ESCALATED  # EXHAUSTED below if nobody takes it over
    effects.refresh_page(session, page, now=now)
    _tell_pagers(session, config, page, "resolve", now=now)  # stop paging this person
    why = f"{by} handed it on" if by else "did not acknowledge in time"
    if to_user is not None:
        why = f"{by} reassigned it"
    new = None
    if policy is not None:
        chain = Chain(page.role, policy, page.chain_start)
        if to_user is not None:
            wait = page.ack_deadline - page.sent_at
            new = await _send(
                session, config, incident, chain, page.attempt + 1, to_user, wait, now, why
            )
        else:
            new = await _page_level(
                session,
                config,
                incident,
                chain,
                page.attempt + 1,
                page.user_id,
                now=now,
                reason=why,
            )
    else:
        await _give_up(session, config, incident, page.role, now=now)
    target = new.user_id if new else None
    event = await timeline.record(
        session,
        incident,
        Kind.ESCALATED,
        f"Page for {config.role_name(page.role)}: {page.user_id} {why}; now {target or 'nobody'}",
        now=now,
        actor=by,
        data={"role": page.role, "from_user": page.user_id, "to_user": target},
    )
    if new is None:  # nobody took it over: the card and DM say so; the loud message is _give_up's
        page.state = PageState.EXHAUSTED
    else:
        effects.post_event(session, event, now=now)
    return new


def _tell_pagers(
    session: AsyncSession, config: LoadedConfig, page: Page, action: str, *, now: datetime
) -> None:
    pagers = config.oncall.pagers_for(page.role, page.user_id)
    if pagers:
        effects.notify_pagers(session, page, pagers, action, now=now)


async def mtta(session: AsyncSession, *, since: datetime) -> tuple[Means, Means]:
    """Mean time to acknowledge since ``since``, per role and per person, from the pages."""
    query = select(Page.role, Page.user_id, Page.sent_at, Page.acknowledged_at).where(
        Page.sent_at >= since, Page.acknowledged_at.is_not(None)
    )
    by_role: dict[str, list[timedelta]] = {}
    by_person: dict[str, list[timedelta]] = {}
    for role, user, sent, acked in await session.execute(query):
        by_role.setdefault(role, []).append(acked - sent)
        by_person.setdefault(user or "", []).append(acked - sent)
    return _means(by_role), _means(by_person)


Means = dict[str, tuple[timedelta, int]]


def _means(spans: dict[str, list[timedelta]]) -> Means:
    return {
        key: (sum(values, timedelta()) / len(values), len(values)) for key, values in spans.items()
    }
