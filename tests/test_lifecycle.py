"""Start-up and restarts: console mode, the generated webhook token, work that survives
a restart, and the scheduler that drives escalations."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from bot import service
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness


def firing(samples: Path) -> dict:
    return json.loads((samples / "alertmanager-0.25-firing.json").read_text())


Start = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def start(settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock) -> Start:
    """Run the bot with some settings changed: ``async with start(webhook_token=None) as bot``."""

    def running(**changes: Any) -> AbstractAsyncContextManager[Harness]:
        return Harness.running(settings.model_copy(update=changes), fake_slack, clock)

    return running


async def test_console_mode_prints_the_incident(
    start: Start, fake_slack: FakeSlackApi, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with start(slack_bot_token=None) as bot:
        assert (await bot.client.get("/healthz")).json()["mode"] == "console"
        assert (await bot.post_alerts(firing(samples))).status_code == 200
        await bot.settle()
        slack = await bot.client.post("/slack/events", content=b"{}")
        assert slack.status_code == 404
        assert "SLACK_BOT_TOKEN" in slack.json()["error"]
    out = capsys.readouterr().out
    assert "inc-1-model-or-data-drift-modeldrifthigh-recsys-v3" in out
    assert "UDS2" in out  # the page, as a DM line
    assert fake_slack.calls() == []  # nothing went to any Slack


async def test_webhook_token_is_generated_once_and_kept(
    start: Start, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with start(webhook_token=None) as bot:
        token = bot.app.state.webhook_token
        assert len(token) >= 32
        assert (await bot.post_alerts(firing(samples), token=token)).status_code == 200
        assert (await bot.post_alerts(firing(samples), token="guess")).status_code == 401
    assert f"/alerts/alertmanager?token={token}" in capsys.readouterr().out

    async with start(webhook_token=None) as bot:  # same settings, restarted
        assert bot.app.state.webhook_token == token
    assert token not in capsys.readouterr().out  # printed once, on the first start only


async def test_escalations_and_undelivered_effects_survive_a_restart(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path
) -> None:
    async with Harness.running(settings, fake_slack, clock) as first:
        await first.settle()  # let the start-up drain finish first
        first.rt.after_commit = lambda: None  # the process "dies" before delivering anything
        assert (await first.post_alerts(firing(samples))).status_code == 200
    assert fake_slack.calls("chat.postMessage") == []

    async with Harness.running(settings, fake_slack, clock) as second:
        await second.settle()  # start-up woke the dispatcher: the page goes out now
        assert [c.params["channel"] for c in fake_slack.calls("chat.postMessage")].count(
            "UDS2"
        ) == 1
        clock.advance(hours=1)
        assert await service.escalate_due(second.rt) == 1
        await second.settle()
    assert [c.params["channel"] for c in fake_slack.calls("chat.postMessage")].count("UDS1") == 1


async def test_scheduler_escalates_without_being_asked(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path
) -> None:
    async with Harness.running(settings, fake_slack, clock, run_scheduler=True) as bot:
        assert (await bot.post_alerts(firing(samples))).status_code == 200
        await bot.settle()
        clock.advance(hours=1)  # past the deadline; the next scheduler tick must escalate
        await fake_slack.wait_for(
            lambda calls: [c for c in calls if c.params.get("channel") == "UDS1"], timeout=10
        )
