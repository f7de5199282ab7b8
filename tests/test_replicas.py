"""Two replicas on one database: only the one holding the delivery lock talks to Slack.

Both run the whole app against the same database (PostgreSQL: an advisory lock; SQLite:
a flock beside the file) and the same fake Slack, each with its own bot token, so every
Slack call says which replica made it.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.db import Database
from bot.leadership import Leadership
from bot.settings import Settings
from tests.conftest import FakeClock, load_sample
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

SECOND_TOKEN = "xoxb-second-replica"
FIRING = "alertmanager-0.25-firing.json"


def tokens(slack: FakeSlackApi) -> set[str | None]:
    return {call.authorization for call in slack.calls()}


async def leads(bot: Harness) -> bool:
    """Ask as the dispatcher does every 2 s: take the delivery lock, or check it is ours."""
    assert bot.dispatcher.leadership is not None
    return await bot.dispatcher.leadership.refresh()


@pytest.fixture
def second(settings: Settings) -> Settings:
    return settings.model_copy(update={"slack_bot_token": SECOND_TOKEN})


async def test_only_the_replica_holding_the_delivery_lock_talks_to_slack(
    settings: Settings, second: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with Harness.running(settings, fake_slack, clock) as first:
        assert await leads(first), "the first replica leads"
        async with Harness.running(second, fake_slack, clock) as other:
            assert not await leads(other)
            response = await other.post_alerts(load_sample(FIRING))
            assert response.json()["incidents_opened"] == [1]
            await other.settle()
            assert fake_slack.calls("conversations.create") == [], "the other never delivers"
            await first.settle()  # the leader picks up what the other replica wrote
            assert fake_slack.calls("conversations.create")
            assert tokens(fake_slack) == {f"Bearer {settings.slack_bot_token}"}


async def test_when_the_leader_stops_another_replica_takes_over(
    settings: Settings, second: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        async with Harness.running(settings, fake_slack, clock) as first:
            assert await leads(first)
            other = await stack.enter_async_context(Harness.running(second, fake_slack, clock))
            assert not await leads(other)
        # The first replica has stopped, and let go of the lock.
        assert await leads(other), "the other replica takes over"
        await other.post_alerts(load_sample(FIRING))
        await other.settle()
        assert fake_slack.calls("conversations.create")
        assert tokens(fake_slack) == {f"Bearer {SECOND_TOKEN}"}


async def test_a_replica_asking_twice_at_once_still_leads(db: Database) -> None:
    """Its startup drain and its first tick may ask together: neither may lock out the other."""
    leadership = Leadership(db)
    try:
        assert await asyncio.gather(leadership.refresh(), leadership.refresh()) == [True, True]
        other = Leadership(db)
        assert not await other.refresh(), "the lock is held, by the first only"
        await other.release()
    finally:
        await leadership.release()
