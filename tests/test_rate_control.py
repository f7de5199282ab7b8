"""Storm rate control: Slack's rate limits are kept by the fake clock, and one person paged
for several incidents at once gets one DM for them, not one each."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import render
from bot.effects import REFRESH_INTERVAL
from bot.models import Incident, Page
from bot.slack_gateway import CHANNEL_GAP, CREATE_GAP, PAGE_GAP, UPDATE_GAP
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi, Response
from tests.harness import Harness

MESSAGES = ("chat.postMessage", "chat.update")


@dataclass(frozen=True, slots=True)
class Stamped:
    at: datetime  # the fake clock when the call reached Slack
    method: str
    params: dict[str, Any]
    response: Any


class Stamps:
    """Notes the fake clock at each Slack call; ``hold`` keeps the next chat.update waiting."""

    def __init__(self, slack: FakeSlackApi, clock: FakeClock) -> None:
        self.calls: list[Stamped] = []
        self.held = threading.Event()  # set while a chat.update is being held
        self.release = threading.Event()
        self.release.set()
        self._answer = slack.handle
        self._clock = clock
        slack.handle = self._handle  # type: ignore[method-assign]

    def hold_next_update(self) -> None:
        self.held.clear()
        self.release.clear()

    def _handle(
        self, http_method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        if path.startswith("/chat.update") and not self.release.is_set():
            self.held.set()
            self.release.wait(10)
        status, payload, extra = self._answer(http_method, path, headers, body)
        method = path.split("?", 1)[0].lstrip("/")
        params = json.loads(body) if body.startswith(b"{") else {}
        self.calls.append(Stamped(self._clock(), method, params, payload))
        return status, payload, extra

    def messages(self, channel: str) -> list[Stamped]:
        """Posts and edits in ``channel`` (a DM's posts name the user, its edits D<user>)."""
        return [
            c
            for c in self.calls
            if c.method in MESSAGES and c.params.get("channel") in (channel, f"D{channel}")
        ]


@pytest.fixture
def stamps(fake_slack: FakeSlackApi, clock: FakeClock) -> Stamps:
    return Stamps(fake_slack, clock)


_SERIAL = itertools.count()


def drift(samples: Path, n: int) -> dict[str, Any]:
    """A new firing drift alert for model ``model-<n>``: one incident per ``n``, paging UDS2."""
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    alert = payload["alerts"][0]
    alert["fingerprint"] += f"-{n}-{next(_SERIAL)}"  # a new alert each time, not a duplicate
    alert["labels"]["model"] = f"model-{n}"
    payload["alerts"] = [alert]
    return payload


def gaps(calls: list[Stamped]) -> list[float]:
    return [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(calls)]


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["value"])
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def channel_of(bot: Harness, number: int) -> tuple[str, str]:
    async with bot.rt.db.transaction() as session:
        row = (
            await session.execute(
                select(Incident.channel_id, Incident.card_ts).where(Incident.number == number)
            )
        ).one()
    return row.channel_id, row.card_ts


async def test_a_new_channels_first_messages_are_at_least_a_second_apart(
    bot: Harness, samples: Path, stamps: Stamps
) -> None:
    await bot.post_alerts(drift(samples, 1))
    await bot.settle()
    channel, _ = await channel_of(bot, 1)
    sent = stamps.messages(channel)
    assert len(sent) >= 4, [c.params.get("text") for c in sent]  # card, checklist, page, check
    assert min(gaps(sent)) >= CHANNEL_GAP.total_seconds(), gaps(sent)


async def test_pages_to_one_person_within_seconds_come_as_one_dm_then_one_combined_dm(
    bot: Harness, samples: Path, stamps: Stamps
) -> None:
    await bot.post_alerts(drift(samples, 1))
    await bot.slack.wait_for(lambda calls: stamps.messages("UDS2"))  # the first page at once
    await bot.post_alerts(drift(samples, 2))
    await bot.post_alerts(drift(samples, 3))
    await bot.settle()

    posts = [c for c in stamps.messages("UDS2") if c.method == "chat.postMessage"]
    assert len(posts) == 2, [p.params["text"] for p in posts]
    first, combined = posts
    assert "#1 " in first.params["text"] and "#2" not in first.params["text"]
    assert (combined.at - first.at) >= PAGE_GAP
    text = combined.params["text"]
    assert "#2 " in text and "#3 " in text and "#1 " not in text  # phones show only this
    async with bot.rt.db.transaction() as session:
        pages = list(await session.scalars(select(Page).order_by(Page.id)))
    assert [p.dm_ts for p in pages] == [first.response["ts"], *[combined.response["ts"]] * 2]
    assert [pid for action, pid in buttons(combined.params) if action == "page_ack"] == [
        str(pages[1].id),
        str(pages[2].id),
    ]

    await bot.click(render.ACK_PAGE_ACTION, str(pages[1].id), user="UDS2")
    await bot.wait_until(lambda: page_states(bot, ["pending", "acknowledged", "pending"]))
    await bot.settle()
    edits = [c for c in stamps.messages("UDS2") if c.method == "chat.update"]
    assert edits and edits[-1].params["ts"] == combined.response["ts"]
    shown = edits[-1].params
    assert [pid for action, pid in buttons(shown) if action == "page_ack"] == [str(pages[2].id)]
    assert "Acknowledged by <@UDS2>" in json.dumps(shown["blocks"])
    assert await page_states(bot, ["pending", "acknowledged", "pending"])  # the other waits


async def page_states(bot: Harness, expected: list[str]) -> bool:
    async with bot.rt.db.transaction() as session:
        return list(await session.scalars(select(Page.state).order_by(Page.id))) == expected


async def test_edits_of_one_card_are_refresh_interval_apart_even_when_one_was_in_flight(
    bot: Harness, samples: Path, stamps: Stamps, clock: FakeClock
) -> None:
    """An edit claimed late counted from its old due time, so the next one came at once."""
    await bot.post_alerts(drift(samples, 1))
    await bot.settle()
    channel, card_ts = await channel_of(bot, 1)
    bot.rt.after_commit = lambda: None  # this test drives the deliveries
    await bot.post_alerts(drift(samples, 1))  # an edit of the card, due now …
    clock.advance(seconds=5)  # … but claimed late, as during a storm
    stamps.hold_next_update()
    drain = asyncio.create_task(bot.dispatcher.drain())
    await asyncio.to_thread(stamps.held.wait, 10)  # that edit is on its way to Slack
    await bot.post_alerts(drift(samples, 1))  # another edit is asked for meanwhile
    stamps.release.set()
    await drain
    await bot.settle()

    edits = [c for c in stamps.messages(channel) if c.params.get("ts") == card_ts]
    assert len(edits) == 2
    assert edits[1].at - edits[0].at >= REFRESH_INTERVAL


async def test_chat_update_keeps_to_the_workspace_budget(
    bot: Harness, samples: Path, stamps: Stamps, clock: FakeClock
) -> None:
    for n in range(3):
        await bot.post_alerts(drift(samples, n))
    await bot.settle()
    clock.advance(seconds=10)  # every card may be edited again
    before = len(stamps.calls)
    for n in range(3):  # three cards edited at the same moment
        await bot.post_alerts(drift(samples, n))
    await bot.settle()
    updates = [c for c in stamps.calls[before:] if c.method == "chat.update"]
    assert len(updates) >= 3
    assert min(gaps(updates)) >= UPDATE_GAP.total_seconds(), gaps(updates)


async def test_channels_are_created_within_slacks_tier_2_budget(
    bot: Harness, samples: Path, stamps: Stamps
) -> None:
    for n in range(3):  # three incidents at the same moment
        await bot.post_alerts(drift(samples, n))
    await bot.settle()
    created = [c for c in stamps.calls if c.method == "conversations.create"]
    assert len(created) == 3
    assert min(gaps(created)) >= CREATE_GAP.total_seconds(), gaps(created)


async def test_pages_that_do_not_fit_one_dm_follow_without_waiting_to_gather(
    bot: Harness, samples: Path, stamps: Stamps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "PAGES_PER_DM", 2)  # a DM's worth, small enough to overflow
    await bot.post_alerts(drift(samples, 1))
    await bot.slack.wait_for(lambda calls: stamps.messages("UDS2"))  # the first page at once
    for n in range(2, 6):
        await bot.post_alerts(drift(samples, n))
    await bot.settle()

    posts = [c for c in stamps.messages("UDS2") if c.method == "chat.postMessage"]
    shown = [[n for n in range(1, 6) if f"#{n} " in p.params["text"]] for p in posts]
    assert shown == [[1], [2, 3], [4, 5]]
    first, full, rest = (p.at for p in posts)
    assert full - first >= PAGE_GAP, "the second DM gathered what came meanwhile"
    assert CHANNEL_GAP <= rest - full < PAGE_GAP, "the overflow went on at the channel's pace"
