"""Socket Mode (``SLACK_APP_TOKEN``): the same commands and buttons over Slack's WebSocket.

The bot connects as it would to Slack: it asks the fake Web API's
``apps.connections.open`` with its app-level token and opens the WebSocket it is given
(``tests.fakes.socket_mode``), which then pushes envelopes and reads the acknowledgements.
No signing secret is set, so HTTP mode stays off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import Page, PageState
from bot.render import ACK_PAGE_ACTION
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.signing import block_actions_payload, slash_command_fields
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.socket_mode import FakeSocketMode
from tests.harness import Harness

APP_TOKEN = "xapp-1-A0WARROOM1-1-test"


@pytest.fixture
async def socket() -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode() as server:
        yield server


@pytest.fixture
async def bot_on_socket(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, socket: FakeSocketMode
) -> AsyncIterator[Harness]:
    fake_slack.socket_mode_url = socket.url
    changes: dict[str, Any] = {"slack_app_token": APP_TOKEN, "slack_signing_secret": None}
    async with Harness.running(settings.model_copy(update=changes), fake_slack, clock) as bot:
        yield bot


async def command(socket: FakeSocketMode, text: str, user: str = "UX1") -> str:
    ack = await socket.push("slash_commands", slash_command_fields(text, user_id=user))
    reply: str = ack["payload"]["text"]
    return reply


async def test_the_bot_connects_with_its_app_token(
    bot_on_socket: Harness, fake_slack: FakeSlackApi, socket: FakeSocketMode
) -> None:
    assert "/incident declare" in await command(socket, "help")
    [opened] = fake_slack.calls("apps.connections.open")
    assert opened.ok and opened.authorization == f"Bearer {APP_TOKEN}"
    http = await bot_on_socket.client.post("/slack/events", content=b"{}")
    assert http.status_code == 404, "without a signing secret, HTTP mode is off"


async def test_a_declared_incident_is_paged_and_acknowledged_over_the_socket(
    bot_on_socket: Harness, fake_slack: FakeSlackApi, socket: FakeSocketMode
) -> None:
    reply = await command(socket, "declare GPU nodes down in us-east")
    assert reply.startswith("Declared incident #1")
    await bot_on_socket.settle()
    assert fake_slack.calls("conversations.create")[0].params["name"] == (
        "inc-1-gpu-nodes-down-in-us-east"
    )
    async with bot_on_socket.rt.db.transaction() as session:
        page = (await session.scalars(select(Page))).one()
    assert page.user_id is not None

    click = block_actions_payload(ACK_PAGE_ACTION, str(page.id), user_id=page.user_id)
    ack = await socket.push("interactive", click)
    assert ack["envelope_id"]

    async def acknowledged() -> bool:
        async with bot_on_socket.rt.db.transaction() as session:
            return await session.scalar(select(Page.state)) == PageState.ACKNOWLEDGED

    await bot_on_socket.wait_until(acknowledged)
