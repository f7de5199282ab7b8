"""A real Alertmanager (Debian's prometheus-alertmanager) delivers to the bot over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.alertmanager import run_alertmanager
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import catch_up, serve_http


async def test_real_alertmanager_opens_pages_and_resolves(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, tmp_path: Path
) -> None:
    app = create_app(settings, clock=clock, run_scheduler=False)
    started = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {"alertname": "ModelDriftHigh", "model": "fraud-v2", "severity": "critical"},
        "annotations": {"summary": "PSI 0.52 on feature merchant_category"},
        "startsAt": started.isoformat(),
    }
    async with (
        serve_http(app) as url,
        run_alertmanager(
            f"{url}/alerts/alertmanager", settings.webhook_token or "", tmp_path
        ) as am,
    ):
        await am.post_alerts([alert])
        created = await fake_slack.wait_for(
            lambda calls: [c for c in calls if c.method == "conversations.create"], timeout=20
        )
        assert created[0].params["name"] == "inc-1-model-or-data-drift-modeldrifthigh-fraud-v2"
        await fake_slack.wait_for(
            lambda calls: [c for c in calls if c.params.get("channel") == "UDS2"], timeout=20
        )

        await am.post_alerts([alert | {"endsAt": datetime.now(UTC).isoformat()}])
        channel = created[0].response["channel"]["id"]
        await fake_slack.wait_for(
            lambda calls: (
                catch_up(app, clock)
                or [
                    c
                    for c in calls
                    if c.params.get("channel") == channel and "resolved" in c.params.get("text", "")
                ]
            ),
            timeout=20,
        )
    assert len(fake_slack.calls("conversations.create")) == 1
    assert len([c for c in fake_slack.calls() if c.params.get("channel") == "UDS2"]) == 1
