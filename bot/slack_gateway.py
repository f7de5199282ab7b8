"""The Slack gateway: turns effect rows into Slack Web API calls.

Messages are rendered here, at delivery time, from the incident's current snapshot, so
a delayed or retried effect shows the latest state rather than a stale copy. The
transport is either slack_sdk's ``AsyncWebClient`` or ``ConsoleSlack``, which prints the
same calls for console mode. Every message is paced (``bot.pacing``) within Slack's rate
limits before anything is rendered: a message whose slot is later is ``Deferred``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from bot import capture, effects, incidents, render, service
from bot.dispatcher import Claimed, Deferred, PermanentError
from bot.effects import REFRESH_INTERVAL, EffectKind
from bot.models import Incident, Page, PageState
from bot.narrative import Narrative, draft_narrative
from bot.pacing import Pacer
from bot.postmortem import render_markdown
from bot.related import related_incidents
from bot.runtime import Runtime
from bot.snapshot import IncidentSnapshot

log = logging.getLogger(__name__)

# Errors that no retry can fix; anything else (rate limits after the SDK's own retries,
# Slack's internal errors, network trouble) is retried with backoff.
PERMANENT = {
    "account_inactive",
    "channel_not_found",
    "invalid_auth",
    "invalid_blocks",
    "is_archived",
    "missing_scope",
    "msg_too_long",
    "no_text",
    "not_authed",
    "not_in_channel",
    "token_revoked",
    "user_not_found",
    "cannot_dm_bot",
    "invalid_arguments",
}
IGNORABLE = {"already_in_channel", "already_pinned", "cant_invite_self", "user_is_bot"}


LiveView = Callable[[IncidentSnapshot], render.Message]
Handler = Callable[[dict[str, Any], int], Awaitable[None]]  # (payload, pacing ticket)
Gaps = dict[str, timedelta]

# Slack's documented limits (api.slack.com/docs/rate-limits, PLATFORM-NOTES §A4): about
# one message a second per channel ("short bursts allowed"), and chat.update is Tier 3,
# 50+ calls a minute per workspace, conversations.create Tier 2, 20+; Warroom keeps to
# the floors. A new channel's topic and pin (Tier 2 too) follow its creation one each.
CHANNEL_GAP = timedelta(seconds=1)
UPDATE_GAP = timedelta(minutes=1) / 50
CREATE_GAP = timedelta(minutes=1) / 20
# Pages to one person: the first DM goes at once, later ones wait this long and go out
# together, so a storm of incidents is a few DMs, not one each.
PAGE_GAP = timedelta(seconds=5)
KNOWN_IDS = 4096  # channel ids and message timestamps kept in memory


def _post_gaps(channel: str) -> Gaps:
    """A new message; a DM is keyed by its person (posts name the user, not the D… id)."""
    return {f"channel:{channel}": CHANNEL_GAP}


def _edit_gaps(channel: str, ts: str) -> Gaps:
    """An in-place edit: the channel, that message (once per REFRESH_INTERVAL), the method."""
    return {
        f"channel:{channel}": CHANNEL_GAP,
        f"edit:{channel}:{ts}": REFRESH_INTERVAL,
        "method:chat.update": UPDATE_GAP,
    }


class SlackTransport(Protocol):
    async def call(self, method: str, **params: Any) -> dict[str, Any]: ...

    async def upload(self, channel: str, filename: str, title: str, content: str) -> None: ...


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """The Web API client; slack_sdk does not retry 429 unless told to."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class SlackWebTransport:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        response = await self.client.api_call(method, json=params)
        return dict(response.data)  # type: ignore[arg-type]

    async def upload(self, channel: str, filename: str, title: str, content: str) -> None:
        await self.client.files_upload_v2(
            channel=channel, filename=filename, title=title, content=content
        )


class ConsoleSlack:
    """Console mode: print each call readably and answer like Slack would."""

    def __init__(self, write: Any = print) -> None:
        self.write = write
        self._ids = itertools.count(1)
        self._names: dict[str, str] = {}  # channel id -> name, so output says #inc-1-…

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        channel = params.get("channel", "")
        shown = {**params, "channel": self._names[channel]} if channel in self._names else params
        self.write(render.console_line(method, shown))
        n = next(self._ids)
        if method == "conversations.create":
            self._names[f"CONSOLE{n}"] = f"#{params['name']}"
            return {"ok": True, "channel": {"id": f"CONSOLE{n}", "name": params["name"]}}
        return {"ok": True, "channel": channel, "ts": f"{n}.000000"}

    async def upload(self, channel: str, filename: str, title: str, content: str) -> None:
        self.write(f"[slack] upload {filename} to {channel}: {title}\n{content}")


class SlackGateway:
    def __init__(
        self, rt: Runtime, transport: SlackTransport, http: httpx.AsyncClient, pacer: Pacer
    ) -> None:
        self.rt = rt
        self.transport = transport
        self.http = http  # for the optional LLM narrative
        self.pacer = pacer
        self._ids: dict[tuple[int, str], str] = {}  # (incident id, column) -> value
        self._overflowing: set[str] = set()  # people whose last page DM could not show all
        self._handlers: dict[EffectKind, Handler] = {
            EffectKind.OPEN_CHANNEL: self.open_channel,
            EffectKind.POST_CARD: self.post_card,
            EffectKind.REFRESH_CARD: self.refresh_card,
            EffectKind.POST_EVENT: self.post_event,
            EffectKind.INVITE: self.invite,
            EffectKind.SEND_PAGE: self.send_page,
            EffectKind.REFRESH_PAGE: self.refresh_page,
            EffectKind.POST_POSTMORTEM: self.post_postmortem,
            EffectKind.POST_STEPS: self.post_steps,
            EffectKind.REFRESH_STEPS: self.refresh_steps,
            EffectKind.CAPTURE_MESSAGE: self.capture_message,
            EffectKind.REMIND_FOLLOWUPS: self.remind_followups,
            EffectKind.POST_RELATED: self.post_related,
            EffectKind.POST_NOTICE: self.post_notice,
        }

    @property
    def kinds(self) -> list[str]:
        return list(self._handlers)

    async def deliver(self, effect: Claimed) -> None:
        handler = self._handlers.get(EffectKind(effect.kind))
        if handler is None:
            raise PermanentError(f"unknown effect kind {effect.kind!r}")
        try:
            await handler(effect.payload, effect.id)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in IGNORABLE:
                return
            if error in PERMANENT:
                raise PermanentError(error) from exc
            raise

    def _pace(self, ticket: int, gaps: Gaps) -> None:
        """Go on if the slot is now; otherwise come back when it is (the slot is kept)."""
        until = self.pacer.book(ticket, gaps)
        if until is not None:
            raise Deferred(until)

    async def _channel_id(self, incident_id: int) -> str:
        channel = await self._known(incident_id, "channel_id")
        if channel is None:
            raise PermanentError(f"incident {incident_id} has no channel")
        return channel

    async def _known(self, incident_id: int, column: str) -> str | None:
        """An incident's channel id or message ts, looked up once: they never change once
        set, and pacing comes before the snapshot. On SQLite every transaction queues
        behind intake during a storm, so each one saved is a message sooner."""
        if (value := self._ids.get((incident_id, column))) is not None:
            return value
        async with self.rt.db.read() as session:
            value = await session.scalar(
                select(getattr(Incident, column)).where(Incident.id == incident_id)
            )
        if value is not None:
            if len(self._ids) >= KNOWN_IDS:  # bounded memory; they are looked up again
                self._ids.clear()
            self._ids[(incident_id, column)] = value
        return value

    async def _paced_post(self, incident_id: int, ticket: int) -> None:
        self._pace(ticket, _post_gaps(await self._channel_id(incident_id)))

    async def _snapshot(self, incident_id: int) -> IncidentSnapshot:
        async with self.rt.db.read() as session:
            return await incidents.snapshot(session, self.rt.config, incident_id)

    async def _channel(self, incident_id: int) -> tuple[IncidentSnapshot, str]:
        snap = await self._snapshot(incident_id)
        if not snap.incident.channel_id:
            raise PermanentError(f"incident #{snap.incident.number} has no channel")
        return snap, snap.incident.channel_id

    async def open_channel(self, payload: dict[str, Any], ticket: int) -> None:
        # Paced before reading: a storm's incidents wait here, most of them several times.
        self._pace(ticket, {"method:conversations.create": CREATE_GAP})
        # The incident row alone: during a storm this runs while its alerts pile up, and a
        # full snapshot would read them all only to name the channel.
        async with self.rt.db.read() as session:
            incident = await incidents.load_view(session, self.rt.config, payload["incident_id"])
        if incident.channel_id:  # a retry after the channel was made
            return
        channel = await self._create_channel(incidents.channel_name(incident))
        await self._save_incident(
            incident.id, channel_id=channel["id"], channel_name=channel["name"]
        )
        topic = f"{incident.severity.upper()} · {incident.title}"
        await self._best_effort("conversations.setTopic", channel=channel["id"], topic=topic[:250])

    async def _create_channel(self, name: str) -> dict[str, Any]:
        """Create the channel; on a name clash (an old channel kept its name) add a suffix."""
        for suffix in ["", *(f"-{n}" for n in range(2, 10))]:
            try:
                data = await self.transport.call("conversations.create", name=name[:75] + suffix)
                return dict(data["channel"])
            except SlackApiError as exc:
                if exc.response.get("error") != "name_taken":
                    raise
        raise PermanentError(f"every channel name like {name} is taken")

    async def post_card(self, payload: dict[str, Any], ticket: int) -> None:
        incident_id = payload["incident_id"]
        await self._post_live(incident_id, ticket, "card_ts", render.incident_card, pin=True)

    async def refresh_card(self, payload: dict[str, Any], ticket: int) -> None:
        await self._refresh_live(payload["incident_id"], ticket, "card_ts", render.incident_card)

    async def post_steps(self, payload: dict[str, Any], ticket: int) -> None:
        await self._post_live(payload["incident_id"], ticket, "steps_ts", render.steps_message)

    async def refresh_steps(self, payload: dict[str, Any], ticket: int) -> None:
        await self._refresh_live(payload["incident_id"], ticket, "steps_ts", render.steps_message)

    async def _post_live(
        self, incident_id: int, ticket: int, ts_column: str, view: LiveView, *, pin: bool = False
    ) -> None:
        """Post a message that later updates in place (the card, the checklist)."""
        await self._paced_post(incident_id, ticket)
        snap, channel = await self._channel(incident_id)
        data = await self.transport.call("chat.postMessage", channel=channel, **view(snap))
        await self._save_incident(snap.incident.id, **{ts_column: data["ts"]})
        if pin:
            await self._best_effort("pins.add", channel=channel, timestamp=data["ts"])

    async def _refresh_live(
        self, incident_id: int, ticket: int, ts_column: str, view: LiveView
    ) -> None:
        ts = await self._known(incident_id, ts_column)
        if ts is None:  # not posted yet: the post will show the latest state anyway
            return
        channel = await self._channel_id(incident_id)
        self._pace(ticket, _edit_gaps(channel, ts))
        snap = await self._snapshot(incident_id)
        await self.transport.call("chat.update", channel=channel, ts=ts, **view(snap))

    async def post_event(self, payload: dict[str, Any], ticket: int) -> None:
        await self._paced_post(payload["incident_id"], ticket)
        snap, channel = await self._channel(payload["incident_id"])
        event = next((e for e in snap.events if e.id == payload["event_id"]), None)
        if event is None:
            raise PermanentError(f"timeline event {payload['event_id']} is gone")
        await self.transport.call(
            "chat.postMessage", channel=channel, **render.event_message(snap, event)
        )

    async def invite(self, payload: dict[str, Any], ticket: int) -> None:
        _, channel = await self._channel(payload["incident_id"])
        await self.transport.call(
            "conversations.invite", channel=channel, users=",".join(payload["users"])
        )

    async def send_page(self, payload: dict[str, Any], ticket: int) -> None:
        """DM the page, with the person's other pages not shown yet (up to a DM's worth).

        Their own effects then find ``dm_ts`` set and do nothing: one DM, not one each.
        """
        page = await self._page(payload["page_id"])
        if page.dm_ts or page.user_id is None:
            return
        user = page.user_id
        gaps = {f"channel:{user}": CHANNEL_GAP}
        if user not in self._overflowing:  # the rest of a full DM need not wait to gather
            gaps[f"pages:{user}"] = PAGE_GAP
        self._pace(ticket, gaps)
        others = await self._unshown_pages(page)
        shown = [page, *others[: render.PAGES_PER_DM - 1]]
        message = await self._page_dm(shown)
        data = await self.transport.call("chat.postMessage", channel=user, **message)
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(Page)
                .where(Page.id.in_([p.id for p in shown]))
                .values(dm_channel=data["channel"], dm_ts=data["ts"])
            )
            await effects.pages_shown(session, shown[1:], now=self.rt.clock())
        if len(others) >= render.PAGES_PER_DM:
            self._overflowing.add(user)
        else:
            self._overflowing.discard(user)

    async def _unshown_pages(self, page: Page) -> list[Page]:
        """The person's other pages still waiting for an answer and not in any DM yet.

        Only one of a person's page effects runs at a time (ordering key ``dm:<user>``),
        so no other delivery can show these between this query and saving ``dm_ts``.
        """
        async with self.rt.db.read() as session:
            others = await session.scalars(
                select(Page)
                .where(
                    Page.user_id == page.user_id,
                    Page.dm_ts.is_(None),
                    Page.state == PageState.PENDING,
                    Page.id != page.id,
                )
                .order_by(Page.id)
                .limit(render.PAGES_PER_DM)  # one more than a DM shows: are there more?
            )
            return list(others)

    async def refresh_page(self, payload: dict[str, Any], ticket: int) -> None:
        """Re-render the whole DM the page is in (other pages may share it)."""
        page = await self._page(payload["page_id"])
        if not (page.dm_channel and page.dm_ts):
            return  # never delivered: nothing to update
        self._pace(ticket, _edit_gaps(page.user_id or page.dm_channel, page.dm_ts))
        async with self.rt.db.read() as session:
            shown = await session.scalars(
                select(Page)
                .where(Page.dm_channel == page.dm_channel, Page.dm_ts == page.dm_ts)
                .order_by(Page.id)
            )
            pages = list(shown)
        message = await self._page_dm(pages)
        await self.transport.call("chat.update", channel=page.dm_channel, ts=page.dm_ts, **message)

    async def _page_dm(self, pages: list[Page]) -> render.Message:
        """One page: its own message, as ever; several: the combined one."""
        async with self.rt.db.read() as session:
            snaps = {
                incident_id: await incidents.page_snapshot(session, self.rt.config, incident_id)
                for incident_id in dict.fromkeys(p.incident_id for p in pages)
            }
        views = [
            (snaps[p.incident_id], next(v for v in snaps[p.incident_id].pages if v.id == p.id))
            for p in pages
        ]
        return render.pages_message(views)

    async def post_postmortem(self, payload: dict[str, Any], ticket: int) -> None:
        """Generate, keep a version, post a short summary and attach the whole document."""
        gaps = _post_gaps(await self._channel_id(payload["incident_id"]))
        if announce := self.rt.settings.announce_channel:  # maybe unused: a slot, no more
            gaps |= _post_gaps(announce)
        self._pace(ticket, gaps)
        snap, channel = await self._channel(payload["incident_id"])
        narrative = await self._narrative(snap)
        markdown = render_markdown(snap, narrative=narrative)
        version = await service.save_postmortem(
            self.rt, snap.incident.id, markdown, narrative.text if narrative else None
        )
        summary = render.postmortem_summary(snap, version)
        await self.transport.call("chat.postMessage", channel=channel, **summary)
        if (
            version == 1
            and self.rt.settings.announce_channel
            and snap.incident.status == "resolved"
        ):
            await self._best_effort(
                "chat.postMessage", channel=self.rt.settings.announce_channel, **summary
            )
        number = snap.incident.number
        await self.transport.upload(
            channel,
            filename=f"postmortem-incident-{number}-v{version}.md",
            title=f"Postmortem: incident #{number} (version {version})",
            content=markdown,
        )

    async def _narrative(self, snap: IncidentSnapshot) -> Narrative | None:
        settings = self.rt.settings
        if not settings.llm_url:
            return None
        return await draft_narrative(
            snap,
            url=settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            client=self.http,
        )

    async def capture_message(self, payload: dict[str, Any], ticket: int) -> None:
        """Read the message Slack told us about, then put it on the timeline."""
        channel, ts = payload["channel"], payload["ts"]
        history = await self.transport.call(
            "conversations.history", channel=channel, latest=ts, inclusive=True, limit=1
        )
        found = [m for m in history.get("messages", []) if m.get("ts") == ts]
        if not found:
            raise PermanentError(f"message {ts} in {channel} is gone or not visible to Warroom")
        link = await self.transport.call("chat.getPermalink", channel=channel, message_ts=ts)
        message = capture.SlackMessage(
            channel, ts, found[0].get("user"), found[0].get("text", ""), link.get("permalink")
        )
        await service.record_captured(self.rt, payload["incident_id"], message, payload["added_by"])

    async def remind_followups(self, payload: dict[str, Any], ticket: int) -> None:
        self._pace(ticket, _post_gaps(payload["owner"]))
        owned = await service.open_followups(self.rt, payload["owner"])
        if owned:  # some may have been done since the reminder was queued
            message = render.followup_reminder(owned)
            await self.transport.call("chat.postMessage", channel=payload["owner"], **message)

    async def post_notice(self, payload: dict[str, Any], ticket: int) -> None:
        self._pace(ticket, _post_gaps(payload["channel"]))
        message = render.notice("🔁 On-call handoffs in the next 24 hours", payload["lines"])
        await self.transport.call("chat.postMessage", channel=payload["channel"], **message)

    async def post_related(self, payload: dict[str, Any], ticket: int) -> None:
        await self._paced_post(payload["incident_id"], ticket)
        snap, channel = await self._channel(payload["incident_id"])
        past = await service.past_snapshots(self.rt, snap.incident.id)
        related = related_incidents(snap, past)
        if related:
            message = render.related_message(related)
            await self.transport.call("chat.postMessage", channel=channel, **message)

    async def _page(self, page_id: int) -> Page:
        async with self.rt.db.read() as session:
            page = await session.get(Page, page_id)
        if page is None:
            raise PermanentError(f"page {page_id} is gone")
        return page

    async def _save_incident(self, incident_id: int, **values: Any) -> None:
        async with self.rt.db.transaction() as session:
            incident = await session.get_one(Incident, incident_id)
            for name, value in values.items():
                setattr(incident, name, value)

    async def _best_effort(self, method: str, **params: Any) -> None:
        """Nice-to-have calls (topic, pin) must not make the main effect retry."""
        try:
            await self.transport.call(method, **params)
        except SlackApiError as exc:
            log.info("slack %s failed: %s", method, exc.response.get("error"))
