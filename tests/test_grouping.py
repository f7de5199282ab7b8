"""Grouping people can predict: flapping, reopening, auto-resolve, coalesced card edits,
and silences."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import render, service
from bot.models import Alert, Effect, Incident, Page, Silence, TimelineEvent
from bot.settings import Settings
from bot.timeline import Kind
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

PLAYBOOK = """
id: embedding-latency
title: Embedding latency
match: ['alertname="EmbeddingLatencyHigh"']
severity: sev2
page: [ml-engineer]
group_by: [alertname, service]
auto_resolve: 10m
reopen_within: 30m
"""


@pytest.fixture
async def bot(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Harness]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "embedding-latency.yaml").write_text(PLAYBOOK)
    custom = settings.model_copy(update={"playbooks_dir": folder})
    async with Harness.running(custom, fake_slack, clock) as harness:
        yield harness


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def notification(
    status: str,
    started: datetime,
    *,
    fingerprint: str = "emb-1",
    service: str = "embedder",
    ended: datetime | None = None,
    name: str = "EmbeddingLatencyHigh",
) -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {"alertname": name, "service": service},
        "annotations": {"summary": f"p99 of {service} above 800ms"},
        "startsAt": iso(started),
        "endsAt": iso(ended) if ended else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    return {"version": "4", "status": status, "alerts": [alert], "groupKey": "{}"}


async def scalar(bot: Harness, query: Any) -> Any:
    async with bot.rt.db.transaction() as session:
        return await session.scalar(query)


async def incident(bot: Harness) -> Incident:
    return await scalar(bot, select(Incident).order_by(Incident.id.desc()))


async def pages(bot: Harness) -> int:
    return int(await scalar(bot, select(func.count()).select_from(Page)))


async def test_all_alerts_resolved_then_auto_resolve_after_the_quiet_period(
    bot: Harness, clock: FakeClock
) -> None:
    started = clock.now - timedelta(minutes=5)
    await bot.post_alerts(notification("firing", started))
    await bot.post_alerts(notification("resolved", started, ended=clock.now))
    quiet_since = clock.now
    await bot.settle()  # the channel's messages are paced: the clock moves on
    announce = [
        c.params
        for c in bot.slack.calls("chat.postMessage")
        if "resolve this incident" in json.dumps(c.params)
    ]
    assert announce, "the channel is told, with a way to object"
    assert render.KEEP_OPEN_ACTION in json.dumps(announce[0]["blocks"])

    clock.now = quiet_since + timedelta(minutes=9, seconds=59)
    await service.auto_resolve_due(bot.rt)
    assert (await incident(bot)).status == "open"
    clock.advance(seconds=1)
    await service.auto_resolve_due(bot.rt)
    resolved = await incident(bot)
    assert resolved.status == "resolved" and resolved.resolved_at == clock.now


async def test_keep_open_cancels_the_automatic_resolution(bot: Harness, clock: FakeClock) -> None:
    started = clock.now - timedelta(minutes=5)
    await bot.post_alerts(notification("firing", started))
    await bot.post_alerts(notification("resolved", started, ended=clock.now))
    opened = await incident(bot)
    await bot.click(render.KEEP_OPEN_ACTION, str(opened.id), user="UML3")

    async def kept_open() -> bool:
        query = select(func.count()).where(TimelineEvent.kind == Kind.AUTO_RESOLVE_CANCELLED)
        return bool(await scalar(bot, query))

    await bot.wait_until(kept_open)  # the click is answered before its listener runs
    await bot.settle()  # the channel's messages are paced: the clock moves on
    assert any("Kept open" in c.params.get("text", "") for c in bot.slack.calls())

    clock.advance(hours=1)
    await service.auto_resolve_due(bot.rt)
    assert (await incident(bot)).status == "open"


async def test_a_new_alert_within_the_reopen_window_reopens_the_incident(
    bot: Harness, clock: FakeClock
) -> None:
    await bot.post_alerts(notification("firing", clock.now - timedelta(minutes=1)))
    channel = (await incident(bot)).number
    await bot.settle()
    created = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    await bot.slash("resolve restarted the embedder", user="UML3", channel=created)
    clock.advance(minutes=20)
    response = await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-2"))
    assert response.json()["incidents_joined"] == [channel]
    assert (await incident(bot)).status == "open"
    assert int(await scalar(bot, select(func.count()).select_from(Incident))) == 1


async def test_outside_the_reopen_window_a_new_incident_opens(
    bot: Harness, clock: FakeClock
) -> None:
    await bot.post_alerts(notification("firing", clock.now - timedelta(minutes=1)))
    await bot.settle()
    created = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    await bot.slash("resolve done", user="UML3", channel=created)
    clock.advance(minutes=31)
    response = await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-2"))
    assert response.json()["incidents_opened"] == [2]


async def test_a_flapping_alert_does_not_page_again(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path
) -> None:
    # The shipped drift playbook has no reopen window: only flapping can reopen here.
    async with Harness.running(settings, fake_slack, clock) as bot:
        payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
        payload["alerts"] = payload["alerts"][:1]
        for cycle in range(3):
            started = clock.now
            payload["alerts"][0] |= {
                "status": "firing",
                "startsAt": iso(started),
                "endsAt": "0001-01-01T00:00:00Z",
            }
            await bot.post_alerts(payload)
            await bot.settle()
            if cycle < 2:
                clock.advance(minutes=5)
                payload["alerts"][0] |= {"status": "resolved", "endsAt": iso(clock.now)}
                await bot.post_alerts(payload)
                channel = bot.slack.calls("conversations.create")[-1].response["channel"]["id"]
                await bot.slash("resolve went away", user="UDS2", channel=channel)
                clock.advance(minutes=5)
        assert int(await scalar(bot, select(func.count()).select_from(Incident))) == 2
        assert await pages(bot) == 2  # the third start reopened incident 2 without a page
        flapping = await scalar(bot, select(Alert).order_by(Alert.id.desc()))
        assert flapping.flapping


async def test_card_edits_are_coalesced_during_a_burst(bot: Harness, clock: FakeClock) -> None:
    await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-0"))
    await bot.settle()
    for n in range(1, 30):  # 29 more alerts for the same incident, one request each
        await bot.post_alerts(notification("firing", clock.now, fingerprint=f"emb-{n}"))
    await bot.settle()
    assert len(bot.slack.calls("chat.update")) <= 1
    clock.advance(seconds=3)
    await bot.settle()
    updates = bot.slack.calls("chat.update")
    assert 1 <= len(updates) <= 2
    assert "30 firing / 30 total" in json.dumps(updates[-1].params)


async def test_silenced_alerts_are_stored_and_counted_but_never_paged(
    bot: Harness, clock: FakeClock
) -> None:
    reply = await bot.slash(
        'silence alertname="EmbeddingLatencyHigh" service=embedder 2h GPU swap', "UML3"
    )
    assert "Silenced" in reply.json()["text"]

    response = await bot.post_alerts(notification("firing", clock.now))
    assert response.json()["silenced"] == 1
    assert response.json()["incidents_opened"] == []
    other = await bot.post_alerts(
        notification("firing", clock.now, fingerprint="x", service="reranker")
    )
    assert other.json()["incidents_opened"] == [1]  # not covered by the silence

    listing = (await bot.slash("silences")).json()
    assert "1 alert(s) kept quiet" in json.dumps(listing)
    silence_id = await scalar(bot, select(Silence.id))
    await bot.click(render.UNSILENCE_ACTION, str(silence_id), user="UML3")
    await bot.slack.wait_for(
        lambda calls: any(
            "ended" in c.params.get("text", "") for c in calls if c.method == "respond"
        )
    )
    after = await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-9"))
    assert after.json()["incidents_opened"] == [2]


async def test_a_silence_expires_by_itself(bot: Harness, clock: FakeClock) -> None:
    await bot.slash('silence service="embedder" 30m', "UML3")
    assert (await bot.post_alerts(notification("firing", clock.now))).json()["silenced"] == 1
    clock.advance(minutes=30)
    later = await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-2"))
    assert later.json()["silenced"] == 0 and later.json()["incidents_opened"] == [1]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("silence 2h", "Usage"),
        ('silence alertname="X"', "Usage"),
        ('silence alertname=~"(" 2h', "not valid"),
        ('silence alertname="X" 45d', "at most 30 days"),
    ],
)
async def test_bad_silences_say_what_is_wrong(bot: Harness, text: str, problem: str) -> None:
    assert problem in (await bot.slash(text)).json()["text"]
    assert await scalar(bot, select(func.count()).select_from(Silence)) == 0


async def test_no_card_edit_is_queued_while_the_card_is_still_to_be_posted(
    bot: Harness, clock: FakeClock
) -> None:
    """The post renders the latest state; an edit queued before it would find nothing."""
    bot.rt.after_commit = lambda: None  # the dispatcher sleeps: the card is not posted yet
    for n in range(5):
        await bot.post_alerts(notification("firing", clock.now, fingerprint=f"emb-{n}"))
    kinds = await scalar(bot, select(func.count()).where(Effect.kind == "refresh_card"))
    assert kinds == 0

    await bot.settle()
    posted = [c for c in bot.slack.calls("chat.postMessage") if "firing /" in json.dumps(c.params)]
    assert "5 firing / 5 total" in json.dumps(posted[0].params)
    for n in range(5, 7):  # once the card is up, alerts edit it again
        await bot.post_alerts(notification("firing", clock.now, fingerprint=f"emb-{n}"))
    assert await scalar(bot, select(func.count()).where(Effect.kind == "refresh_card")) == 1


async def test_an_alert_joining_an_incident_opened_in_the_same_commit_queues_no_card_edit(
    bot: Harness, clock: FakeClock
) -> None:
    """The new card's post is queued in that very transaction, not yet in the table."""
    bot.rt.after_commit = lambda: None  # the dispatcher sleeps: no card is posted
    await bot.post_alerts(notification("firing", clock.now, fingerprint="emb-0"))
    body = notification("firing", clock.now, fingerprint="emb-1")  # joins incident 1 first
    for fingerprint in ("rr-0", "rr-1"):  # then opens incident 2 and joins it
        other = notification("firing", clock.now, fingerprint=fingerprint, service="reranker")
        body["alerts"] += other["alerts"]
    assert (await bot.post_alerts(body)).json()["incidents_opened"] == [2]
    assert await scalar(bot, select(func.count()).where(Effect.kind == "refresh_card")) == 0
    first = await scalar(bot, select(Effect.kind).order_by(Effect.id))
    assert first == "open_channel"  # queued effects are written in the order they were queued
