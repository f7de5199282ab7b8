"""Every alert source through its real HTTP route, with its reference payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.effects import EffectKind
from bot.models import Alert, Effect, Incident
from bot.settings import Settings
from tests.conftest import FakeClock, load_sample
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness


async def counts(bot: Harness) -> tuple[int, int]:
    async with bot.rt.db.transaction() as session:
        alerts = await session.scalar(select(func.count()).select_from(Alert))
        incidents = await session.scalar(select(func.count()).select_from(Incident))
    return int(alerts or 0), int(incidents or 0)


async def statuses(bot: Harness) -> list[str]:
    async with bot.rt.db.transaction() as session:
        return list(await session.scalars(select(Alert.status).order_by(Alert.id)))


async def test_grafana_opens_an_incident(bot: Harness) -> None:
    response = await bot.post_alerts(load_sample("grafana.json"), source="grafana")
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == [1]


async def test_grafana_signature_is_checked_when_a_secret_is_set(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path
) -> None:
    signed = settings.model_copy(update={"grafana_secret": "grafana-shared-secret"})
    body = (samples / "grafana.json").read_bytes()
    good = hmac.new(b"grafana-shared-secret", body, hashlib.sha256).hexdigest()
    async with Harness.running(signed, fake_slack, clock) as bot:
        headers = {"Authorization": f"Bearer {settings.webhook_token}"}
        forged = await bot.client.post(
            "/alerts/grafana",
            content=body,
            headers=headers | {"X-Grafana-Alerting-Signature": "0" * 64},
        )
        assert forged.status_code == 401
        assert await counts(bot) == (0, 0)
        ok = await bot.client.post(
            "/alerts/grafana",
            content=body,
            headers=headers | {"X-Grafana-Alerting-Signature": good},
        )
        assert ok.status_code == 200


async def test_grafana_signature_headers_named_as_on_the_contact_point(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path
) -> None:
    """Grafana has no default timestamp header name: a contact point provisioned with
    ``X-Grafana-Alerting-Timestamp`` signs ``"<timestamp>:<body>"`` and sends the stamp there."""
    secret = "grafana-shared-secret"
    custom = {
        "grafana_secret": secret,
        "grafana_signature_header": "X-Signature",
        "grafana_timestamp_header": "X-Grafana-Alerting-Timestamp",
    }
    body = (samples / "grafana.json").read_bytes()
    stamp = "1796032800"
    good = hmac.new(secret.encode(), f"{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    sent = {"Authorization": f"Bearer {settings.webhook_token}", "X-Signature": good}
    async with Harness.running(settings.model_copy(update=custom), fake_slack, clock) as bot:
        unstamped = await bot.client.post("/alerts/grafana", content=body, headers=sent)
        assert unstamped.status_code == 401
        error = unstamped.json()["error"]
        assert "X-Signature" in error and "X-Grafana-Alerting-Timestamp" in error
        assert await counts(bot) == (0, 0)
        stamped = sent | {"X-Grafana-Alerting-Timestamp": stamp}
        ok = await bot.client.post("/alerts/grafana", content=body, headers=stamped)
        assert ok.status_code == 200, ok.text


async def test_pagerduty_events_api_trigger_then_resolve(bot: Harness) -> None:
    trigger = load_sample("pagerduty_v2.json")
    resolve = load_sample("pagerduty_v2_resolve.json")
    token = bot.settings.webhook_token
    url = f"/alerts/pagerduty/v2/enqueue?token={token}"

    first = await bot.client.post(url, json=trigger)
    again = await bot.client.post(url, json=trigger)  # a retry by the sender
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["status"] == "success"
    assert first.json()["dedup_key"] == trigger["dedup_key"] == again.json()["dedup_key"]
    assert await counts(bot) == (1, 1)

    done = await bot.client.post(url, json=resolve)
    assert done.status_code == 202
    assert await statuses(bot) == ["resolved"]


async def test_pagerduty_routing_key_may_carry_the_token(bot: Harness) -> None:
    event = load_sample("pagerduty_v2.json") | {"routing_key": bot.settings.webhook_token}
    accepted = await bot.client.post("/alerts/pagerduty/v2/enqueue", json=event)
    assert accepted.status_code == 202
    event["routing_key"] = "x" * 32
    refused = await bot.client.post("/alerts/pagerduty/v2/enqueue", json=event)
    assert refused.status_code == 401


async def test_pagerduty_invalid_event_is_answered_like_pagerduty(bot: Harness) -> None:
    url = f"/alerts/pagerduty/v2/enqueue?token={bot.settings.webhook_token}"
    response = await bot.client.post(url, json={"event_action": "trigger", "payload": {}})
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert await counts(bot) == (0, 0)


async def test_datadog_trigger_then_recovery(bot: Harness) -> None:
    triggered = load_sample("datadog_recommended_custom.json")
    recovered = triggered | {
        "alert_transition": "Recovered",
        "title": triggered["title"].replace("Triggered", "Recovered"),
        "date": str(int(triggered["date"]) + 600_000),
    }
    assert (await bot.post_alerts(triggered, source="datadog")).json()["incidents_opened"] == [1]
    assert (await bot.post_alerts(recovered, source="datadog")).json()["resolved"] == 1
    assert await statuses(bot) == ["resolved"]


async def test_cloudwatch_alarm_arrives_as_text_plain(bot: Harness, samples: Path) -> None:
    response = await bot.client.post(
        f"/alerts/cloudwatch?token={bot.settings.webhook_token}",
        content=(samples / "cloudwatch_sns.json").read_bytes(),
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["incidents_opened"] == [1]


async def test_cloudwatch_message_type_header_must_agree_with_the_body(
    bot: Harness, samples: Path
) -> None:
    response = await bot.client.post(
        f"/alerts/cloudwatch?token={bot.settings.webhook_token}",
        content=(samples / "cloudwatch_sns.json").read_bytes(),
        headers={"x-amz-sns-message-type": "SubscriptionConfirmation"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "x-amz-sns-message-type says 'SubscriptionConfirmation'" in error
    assert await counts(bot) == (0, 0)


async def test_cloudwatch_subscription_is_confirmed_by_an_effect(bot: Harness) -> None:
    bot.rt.after_commit = lambda: None  # keep the effect in the table to look at it
    confirmation = load_sample("cloudwatch_sns_subscription_confirmation.json")
    response = await bot.client.post(
        f"/alerts/cloudwatch?token={bot.settings.webhook_token}",
        content=json.dumps(confirmation),
        headers={"x-amz-sns-message-type": "SubscriptionConfirmation"},
    )
    assert response.json() == {"subscription": "confirming"}
    async with bot.rt.db.transaction() as session:
        effect = await session.scalar(
            select(Effect).where(Effect.kind == EffectKind.CONFIRM_SUBSCRIPTION)
        )
    assert effect is not None and effect.payload["url"] == confirmation["SubscribeURL"]


async def test_cloudwatch_confirmation_to_a_foreign_host_is_refused(bot: Harness) -> None:
    confirmation = load_sample("cloudwatch_sns_subscription_confirmation.json")
    confirmation["SubscribeURL"] = "http://169.254.169.254/latest/meta-data/"
    response = await bot.client.post(
        f"/alerts/cloudwatch?token={bot.settings.webhook_token}", content=json.dumps(confirmation)
    )
    assert response.status_code == 400
    assert "SubscribeURL" in response.json()["error"]


@pytest.mark.parametrize(
    "body, problem",
    [
        (b'{"version": "4", "alerts": [], "x": NaN}', "NaN is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
async def test_json_the_database_cannot_store_is_400(
    bot: Harness, body: bytes, problem: str
) -> None:
    response = await bot.post_alerts(body)
    assert response.status_code == 400
    assert problem in response.json()["error"]


async def test_a_payload_with_no_alerts_is_200_and_changes_nothing(bot: Harness) -> None:
    empty = {"version": "4", "status": "resolved", "alerts": [], "groupKey": "{}"}
    response = await bot.post_alerts(empty)
    assert response.status_code == 200
    assert response.json()["received"] == 0
    assert await counts(bot) == (0, 0)
