"""Slack edge: the bolt app and its listeners for ``/incident`` and the buttons.

Listeners translate a Slack payload into one service call and acknowledge within
Slack's three seconds; everything slow (channel creation, DMs, card updates) is left to
the dispatcher.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import capture, render, service
from bot.errors import UserError
from bot.incidents import IncidentRef
from bot.runtime import Runtime
from handlers import commands

log = logging.getLogger(__name__)

ADD_TO_TIMELINE = "add_to_timeline"  # the message shortcut's callback_id (manifest.yml)
NOT_ADDED = "Not added: this is not an incident channel, or the message is on the timeline already."


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

    @app.action(render.ACK_PAGE_ACTION)
    async def page_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        page_id = _int(body["actions"][0].get("value")) or 0
        await _attempt(respond, service.acknowledge(rt, body["user"]["id"], page_id=page_id))

    @app.action(render.ACK_INCIDENT_ACTION)
    async def incident_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        ref = IncidentRef(id=_int(body["actions"][0].get("value")) or 0)
        await _attempt(respond, service.acknowledge(rt, body["user"]["id"], ref))

    @app.action(render.ESCALATE_PAGE_ACTION)
    async def escalate_now(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        page_id = _int(body["actions"][0].get("value")) or 0
        await _attempt(respond, service.hand_on(rt, body["user"]["id"], page_id))

    @app.action(render.REASSIGN_PAGE_ACTION)
    async def reassign(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()

        async def view() -> dict[str, Any]:
            incident, page = await service.get_page(rt, _int(body["actions"][0].get("value")) or 0)
            return render.reassign_modal(page, incident.number)

        await _open_modal(client, body, respond, view())

    @app.view(render.REASSIGN_MODAL)
    async def reassigned(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = view["state"]["values"]["user"]["user"].get("selected_user") or ""
        page_id = _int(view["private_metadata"]) or 0
        try:
            await service.hand_on(rt, body["user"]["id"], page_id, to_user=user)
        except UserError as exc:
            await ack(response_action="errors", errors={"user": str(exc)})
            return
        await ack()

    @app.action(render.KEEP_OPEN_ACTION)
    async def keep_open(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        incident_id = _int(body["actions"][0].get("value")) or 0
        await _attempt(respond, service.keep_open(rt, body["user"]["id"], incident_id))

    @app.action(render.UNSILENCE_ACTION)
    async def unsilence(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        silence_id = _int(body["actions"][0].get("value")) or 0
        try:
            ended = await service.unsilence(rt, body["user"]["id"], silence_id)
        except UserError as exc:
            await _reply(respond, str(exc))
            return
        await _reply(respond, f"🔔 Silence {ended.id} ended; matching alerts page again.")

    @app.action(render.FOLLOWUP_DONE_ACTION)
    async def followup_done(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        followup_id = _int(body["actions"][0].get("value")) or 0
        try:
            done = await service.complete_followup(rt, body["user"]["id"], followup_id)
        except UserError as exc:
            await _reply(respond, str(exc))
            return
        await _reply(respond, f"✅ Follow-up {done.id} is done.")

    @app.event("reaction_added")
    async def pinned(body: dict[str, Any], event: dict[str, Any]) -> None:
        """📌 on a message in an incident channel adds it to the timeline."""
        item = event.get("item", {})
        if event.get("reaction") not in capture.PIN_REACTIONS or item.get("type") != "message":
            return
        await service.capture_message(
            rt,
            event_id=body.get("event_id"),
            channel=item.get("channel", ""),
            ts=item.get("ts", ""),
            added_by=event.get("user", ""),
        )

    @app.shortcut(ADD_TO_TIMELINE)
    async def add_to_timeline(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """The message shortcut "Add to timeline", for when a 📌 would be lost in a thread."""
        await ack()
        added = await service.capture_message(
            rt,
            event_id=None,
            channel=body.get("channel", {}).get("id", ""),
            ts=body.get("message", {}).get("ts", ""),
            added_by=body["user"]["id"],
        )
        text = "📌 Added to the incident timeline." if added else NOT_ADDED
        await _reply(respond, text)

    @app.action(render.STEP_DONE_ACTION)
    async def step_done(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        step_id = _int(body["actions"][0].get("value"))
        await _attempt(respond, service.finish_step(rt, body["user"]["id"], step_id or 0))

    @app.action(render.STEP_CHECK_ACTION)
    async def step_check(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        step_id = _int(body["actions"][0].get("value"))
        await _attempt(respond, service.run_step_check(rt, step_id or 0))

    @app.action(render.STEP_SKIP_ACTION)
    async def step_skip(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()

        async def view() -> dict[str, Any]:
            incident, step = await service.get_step(rt, _int(body["actions"][0].get("value")) or 0)
            return render.skip_modal(step, incident.number)

        await _open_modal(client, body, respond, view())

    @app.view(render.SKIP_MODAL)
    async def step_skip_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        reason = view["state"]["values"]["reason"]["reason"].get("value") or ""
        if not reason.strip():
            await ack(response_action="errors", errors={"reason": "Say why the step is skipped."})
            return
        try:
            await service.finish_step(
                rt, body["user"]["id"], _int(view["private_metadata"]) or 0, reason
            )
        except UserError as exc:
            await ack(response_action="errors", errors={"reason": str(exc)})
            return
        await ack()

    return app


async def _open_modal(
    client: AsyncWebClient,
    body: dict[str, Any],
    respond: AsyncRespond,
    view: Awaitable[dict[str, Any]],
) -> None:
    """Open a modal for a click, or tell the clicker why not.

    The modal must open within ~3 s of the click (the trigger_id expires), so this is the
    one Slack call made inline: it answers the click and changes no state.
    """
    try:
        rendered = await view
    except UserError as exc:
        await _reply(respond, str(exc))
        return
    await client.views_open(trigger_id=body["trigger_id"], view=rendered)


async def _attempt(respond: AsyncRespond, call: Awaitable[object]) -> None:
    """Run a service call for a click; a UserError is shown to the clicker alone."""
    try:
        await call
    except UserError as exc:
        await _reply(respond, str(exc))


async def _reply(respond: AsyncRespond, text: str) -> None:
    # The reply to the click itself (response_url), not a side effect of a state change.
    await respond(text=text, response_type="ephemeral", replace_original=False)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
