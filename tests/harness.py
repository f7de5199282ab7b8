"""Drive the real app the way its users do: HTTP webhooks, signed Slack requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from bot.app import create_app
from bot.clock import as_utc
from bot.dispatcher import Dispatcher
from bot.models import Page, PageState
from bot.pacing import Pacer
from bot.runtime import Runtime
from bot.settings import Settings
from tests.fakes.signing import (
    block_action_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from tests.fakes.slack_api import FakeSlackApi


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    slack: FakeSlackApi
    settings: Settings
    clock: Callable[[], datetime]

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        slack: FakeSlackApi,
        clock: Callable[[], datetime],
        *,
        run_scheduler: bool = False,
    ) -> AsyncIterator[Harness]:
        app = create_app(settings, clock=clock, run_scheduler=run_scheduler)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
                yield cls(app, client, slack, settings, clock)

    @property
    def rt(self) -> Runtime:
        return self.app.state.runtime

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app.state.dispatcher

    @property
    def pacer(self) -> Pacer:
        return self.app.state.pacer

    async def settle(self) -> None:
        """Wait until every effect that can be delivered now has been delivered.

        Messages held back for Slack's rate limits (``bot.pacing``) count as deliverable:
        the fake clock is moved on to their slot, but never past a waiting page's
        acknowledgement deadline, which a test reaches on purpose when it means to.
        """
        while True:
            await self.dispatcher.idle()
            while await self.dispatcher.drain():
                pass
            if not await self._to_next_slot():
                return

    async def wait_until(
        self,
        condition: Callable[[], Awaitable[bool]],
        timeout: float = 5.0,  # noqa: ASYNC109 -- a test-helper bound, not a cancellation API
    ) -> None:
        """Poll ``condition`` until it holds: Slack's buttons are answered before their
        listener runs, so a click's change is committed a little after ``click`` returns."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.02)

    async def first_channel(self) -> str:
        """Wait for the first incident channel's card; return the channel's id.

        Unlike ``settle`` this leaves the clock where it is: the card is a new channel's
        first message, never held back, while the rest of its messages are paced.
        """
        posts = await self.slack.wait_for(
            lambda calls: [
                c
                for c in calls
                if c.method == "chat.postMessage" and c.ok and c.params["channel"][:1] == "C"
            ]
        )
        return str(posts[0].params["channel"])

    async def _to_next_slot(self) -> bool:
        """Move the fake clock to the earliest deferred message's slot; False if none."""
        advance = getattr(self.clock, "advance", None)
        slot, now = self.pacer.next_due(), self.clock()
        if advance is None or slot is None or slot <= now:
            return False
        async with self.rt.db.transaction() as session:
            deadline = await session.scalar(
                select(func.min(Page.ack_deadline)).where(
                    Page.state == PageState.PENDING, Page.ack_deadline > now
                )
            )
        if deadline is not None and slot > as_utc(deadline):
            return False
        advance(seconds=(slot - now).total_seconds())
        return True

    async def post_alerts(
        self, payload: Any, source: str = "alertmanager", token: str | None = None
    ) -> httpx.Response:
        token = token or self.settings.webhook_token or ""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await self.client.post(
            f"/alerts/{source}",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    async def slash(self, text: str, user: str = "U1", channel: str = "C1") -> httpx.Response:
        body = slash_command_body(text, user_id=user, channel_id=channel)
        return await self._signed(body)

    async def click(self, action_id: str, value: str, user: str = "U1") -> httpx.Response:
        body = block_action_body(
            action_id, value, user_id=user, response_url=f"{self.slack.url}respond"
        )
        return await self._signed(body)

    async def submit(
        self, callback_id: str, metadata: str, values: dict[str, dict[str, str]], user: str = "U1"
    ) -> httpx.Response:
        return await self._signed(view_submission_body(callback_id, metadata, values, user))

    async def event(
        self, event: dict[str, Any], event_id: str, retry: int | None = None
    ) -> httpx.Response:
        """An Events API delivery (JSON), as Slack sends it; ``retry`` adds its retry headers."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0G9PQBBK",
            "api_app_id": "A0WARROOM1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1796032800,
        }
        body = json.dumps(envelope).encode()
        secret = self.settings.slack_signing_secret or ""
        headers = signed_headers(secret, body, content_type="application/json")
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.client.post("/slack/events", content=body, headers=headers)

    async def shortcut(
        self, callback_id: str, channel: str, message_ts: str, user: str
    ) -> httpx.Response:
        """A message shortcut (``message_action``) chosen on a message."""
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": "1111.2222.abcdef",
            "team": {"id": "T0G9PQBBK", "domain": "subarachnoid"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0G9PQBBK"},
            "channel": {"id": channel, "name": "incident"},
            "message": {"type": "message", "user": "UAUTHOR", "text": "…", "ts": message_ts},
            "message_ts": message_ts,
            "response_url": f"{self.slack.url}respond",
            "token": "legacy-verification-token",
        }
        return await self._signed(urlencode({"payload": json.dumps(payload)}).encode())

    async def _signed(self, body: bytes) -> httpx.Response:
        secret = self.settings.slack_signing_secret or ""
        return await self.client.post(
            "/slack/events", content=body, headers=signed_headers(secret, body)
        )


def catch_up(app: FastAPI, clock: Any) -> None:
    """Move a fake clock on to the next paced message's slot and deliver it.

    For tests that wait on Slack calls rather than ``Harness.settle``: without it, a
    message held back for Slack's rate limits would wait for a clock nobody moves.
    """
    slot, now = app.state.pacer.next_due(), clock()
    if slot is not None and slot > now:
        clock.advance(seconds=(slot - now).total_seconds())
        app.state.dispatcher.wake()


@asynccontextmanager
async def serve_http(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, for real senders; yields its URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
