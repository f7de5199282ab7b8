"""Slack's end of Socket Mode: a real WebSocket server, on 127.0.0.1, in the test's loop.

With ``SLACK_APP_TOKEN`` set, the bot asks ``apps.connections.open`` (the fake Web API
hands out this server's URL) and connects here; Slack then pushes each slash command,
button press or event as an *envelope* and the app must acknowledge it by
``envelope_id``, with an optional response payload (api.slack.com/apis/socket-mode). On
connecting, Slack says ``hello`` first.

    async with FakeSocketMode() as socket:
        slack.socket_mode_url = socket.url
        ...                                          # start the bot
        ack = await socket.push("slash_commands", slash_command_fields("help"))
"""

from __future__ import annotations

import asyncio
import itertools
import json
from types import TracebackType
from typing import Any, Self

from aiohttp import WSMsgType, web

HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
    "connection_info": {"app_id": "A0WARROOM1"},
}


class FakeSocketMode:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/link"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(
        self,
        kind: str,
        payload: dict[str, Any],
        timeout: float = 10.0,  # noqa: ASYNC109 -- a test-helper bound
    ) -> dict[str, Any]:
        """Send one envelope once the app is connected; return its acknowledgement."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        assert self._socket is not None
        envelope_id = f"envelope-{next(self._ids)}"
        acked = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = acked
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return await asyncio.wait_for(acked, timeout)

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json(HELLO)
        self._connected.set()
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            ack = json.loads(message.data)
            acked = self._acks.pop(ack.get("envelope_id", ""), None)
            if acked is not None and not acked.done():
                acked.set_result(ack)
        return socket
