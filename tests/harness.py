"""Drive the real app the way its users do: HTTP webhooks, signed Slack requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from fastapi import FastAPI

from bot.app import create_app
from bot.dispatcher import Dispatcher
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

    async def settle(self) -> None:
        """Wait until every effect that can be delivered now has been delivered."""
        await self.dispatcher.idle()
        while await self.dispatcher.drain():
            pass

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
