"""Outbound pagers follow the page: trigger when paged, acknowledge with Slack, resolve
when the incident ends or the page moves on — against fake PagerDuty and webhook servers
that check requests the way the providers document them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import ONCALL_YAML, FakeClock
from tests.fakes.pager_servers import FakePagerDuty, FakeWebhookReceiver
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

ROUTING_KEY = "R" * 32


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as server:
        yield server


@pytest.fixture
def sms_gateway() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver("sms-secret") as server:
        yield server


@pytest.fixture
async def bot(
    settings: Settings,
    fake_slack: FakeSlackApi,
    clock: FakeClock,
    tmp_path: Path,
    pagerduty: FakePagerDuty,
    sms_gateway: FakeWebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("PD_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("SMS_SECRET", "sms-secret")
    oncall = ONCALL_YAML.replace(
        "    timezone: Europe/London\n    ack_timeout: 5m\n  ml-engineer:",
        "    timezone: Europe/London\n    ack_timeout: 5m\n    pagers: [pagerduty]\n  ml-engineer:",
    )
    oncall += f"""
pagers:
  pagerduty: {{type: pagerduty, routing_key_env: PD_ROUTING_KEY, url: "{pagerduty.enqueue_url}"}}
  sms: {{type: webhook, url: "{sms_gateway.hook_url}", secret_env: SMS_SECRET}}
people:
  UDS2: {{pagers: [sms]}}
"""
    path = tmp_path / "oncall-pagers.yaml"
    path.write_text(oncall)
    custom = settings.model_copy(update={"oncall_file": path})
    async with Harness.running(custom, fake_slack, clock) as harness:
        assert harness.rt.config.problems == []
        yield harness


async def test_trigger_acknowledge_resolve_follow_the_incident(
    bot: Harness, samples: Path, pagerduty: FakePagerDuty, sms_gateway: FakeWebhookReceiver
) -> None:
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    await bot.post_alerts(payload)
    await bot.settle()
    [alert] = pagerduty.alerts
    assert alert.status == "triggered" and alert.dedup_key == "warroom-inc1-page1"
    assert sms_gateway.actions("warroom-inc1-page1") == ["trigger"]

    channel = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    await bot.slash("ack", user="UDS2", channel=channel)
    await bot.settle()
    assert pagerduty.alert("warroom-inc1-page1").status == "acknowledged"

    await bot.slash("resolve fixed", user="UDS2", channel=channel)
    await bot.settle()
    assert pagerduty.alert("warroom-inc1-page1").status == "resolved"
    assert sms_gateway.actions("warroom-inc1-page1") == ["trigger", "acknowledge", "resolve"]


async def test_a_provider_outage_is_retried(
    bot: Harness, samples: Path, pagerduty: FakePagerDuty, clock: FakeClock
) -> None:
    pagerduty.fail_next(503, times=2)
    await bot.post_alerts(json.loads((samples / "alertmanager-0.25-firing.json").read_text()))
    await bot.settle()
    assert pagerduty.alerts == []
    for _ in range(3):
        clock.advance(minutes=1)
        await bot.settle()
    assert len(pagerduty.alerts) == 1
