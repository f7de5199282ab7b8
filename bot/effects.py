"""Effects: side effects written as rows in the transaction that caused them.

Services call these helpers instead of Slack; ``dispatcher`` delivers the rows after
commit. An effect names an *intent* ("show this page to its person"), not a Slack
payload: the gateway renders it from the current state at delivery time, so a card
refreshed five times in a second is rendered once, with the latest data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import sql
from bot.db import before_commit
from bot.models import Effect, EffectState, Incident, Page, StepProgress, TimelineEvent


class EffectKind(StrEnum):
    OPEN_CHANNEL = "open_channel"
    POST_CARD = "post_card"
    REFRESH_CARD = "refresh_card"
    POST_EVENT = "post_event"
    INVITE = "invite"
    SEND_PAGE = "send_page"
    REFRESH_PAGE = "refresh_page"
    POST_POSTMORTEM = "post_postmortem"
    POST_STEPS = "post_steps"
    REFRESH_STEPS = "refresh_steps"
    RUN_CHECK = "run_check"
    CONFIRM_SUBSCRIPTION = "confirm_subscription"
    CAPTURE_MESSAGE = "capture_message"
    REMIND_FOLLOWUPS = "remind_followups"
    POST_RELATED = "post_related"
    NOTIFY_PAGER = "notify_pager"
    POST_NOTICE = "post_notice"


def _incident_key(incident: Incident) -> str:
    return _incident_key_of(incident.id)


def _incident_key_of(incident_id: int) -> str:
    return f"incident:{incident_id}"


def _page_key(page: Page) -> str:
    """Pages keep their own order, apart from the channel's: a page must go out even
    when the incident channel cannot be created. One person's pages share a key, so
    their DMs go out in order, one at a time, and pages waiting their turn are shown
    together in one DM (``SlackGateway.send_page``) instead of one DM each.
    """
    return f"dm:{page.user_id}" if page.user_id else f"page:{page.id}"


def _add(
    session: AsyncSession,
    kind: EffectKind,
    key: str,
    now: datetime,
    due: datetime | None = None,
    **payload: Any,
) -> None:
    """Queue an effect row; the transaction's effects are written together when it commits.

    Nothing in the transaction needs an effect's row before then (``_rendered_anyway``
    looks at the queued ones too), and opening one incident queues half a dozen: as ORM
    objects they cost an INSERT each (SQLite cannot return the ids of a multi-row INSERT
    in order), in one statement they cost one for the whole transaction.
    """
    rows: list[dict[str, Any]] | None = session.info.get(_PENDING)
    if rows is None:
        rows = session.info[_PENDING] = []
        before_commit(session, _insert_pending)
    rows.append(
        {
            "kind": kind,
            "ordering_key": key,
            "payload": payload,
            "due_at": due or now,
            "created_at": now,
        }
    )
    session.info[_QUEUED] = True


_PENDING = "effects_pending"
_QUEUED = "effects_queued"


async def _insert_pending(session: AsyncSession) -> None:
    # In the order they were queued: a key's effects are delivered in id order.
    if rows := session.info.pop(_PENDING, None):
        await (await session.connection()).execute(_INSERT, rows)


_INSERT = insert(Effect.__table__)  # built once, and plain (no ORM): intake writes many


def _pending(session: AsyncSession) -> set[tuple[str, str]]:
    """(kind, ordering_key) of the effects this transaction queued and has not written."""
    return {(row["kind"], row["ordering_key"]) for row in session.info.get(_PENDING, [])}


def queued(session: AsyncSession) -> bool:
    """Whether this session's transaction queued an effect (the dispatcher has work)."""
    return bool(session.info.get(_QUEUED))


def open_channel(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    _add(session, EffectKind.OPEN_CHANNEL, _incident_key(incident), now, incident_id=incident.id)
    _add(session, EffectKind.POST_CARD, _incident_key(incident), now, incident_id=incident.id)


# Cards and checklists are edited in place; during an alert storm one edit every few
# seconds shows everything (each renders the latest state) within Slack's rate limits.
REFRESH_INTERVAL = timedelta(seconds=3)


@dataclass(frozen=True, slots=True)
class _Refresh:
    kind: EffectKind
    incident_id: int
    now: datetime


def _refresh(
    session: AsyncSession, kind: EffectKind, key: str, incident: Incident, now: datetime
) -> None:
    """Ask for an in-place update, at most one waiting and one per ``REFRESH_INTERVAL``.

    Updates have their own ordering key, so a delayed edit never holds up the channel's
    messages; an edit that comes before the message exists does nothing (the message is
    rendered with the latest state when it is posted). Requests are collected and written
    when the transaction commits: a storm's batch asks for dozens of edits, and deciding
    them together takes two queries instead of two each.
    """
    requested: dict[str, _Refresh] = session.info.setdefault("refresh_requested", {})
    if not requested:
        before_commit(session, _add_refreshes)
    if key not in requested:  # already asked for in this transaction: one edit shows both
        requested[key] = _Refresh(kind, incident.id, now)


async def _add_refreshes(session: AsyncSession) -> None:
    requested: dict[str, _Refresh] = session.info.pop("refresh_requested", {})
    if not requested:
        return
    covered = await _rendered_anyway(session, requested)
    wanted = {key: ask for key, ask in requested.items() if key not in covered}
    if not wanted:  # the usual case in a storm: one edit per incident is waiting already
        return
    values = {"keys": sql.padded(wanted)}
    last: dict[str, datetime] = {key: at for key, at in await session.execute(_LAST_EDIT, values)}
    for key, ask in wanted.items():
        due = max(ask.now, last[key] + REFRESH_INTERVAL) if key in last else ask.now
        _add(session, ask.kind, key, ask.now, due, incident_id=ask.incident_id)


# The post that first shows a live message renders the latest state when it is delivered.
_POSTED_BY = {
    EffectKind.REFRESH_CARD: EffectKind.POST_CARD,
    EffectKind.REFRESH_STEPS: EffectKind.POST_STEPS,
}


# Built once, as every intake commit of a storm asks them (see ``sql.in_list`` for why).
# The last edit sent or being sent: an in-flight one counts from when it was due.
_LAST_EDIT = (
    select(Effect.ordering_key, func.max(func.coalesce(Effect.delivered_at, Effect.due_at)))
    .where(Effect.ordering_key.in_(sql.in_list("keys")), Effect.state != EffectState.DEAD)
    .group_by(Effect.ordering_key)
)
_WAITING = (
    select(Effect.kind, Effect.ordering_key)
    .where(
        Effect.state == EffectState.PENDING,
        Effect.claimed_until.is_(None),
        or_(
            and_(Effect.ordering_key.in_(sql.in_list("keys")), Effect.attempts == 0),
            and_(
                Effect.kind.in_(list(_POSTED_BY.values())),
                Effect.ordering_key.in_(sql.in_list("incident_keys")),
            ),
        ),
    )
    .with_for_update()
)


async def _rendered_anyway(session: AsyncSession, requested: dict[str, _Refresh]) -> set[str]:
    """Refresh keys whose message a waiting, unclaimed effect will render anyway.

    That is an edit already waiting, or the message's own post not yet taken: during a
    storm channels are created at Slack's pace, and edits of cards not posted yet would
    each be claimed only to find nothing to edit. FOR UPDATE: the dispatcher claims with
    SKIP LOCKED, so it cannot take one of these and render the incident before this
    transaction's changes are committed (PostgreSQL; SQLite has one writer at a time).
    """
    incident_keys = {_incident_key_of(ask.incident_id) for ask in requested.values()}
    values = {"keys": sql.padded(requested), "incident_keys": sql.padded(incident_keys)}
    waiting = set((await session.execute(_WAITING, values)).tuples()) | _pending(session)
    return {
        key
        for key, ask in requested.items()
        if (ask.kind, key) in waiting
        or (_POSTED_BY[ask.kind], _incident_key_of(ask.incident_id)) in waiting
    }


def refresh_card(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    _refresh(session, EffectKind.REFRESH_CARD, f"card:{incident.id}", incident, now)


def post_steps(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    _add(session, EffectKind.POST_STEPS, _incident_key(incident), now, incident_id=incident.id)


def refresh_steps(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    _refresh(session, EffectKind.REFRESH_STEPS, f"steps:{incident.id}", incident, now)


def run_check(
    session: AsyncSession, step: StepProgress, *, now: datetime, automatic: bool = False
) -> None:
    """Run a step's check; an automatic run is dropped if the step is finished first."""
    # Checks have their own order: a slow check must not hold up the channel's messages.
    key = f"check:{step.id}"
    _add(session, EffectKind.RUN_CHECK, key, now, step_id=step.id, when_current=automatic)


def post_event(session: AsyncSession, event: TimelineEvent, *, now: datetime) -> None:
    key = f"incident:{event.incident_id}"
    _add(session, EffectKind.POST_EVENT, key, now, incident_id=event.incident_id, event_id=event.id)


def invite(session: AsyncSession, incident: Incident, users: list[str], *, now: datetime) -> None:
    users = [u for u in users if u]
    if users:
        key = _incident_key(incident)
        _add(session, EffectKind.INVITE, key, now, incident_id=incident.id, users=users)


def send_page(session: AsyncSession, page: Page, *, now: datetime) -> None:
    _add(session, EffectKind.SEND_PAGE, _page_key(page), now, page_id=page.id)


def refresh_page(session: AsyncSession, page: Page, *, now: datetime) -> None:
    _add(session, EffectKind.REFRESH_PAGE, _page_key(page), now, page_id=page.id)


async def pages_shown(session: AsyncSession, pages: list[Page], *, now: datetime) -> None:
    """These pages went out together in one DM: their own sends have nothing left to do.

    Marking them done at once matters during a storm: one person's page effects go one
    at a time, so dozens of empty sends would hold up the next DM and every DM edit.
    """
    keys = {_page_key(page) for page in pages}
    ids = {page.id for page in pages}
    waiting = await session.scalars(
        select(Effect).where(
            Effect.ordering_key.in_(keys),
            Effect.kind == EffectKind.SEND_PAGE,
            Effect.state == EffectState.PENDING,
            Effect.claimed_until.is_(None),
        )
    )
    for effect in waiting:
        if effect.payload.get("page_id") in ids:
            effect.state, effect.delivered_at = EffectState.DONE, now


def post_postmortem(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    key = _incident_key(incident)
    _add(session, EffectKind.POST_POSTMORTEM, key, now, incident_id=incident.id)


def confirm_subscription(session: AsyncSession, url: str, topic: str, *, now: datetime) -> None:
    """GET an (already vetted) SNS SubscribeURL: an outbound call like any other effect."""
    _add(session, EffectKind.CONFIRM_SUBSCRIPTION, f"sns:{topic}"[:80], now, url=url, topic=topic)


def capture_message(
    session: AsyncSession,
    incident: Incident,
    channel: str,
    ts: str,
    added_by: str,
    *,
    now: datetime,
) -> None:
    """Fetch a Slack message (its text and permalink) and add it to the timeline."""
    payload = {"incident_id": incident.id, "channel": channel, "ts": ts, "added_by": added_by}
    _add(session, EffectKind.CAPTURE_MESSAGE, f"capture:{incident.id}", now, **payload)


def remind_followups(
    session: AsyncSession, owner: str, followup_ids: list[int], *, now: datetime
) -> None:
    _add(
        session,
        EffectKind.REMIND_FOLLOWUPS,
        f"followups:{owner}",
        now,
        owner=owner,
        followup_ids=followup_ids,
    )


def post_related(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    _add(session, EffectKind.POST_RELATED, _incident_key(incident), now, incident_id=incident.id)


def notify_pagers(
    session: AsyncSession, page: Page, pagers: list[str], action: str, *, now: datetime
) -> None:
    """Tell outbound pagers (PagerDuty, Opsgenie, SMS webhooks) about a page.

    One ordering key per page and pager keeps trigger → acknowledge → resolve in order,
    while a slow provider holds up neither Slack nor the other pagers.
    """
    for name in pagers:
        key = f"pager:{page.id}:{name}"[:80]
        _add(session, EffectKind.NOTIFY_PAGER, key, now, page_id=page.id, pager=name, action=action)


def post_notice(session: AsyncSession, channel: str, lines: list[str], *, now: datetime) -> None:
    """A plain notice of Warroom's own in a configured channel (the daily handoffs)."""
    _add(
        session, EffectKind.POST_NOTICE, f"notice:{channel}"[:80], now, channel=channel, lines=lines
    )
