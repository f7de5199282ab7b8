"""Slack edge: the bolt app and its listeners for ``/incident`` and the buttons.

Listeners translate a Slack payload into one service call and acknowledge within
Slack's three seconds; everything slow (channel creation, DMs, card updates) is left to
the dispatcher.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import service
from bot.errors import UserError
from bot.incidents import IncidentRef
from bot.runtime import Runtime
from handlers import commands

log = logging.getLogger(__name__)


def build_app(rt: Runtime, client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """Without a signing secret only Socket Mode can reach the app (Slack signs nothing there)."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
    )

    @app.command("/incident")
    async def incident_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        cmd = commands.parse(
            command.get("text", ""), user=command["user_id"], channel=command["channel_id"]
        )
        await ack(**await commands.run(rt, cmd))

    @app.action("page_ack")
    async def page_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = body["actions"][0]
        await _acknowledge(rt, body["user"]["id"], respond, page_id=_int(action.get("value")))

    @app.action("incident_ack")
    async def incident_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        incident_id = _int(body["actions"][0].get("value"))
        await _acknowledge(rt, body["user"]["id"], respond, incident_id=incident_id)

    return app


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _acknowledge(
    rt: Runtime,
    user: str,
    respond: AsyncRespond,
    *,
    page_id: int | None = None,
    incident_id: int | None = None,
) -> None:
    """Acknowledge from a button; the DM, card and channel update through the dispatcher."""
    try:
        if page_id is not None:
            await service.acknowledge(rt, user, page_id=page_id)
        elif incident_id is not None:
            await service.acknowledge(rt, user, IncidentRef(id=incident_id))
        else:
            raise UserError("This button is missing its incident; use `/incident ack`.")
    except UserError as exc:
        # The reply to the click itself (response_url), not a side effect of the change.
        await respond(text=str(exc), response_type="ephemeral", replace_original=False)
