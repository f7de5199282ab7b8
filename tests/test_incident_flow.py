"""The first incident, end to end, through the real app: webhook → incident → page → ack
→ resolve → postmortem, with Slack played by a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot import service
from bot.models import Alert, Effect, EffectState, Incident, Page, TimelineEvent
from tests.conftest import FakeClock
from tests.fakes.slack_api import Call
from tests.harness import Harness


def load(samples: Path, name: str) -> dict[str, Any]:
    return json.loads((samples / name).read_text())


def dms(calls: list[Call], user: str) -> list[Call]:
    return [c for c in calls if c.method == "chat.postMessage" and c.params["channel"] == user]


def channel_posts(calls: list[Call], channel: str) -> list[Call]:
    return [c for c in calls if c.method == "chat.postMessage" and c.params["channel"] == channel]


def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in params.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


async def count(bot: Harness, model: type, *where: Any) -> int:
    async with bot.rt.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


def firing_since(samples: Path, started: datetime) -> dict[str, Any]:
    """The captured Alertmanager payload, its alerts re-dated to start at ``started``."""
    payload = load(samples, "alertmanager-0.25-firing.json")
    for alert in payload["alerts"]:
        alert["startsAt"] = started.isoformat().replace("+00:00", "Z")
    return payload


async def open_drift_incident(bot: Harness, samples: Path) -> str:
    """Post the drift alerts, started two minutes ago; return the incident channel's id."""
    response = await bot.post_alerts(firing_since(samples, bot.clock() - timedelta(minutes=2)))
    assert response.status_code == 200, response.text
    channel = await bot.first_channel()  # not settle: that would move the clock on
    assert len(bot.slack.calls("conversations.create")) == 1
    return channel


async def test_alert_opens_incident_with_channel_card_and_page(bot: Harness, samples: Path) -> None:
    response = await bot.post_alerts(load(samples, "alertmanager-0.25-firing.json"))

    assert response.status_code == 200
    assert response.json()["incidents_opened"] == [1]
    assert response.json()["stored"] == 2
    await bot.settle()
    create = bot.slack.calls("conversations.create")
    assert [c.params["name"] for c in create] == [
        "inc-1-model-or-data-drift-modeldrifthigh-recsys-v3"
    ]
    channel = create[0].response["channel"]["id"]
    card = channel_posts(bot.slack.calls(), channel)[0].params
    assert "ModelDriftHigh" in json.dumps(card["blocks"]) or "recsys-v3" in card["text"]
    assert [b["action_id"] for b in buttons(card)] == ["incident_ack"]
    # On 2026-11-30 10:00 UTC the weekly data-scientist rotation is in its 47th shift: UDS2.
    page = dms(bot.slack.calls(), "UDS2")
    assert len(page) == 1
    assert [b["action_id"] for b in buttons(page[0].params)] == [
        "page_ack",
        "page_escalate",
        "page_reassign",
    ]


async def test_same_notification_twice_gives_one_incident_and_one_page(
    bot: Harness, samples: Path
) -> None:
    payload = load(samples, "alertmanager-0.25-firing.json")
    first = await bot.post_alerts(payload)
    second = await bot.post_alerts(payload)

    assert first.json()["stored"] == 2
    assert second.json() | {"received": 0} == {
        "received": 0,
        "stored": 0,
        "duplicates": 2,
        "resolved": 0,
        "acknowledged": 0,
        "silenced": 0,
        "incidents_opened": [],
        "incidents_joined": [],
    }
    await bot.settle()
    assert await count(bot, Incident) == 1
    assert await count(bot, Alert) == 2
    assert len(dms(bot.slack.calls(), "UDS2")) == 1


async def test_concurrent_deliveries_give_one_incident(bot: Harness, samples: Path) -> None:
    payload = load(samples, "alertmanager-0.25-firing.json")
    responses = await asyncio.gather(*(bot.post_alerts(payload) for _ in range(6)))

    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["stored"] for r in responses) == 2
    await bot.settle()
    assert await count(bot, Incident) == 1
    assert await count(bot, Page) == 1
    assert len(bot.slack.calls("conversations.create")) == 1


async def test_unacknowledged_page_escalates_round_the_rotation(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_drift_incident(bot, samples)
    timeout = bot.rt.config.playbooks.get("model-drift").ack_timeout

    clock.advance(seconds=timeout.total_seconds() - 1)
    assert await service.escalate_due(bot.rt) == 0
    clock.advance(seconds=1)
    assert await service.escalate_due(bot.rt) == 1
    await bot.settle()

    assert len(dms(bot.slack.calls(), "UDS1")) == 1  # the next member after UDS2, wrapping
    escalation = channel_posts(bot.slack.calls(), channel)[-1].params["text"]
    assert "UDS1" in escalation
    first_dm = [c for c in bot.slack.calls("chat.update") if c.params["channel"] == "DUDS2"]
    assert first_dm and not buttons(first_dm[-1].params)  # the stale page lost its button


async def test_acknowledge_button_stops_escalation(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_drift_incident(bot, samples)
    async with bot.rt.db.transaction() as session:
        page_id = await session.scalar(select(Page.id))

    acknowledged_at = clock.now
    response = await bot.click("page_ack", str(page_id), user="UDS2")
    assert response.status_code == 200

    async def acknowledged() -> bool:
        async with bot.rt.db.transaction() as session:
            return await session.scalar(select(Page.state)) == "acknowledged"

    await bot.wait_until(acknowledged)  # the click is answered before its listener runs
    await bot.settle()  # the channel's messages are paced: the clock moves on
    assert any(
        "acknowledged" in c.params.get("text", "").lower()
        for c in channel_posts(bot.slack.calls(), channel)
    )
    clock.advance(hours=1)
    assert await service.escalate_due(bot.rt) == 0
    await bot.settle()
    assert dms(bot.slack.calls(), "UDS1") == []
    async with bot.rt.db.transaction() as session:
        incident = await session.scalar(select(Incident))
        assert incident.acknowledged_at == acknowledged_at


async def test_slash_commands_in_the_incident_channel(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_drift_incident(bot, samples)

    ack = await bot.slash("ack", user="UDS2", channel=channel)
    assert "acknowledged incident #1" in ack.json()["text"]
    clock.advance(minutes=3)
    note = await bot.slash("note PSI spike matches the upstream schema change", "UDS2", channel)
    assert note.json()["text"] == "Note added to the timeline."
    status = await bot.slash("status rolling back feature pipeline", "UDS2", channel)
    assert status.json()["text"] == "Status posted."
    clock.advance(minutes=20)
    resolved = await bot.slash("resolve rolled back the feature pipeline", "UDS2", channel)
    assert "Resolved incident #1" in resolved.json()["text"]
    await bot.settle()

    texts = [c.params["text"] for c in channel_posts(bot.slack.calls(), channel)]
    assert any("PSI spike matches" in t for t in texts)
    assert any("rolling back feature pipeline" in t for t in texts)
    assert len(bot.slack.calls("files.completeUploadExternal")) == 1
    reply = (await bot.slash("postmortem", "UDS2", channel)).json()["text"]
    assert reply == f"The postmortem of incident #1 is being attached to <#{channel}>."
    await bot.settle()
    assert len(bot.slack.calls("files.completeUploadExternal")) == 2  # regenerated
    postmortem = list(bot.slack.uploads.values())[-1].decode()
    assert "Incident #1" in postmortem
    assert "PSI spike matches the upstream schema change" in postmortem
    # Detected 2 minutes before the page went out, acknowledged at once, resolved 23 later.
    assert "| Time to acknowledge | 2m |" in postmortem
    assert "| Time to resolve | 25m |" in postmortem


async def test_commands_outside_an_incident_channel_say_how_to_name_one(bot: Harness) -> None:
    reply = (await bot.slash("note hello", channel="CRANDOM")).json()["text"]
    assert "not an incident channel" in reply
    assert "#12" in reply

    declared = (await bot.slash("declare Feature store returning stale embeddings", "UX1")).json()
    assert "Declared incident #1" in declared["text"]
    named = (await bot.slash("note #1 checked the TTLs", "UX1", "CRANDOM")).json()["text"]
    assert named == "Note added to the timeline."
    listing = (await bot.slash("list")).json()
    assert "Feature store returning stale embeddings" in json.dumps(listing)
    assert "/incident declare" in (await bot.slash("help")).json()["text"]
    unknown = (await bot.slash("frobnicate")).json()["text"]
    assert "frobnicate" in unknown and "declare" in unknown
    missing = (await bot.slash("ack #99")).json()["text"]
    assert missing == "There is no incident #99."


async def test_declared_incident_invites_the_declarer_and_pages_default_role(bot: Harness) -> None:
    await bot.slash("declare GPU nodes down in us-east", user="UX1")
    await bot.settle()
    channel = bot.slack.calls("conversations.create")[0]
    assert channel.params["name"] == "inc-1-gpu-nodes-down-in-us-east"
    invites = bot.slack.calls("conversations.invite")
    assert invites[0].params["users"] == "UX1"
    assert len(dms(bot.slack.calls(), "UOPS1")) + len(dms(bot.slack.calls(), "UOPS2")) == 1


async def test_resolved_alerts_are_recorded(bot: Harness, samples: Path) -> None:
    channel = await open_drift_incident(bot, samples)
    partly = await bot.post_alerts(load(samples, "alertmanager-0.25-partly-resolved.json"))
    assert partly.status_code == 200
    await bot.settle()

    async with bot.rt.db.transaction() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind)))
    assert "alert_resolved" in kinds
    assert any("resolved" in c.params["text"] for c in channel_posts(bot.slack.calls(), channel))


async def test_alert_text_cannot_notify_the_channel(bot: Harness, samples: Path) -> None:
    payload = load(samples, "alertmanager-0.25-firing.json")
    payload["alerts"][0]["annotations"]["summary"] = "<!channel> <@U999> <https://evil|Runbook>"
    await bot.post_alerts(payload)
    await bot.settle()

    sent = json.dumps([c.params for c in bot.slack.calls()])
    assert "&lt;!channel&gt;" in sent
    for raw in ("<!channel>", "<@U999>", "<https://evil"):
        assert raw not in sent


async def test_slack_outage_is_retried_and_nothing_is_lost(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    bot.slack.fail_next("chat.postMessage", status=500, times=10)
    await bot.post_alerts(load(samples, "alertmanager-0.25-firing.json"))
    await bot.settle()
    async with bot.rt.db.transaction() as session:
        waiting = await session.scalar(
            select(func.count()).select_from(Effect).where(Effect.state == EffectState.PENDING)
        )
    assert waiting >= 2  # the card and the page wait for Slack to come back

    for _ in range(6):  # retries back off 2 s, 4 s, 8 s …; move the clock past each
        clock.advance(minutes=5)
        await bot.settle()
    assert len(dms(bot.slack.calls(), "UDS2")) >= 1
    assert await count(bot, Effect, Effect.state != EffectState.DONE) == 0
