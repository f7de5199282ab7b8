"""Outbound pagers against fake providers that check requests as the providers document.

No mocks: each test sends real HTTP to a local server (tests/fakes/pager_servers.py) that
rejects what PagerDuty, Opsgenie or a careful webhook receiver would reject, and keeps the
provider-side state that makes a page idempotent.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.dispatcher import PermanentError
from bot.pagers import (
    OpsgeniePager,
    PageEvent,
    PagerDutyPager,
    PagersConfig,
    PagerUnavailable,
    WebhookPager,
    dedup_key_for,
    missing_secrets,
    parse_pager,
    parse_pagers,
    send,
    sign_webhook,
    verify_webhook_signature,
)
from tests.fakes.pager_servers import FakeOpsgenie, FakePagerDuty, FakeWebhookReceiver

PD_KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, like an integration key
OG_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"  # Opsgenie API keys are UUIDs
HOOK_SECRET = "whsec-test-5f0c1a"
ENV = {"PD_KEY": PD_KEY, "OG_KEY": OG_KEY, "HOOK_SECRET": HOOK_SECRET}
KEY = dedup_key_for(12, 34)


def page(action: str = "trigger", **changes: Any) -> PageEvent:
    fields: dict[str, Any] = {
        "action": action,
        "dedup_key": KEY,
        "incident_number": 12,
        "title": "Fraud model drift above threshold",
        "severity": "sev1",
        "role": "ml-engineer",
        "user": "UML1",
        "summary": "PSI 0.41 on feature amount (threshold 0.2) since 09:12 UTC.",
        "channel_url": "https://example.slack.com/archives/C0INC12",
        "details": {"model": "fraud-v7"},
    }
    return PageEvent(**(fields | changes))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def og() -> Iterator[FakeOpsgenie]:
    with FakeOpsgenie(api_keys=[OG_KEY]) as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(HOOK_SECRET) as fake:
        yield fake


def pd_pager(fake: FakePagerDuty) -> PagerDutyPager:
    return PagerDutyPager(type="pagerduty", routing_key_env="PD_KEY", url=fake.enqueue_url)


def og_pager(fake: FakeOpsgenie, **changes: Any) -> OpsgeniePager:
    settings = {
        "type": "opsgenie",
        "api_key_env": "OG_KEY",
        "url": fake.url,
        "responders": [
            {"name": "ML Platform", "type": "team"},
            {"username": "a@x.io", "type": "user"},
        ],
    }
    return OpsgeniePager.model_validate(settings | changes)


def hook_pager(fake: FakeWebhookReceiver) -> WebhookPager:
    return WebhookPager(
        type="webhook", url=fake.hook_url, secret_env="HOOK_SECRET", headers={"X-Team": "ml"}
    )


# --- PagerDuty ---------------------------------------------------------------------------


async def test_pagerduty_trigger_acknowledge_resolve(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    pager = pd_pager(pd)
    said = await send(pager, page("trigger"), client=client, env=ENV)
    assert said == f"PagerDuty accepted trigger for {KEY} (Event processed)"
    alert = pd.alert(KEY)
    assert alert is not None and alert.status == "triggered"
    assert alert.payload["severity"] == "critical"
    assert alert.payload["summary"] == "SEV1 #12 Fraud model drift above threshold (ml-engineer)"
    assert alert.payload["source"] == "warroom"
    assert alert.payload["custom_details"]["model"] == "fraud-v7"
    assert alert.payload["custom_details"]["user"] == "UML1"
    assert alert.links == [{"href": page().channel_url, "text": "Incident channel"}]

    await send(pager, page("acknowledge"), client=client, env=ENV)
    assert alert.status == "acknowledged"
    await send(pager, page("resolve"), client=client, env=ENV)
    assert alert.status == "resolved"

    trigger, ack, resolve = pd.received()
    assert trigger.headers["content-type"] == "application/json"
    # Follow-ups carry exactly what PagerDuty's docs show, nothing more.
    assert ack.json == {"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": KEY}
    assert resolve.json == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": KEY}
    assert [r.status for r in pd.received()] == [202, 202, 202]


async def test_pagerduty_same_trigger_twice_is_one_alert(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    pager = pd_pager(pd)
    await send(pager, page(), client=client, env=ENV)
    await send(pager, page(), client=client, env=ENV)  # a retry after a lost answer
    assert len(pd.alerts) == 1
    assert pd.alerts[0].triggers == 2
    # Acknowledged alerts stay one alert too.
    await send(pager, page("acknowledge"), client=client, env=ENV)
    await send(pager, page(), client=client, env=ENV)
    assert len(pd.alerts) == 1 and pd.alerts[0].status == "acknowledged"


async def test_pagerduty_key_is_reused_only_while_open(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    """Why dedup keys are per page: after a resolve, PagerDuty opens a new alert."""
    pager = pd_pager(pd)
    await send(pager, page(), client=client, env=ENV)
    await send(pager, page("resolve"), client=client, env=ENV)
    await send(pager, page(), client=client, env=ENV)
    assert [a.status for a in pd.alerts] == ["resolved", "triggered"]


async def test_pagerduty_follow_up_without_alert_is_dropped(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    said = await send(pd_pager(pd), page("acknowledge"), client=client, env=ENV)
    assert "accepted acknowledge" in said
    assert pd.alerts == [] and len(pd.dropped) == 1


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("sev1", "critical"), ("sev2", "error"), ("sev3", "warning"), ("sev4", "info")],
)
async def test_pagerduty_severity_mapping(
    pd: FakePagerDuty, client: httpx.AsyncClient, severity: str, expected: str
) -> None:
    await send(pd_pager(pd), page(severity=severity), client=client, env=ENV)
    assert pd.received()[0].json["payload"]["severity"] == expected


async def test_pagerduty_long_title_fits_the_summary_limit(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    await send(pd_pager(pd), page(title="x" * 5000), client=client, env=ENV)
    summary = pd.received()[0].json["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")


async def test_pagerduty_400_is_permanent_with_its_errors(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    short = PD_KEY[:31]
    with pytest.raises(PermanentError) as caught:
        await send(pd_pager(pd), page(), client=client, env={"PD_KEY": short})
    message = str(caught.value)
    assert "PagerDuty rejected the trigger" in message
    assert "Length of 'routing_key' is incorrect (should be 32 characters)" in message
    assert short not in message
    assert pd.received()[0].status == 400


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_pagerduty_throttling_and_outages_are_retryable(
    pd: FakePagerDuty, client: httpx.AsyncClient, status: int
) -> None:
    pd.fail_next(status)
    with pytest.raises(PagerUnavailable) as caught:
        await send(pd_pager(pd), page(), client=client, env=ENV)
    assert caught.value.status == status
    assert not isinstance(caught.value, PermanentError)
    assert pd.alerts == []
    # The dispatcher's retry goes through and pages once.
    await send(pd_pager(pd), page(), client=client, env=ENV)
    assert len(pd.alerts) == 1


async def test_pagerduty_injected_400_is_permanent(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    pd.fail_next(400)
    with pytest.raises(PermanentError, match="injected: Event object is invalid"):
        await send(pd_pager(pd), page(), client=client, env=ENV)


async def test_pagerduty_fake_rejects_documented_violations(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    """The fake itself enforces the contract, so the tests above mean something."""
    bad = {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": "k" * 256,
        "payload": {"summary": "s" * 1025, "severity": "high"},
    }
    response = await client.post(pd.enqueue_url, json=bad)
    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "invalid event"
    assert set(answer["errors"]) == {
        "Length of 'dedup_key' is incorrect (should be at most 255 characters)",
        "Length of 'payload.summary' is incorrect (should be at most 1024)",
        "'payload.source' is missing or blank",
        "'payload.severity' is invalid (must be one of critical, error, warning, info)",
    }
    ack = {"routing_key": PD_KEY, "event_action": "snooze", "dedup_key": ""}
    answer = (await client.post(pd.enqueue_url, json=ack)).json()
    assert (
        "'event_action' is invalid (must be one of trigger, acknowledge, resolve)"
        in (answer["errors"])
    )


# --- Opsgenie ----------------------------------------------------------------------------


async def test_opsgenie_create_acknowledge_close(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    pager = og_pager(og)
    said = await send(pager, page("trigger", severity="sev2"), client=client, env=ENV)
    assert said.startswith(f"Opsgenie accepted create of alert {KEY} (request ")
    alert = og.alert(KEY)
    assert alert is not None and alert.status == "open" and not alert.acknowledged
    assert alert.priority == "P2"
    assert alert.message == "#12 Fraud model drift above threshold"
    sent = alert.request
    assert sent["responders"] == pager.responders
    assert sent["details"]["model"] == "fraud-v7" and sent["details"]["incident"] == "12"
    assert sent["source"] == "warroom"
    assert "Incident channel: https://example.slack.com/archives/C0INC12" in sent["description"]

    await send(pager, page("acknowledge"), client=client, env=ENV)
    assert alert.acknowledged and alert.status == "open"
    await send(pager, page("resolve"), client=client, env=ENV)
    assert alert.status == "closed"
    assert alert.notes == ["Acknowledged in Warroom by UML1", "Resolved in Warroom by UML1"]

    create, ack, close = og.received()
    assert create.path == "/v2/alerts"
    assert ack.path == f"/v2/alerts/{KEY}/acknowledge"
    assert close.path == f"/v2/alerts/{KEY}/close"
    assert ack.query == close.query == {"identifierType": "alias"}
    for request in (create, ack, close):
        assert request.headers["authorization"] == f"GenieKey {OG_KEY}"
        assert request.status == 202
    assert all(r.success for r in og.requests.values())


async def test_opsgenie_same_create_twice_is_one_alert(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    pager = og_pager(og)
    await send(pager, page(), client=client, env=ENV)
    await send(pager, page(), client=client, env=ENV)
    assert len(og.alerts) == 1 and og.alerts[0].count == 2
    await send(pager, page("resolve"), client=client, env=ENV)
    await send(pager, page(), client=client, env=ENV)  # a closed alias opens a new alert
    assert [a.status for a in og.alerts] == ["closed", "open"]


async def test_opsgenie_alias_is_escaped_in_the_path(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    odd = "warroom/inc 12?page=34#x"
    pager = og_pager(og)
    await send(pager, page(dedup_key=odd), client=client, env=ENV)
    await send(pager, page("acknowledge", dedup_key=odd), client=client, env=ENV)
    alert = og.alert(odd)
    assert alert is not None and alert.acknowledged
    assert og.received()[1].raw_path == "/v2/alerts/warroom%2Finc%2012%3Fpage%3D34%23x/acknowledge"


async def test_opsgenie_priority_map_and_limits(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    pager = og_pager(og, priority_map={"sev3": "P1"})
    await send(pager, page(severity="sev3", title="t" * 400), client=client, env=ENV)
    await send(pager, page(severity="sev4", dedup_key="other"), client=client, env=ENV)
    first, second = og.alerts
    assert first.priority == "P1" and second.priority == "P4"  # unmapped: the default
    assert len(first.message) == 130


async def test_opsgenie_unknown_alias_is_accepted_and_fails_asynchronously(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    said = await send(og_pager(og), page("acknowledge"), client=client, env=ENV)
    assert "accepted acknowledge" in said
    request_id = og.received()[0].response["requestId"]
    status = (
        await client.get(
            f"{og.url}/v2/alerts/requests/{request_id}",
            headers={"Authorization": f"GenieKey {OG_KEY}"},
        )
    ).json()["data"]
    assert status["success"] is False and status["status"] == "Alert does not exist"


async def test_opsgenie_404_on_close_means_nothing_to_close(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    og.fail_next(404, body={"message": "Alert does not exist", "took": 0.0, "requestId": "r"})
    said = await send(og_pager(og), page("resolve"), client=client, env=ENV)
    assert said == f"Opsgenie has no alert {KEY} to close: Alert does not exist"


@pytest.mark.parametrize(
    ("key", "status", "reason"),
    [
        ("0a1b2c3d-0000-4000-8000-000000000000", 401, "Could not authenticate"),
        ("not-a-genie-key", 422, "Key format is not valid!"),
    ],
)
async def test_opsgenie_bad_key_is_permanent_and_not_shown(
    og: FakeOpsgenie, client: httpx.AsyncClient, key: str, status: int, reason: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        await send(og_pager(og), page(), client=client, env={"OG_KEY": key})
    assert f"HTTP {status}: {reason}" in str(caught.value)
    assert key not in str(caught.value)
    assert og.alerts == []


@pytest.mark.parametrize(("status", "retryable"), [(403, False), (429, True), (500, True)])
async def test_opsgenie_error_mapping(
    og: FakeOpsgenie, client: httpx.AsyncClient, status: int, retryable: bool
) -> None:
    og.fail_next(status)
    expected = PagerUnavailable if retryable else PermanentError
    with pytest.raises(expected):
        await send(og_pager(og), page(), client=client, env=ENV)


async def test_opsgenie_fake_rejects_documented_violations(
    og: FakeOpsgenie, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"GenieKey {OG_KEY}"}
    cases = [
        ({"message": "m" * 131}, "message can not be longer than 130 characters"),
        ({"message": "m", "alias": "a" * 513}, "alias can not be longer than 512 characters"),
        ({"message": "m", "priority": "P0"}, "Priority should be one of [P1, P2, P3, P4, P5]"),
        ({"message": "m", "responders": [{"type": "team"}]}, "responders: a team needs one of"),
        ({"message": "m", "details": {"n": 1}}, "details must be a map of strings"),
    ]
    for body, reason in cases:
        response = await client.post(f"{og.url}/v2/alerts", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["message"].startswith(reason)
    response = await client.post(f"{og.url}/v2/alerts", json={"message": "m"})
    assert response.status_code == 401


def test_opsgenie_region_base_urls() -> None:
    us = OpsgeniePager(type="opsgenie", api_key_env="OG_KEY")
    eu = OpsgeniePager(type="opsgenie", api_key_env="OG_KEY", region="eu")
    assert us.base_url == "https://api.opsgenie.com"
    assert eu.base_url == "https://api.eu.opsgenie.com"
    assert us.priority_map == {"sev1": "P1", "sev2": "P2", "sev3": "P3", "sev4": "P4"}


# --- signed webhook ----------------------------------------------------------------------


async def test_webhook_trigger_acknowledge_resolve(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    pager = hook_pager(hook)
    for action in ("trigger", "acknowledge", "resolve"):
        said = await send(pager, page(action), client=client, env=ENV)
        assert said == f"webhook at {hook.url.removeprefix('http://')} answered HTTP 200 to " + (
            f"{action} of {KEY}"
        )
    assert hook.actions(KEY) == ["trigger", "acknowledge", "resolve"]
    first = hook.deliveries[0]
    assert first.idempotency_key == f"{KEY}:trigger"
    assert first.headers["x-team"] == "ml"
    assert first.headers["content-type"] == "application/json"
    assert first.event["details"] == {"model": "fraud-v7"}
    assert first.event["sent_at"].endswith("+00:00")
    assert abs(first.timestamp - time.time()) < 60


async def test_webhook_retry_is_deduplicated_by_the_receiver(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    pager = hook_pager(hook)
    await send(pager, page(), client=client, env=ENV)
    said = await send(pager, page(), client=client, env=ENV)
    assert "HTTP 200" in said
    assert len(hook.deliveries) == 1
    assert hook.duplicates == [f"{KEY}:trigger"]


async def test_webhook_wrong_secret_is_rejected_permanently(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentError, match="HTTP 401") as caught:
        await send(hook_pager(hook), page(), client=client, env={"HOOK_SECRET": "wrong-secret"})
    assert "wrong-secret" not in str(caught.value)
    assert hook.deliveries == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (404, False), (410, False), (408, True), (429, True), (500, True), (503, True)],
)
async def test_webhook_error_mapping(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient, status: int, retryable: bool
) -> None:
    hook.fail_next(status)
    expected = PagerUnavailable if retryable else PermanentError
    with pytest.raises(expected, match=f"HTTP {status}"):
        await send(hook_pager(hook), page(), client=client, env=ENV)


async def test_webhook_redirect_is_not_followed(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    hook.fail_next(307, body={"location": "elsewhere"})
    with pytest.raises(PermanentError, match="redirect"):
        await send(hook_pager(hook), page(), client=client, env=ENV)
    assert len(hook.received()) == 1


def test_signature_verification() -> None:
    body = json.dumps({"action": "trigger"}).encode()
    now = 1_760_000_000
    ts = str(now)
    signature = sign_webhook(HOOK_SECRET, ts, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_webhook_signature(HOOK_SECRET, ts, body, signature, now=now)
    assert verify_webhook_signature(HOOK_SECRET, ts, body.decode(), signature, now=now + 300)
    # Stale or from the future: a replay, or a clock too far off.
    assert not verify_webhook_signature(HOOK_SECRET, ts, body, signature, now=now + 301)
    assert not verify_webhook_signature(HOOK_SECRET, ts, body, signature, now=now - 301)
    assert verify_webhook_signature(
        HOOK_SECRET, ts, body, signature, now=now + 1000, tolerance=1000
    )
    # Tampered body, timestamp moved, wrong secret, malformed headers.
    assert not verify_webhook_signature(HOOK_SECRET, ts, body + b" ", signature, now=now)
    assert not verify_webhook_signature(HOOK_SECRET, str(now + 1), body, signature, now=now)
    assert not verify_webhook_signature("other", ts, body, signature, now=now)
    assert not verify_webhook_signature(HOOK_SECRET, ts, body, signature[7:], now=now)
    assert not verify_webhook_signature(HOOK_SECRET, ts, body, "sha256=zz", now=now)
    assert not verify_webhook_signature(HOOK_SECRET, "yesterday", body, signature, now=now)


async def test_webhook_receiver_rejects_stale_and_tampered_requests(
    hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    body = json.dumps({"action": "trigger"}).encode()
    stale = str(int(time.time()) - 3600)
    headers = {
        "Content-Type": "application/json",
        "X-Warroom-Timestamp": stale,
        "X-Warroom-Signature": sign_webhook(HOOK_SECRET, stale, body),
        "Idempotency-Key": "k:trigger",
    }
    response = await client.post(hook.hook_url, content=body, headers=headers)
    assert response.status_code == 401
    fresh = str(int(time.time()))
    headers |= {
        "X-Warroom-Timestamp": fresh,
        "X-Warroom-Signature": sign_webhook(HOOK_SECRET, fresh, body),
    }
    response = await client.post(hook.hook_url, content=body + b"\n", headers=headers)
    assert response.status_code == 401
    assert hook.deliveries == []


# --- transport, secrets, configuration ---------------------------------------------------


@pytest.mark.parametrize("kind", ["pagerduty", "opsgenie", "webhook"])
async def test_missing_secret_is_permanent_and_names_the_variable(
    kind: str,
    pd: FakePagerDuty,
    og: FakeOpsgenie,
    hook: FakeWebhookReceiver,
    client: httpx.AsyncClient,
) -> None:
    pager = {"pagerduty": pd_pager(pd), "opsgenie": og_pager(og), "webhook": hook_pager(hook)}
    variable = {"pagerduty": "PD_KEY", "opsgenie": "OG_KEY", "webhook": "HOOK_SECRET"}[kind]
    with pytest.raises(PermanentError, match=f"environment variable {variable} is not set"):
        await send(pager[kind], page(), client=client, env={})
    with pytest.raises(PermanentError, match=f"environment variable {variable} is empty"):
        await send(pager[kind], page(), client=client, env={variable: "  \n"})
    assert pd.received() == og.received() == hook.received() == []


async def test_secrets_never_appear_in_errors_or_answers(
    pd: FakePagerDuty, og: FakeOpsgenie, hook: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    """Even a provider that echoes the key back does not get it into our messages."""
    seen: list[str] = []
    cases = [
        (pd, pd_pager(pd), PD_KEY, {"status": "invalid event", "errors": [f"bad key {PD_KEY}"]}),
        (og, og_pager(og), OG_KEY, {"message": f"key {OG_KEY} is disabled"}),
        (hook, hook_pager(hook), HOOK_SECRET, {"error": f"secret {HOOK_SECRET} revoked"}),
    ]
    for fake, pager, secret, echo in cases:
        for status in (400, 403, 500):
            fake.fail_next(status, body=echo)
            with pytest.raises((PermanentError, PagerUnavailable)) as caught:
                await send(pager, page(), client=client, env=ENV)
            seen += [str(caught.value), repr(caught.value)]
        seen.append(await send(pager, page(), client=client, env=ENV))
        seen.append(await send(pager, page("resolve"), client=client, env=ENV))
        assert not any(secret in text for text in seen), seen
    assert any("***" in text for text in seen)


async def test_unreachable_provider_is_retryable(client: httpx.AsyncClient) -> None:
    with FakePagerDuty() as gone:
        url = gone.enqueue_url
    pager = PagerDutyPager(type="pagerduty", routing_key_env="PD_KEY", url=url)
    with pytest.raises(PagerUnavailable, match=r"cannot reach PagerDuty at 127\.0\.0\.1"):
        await send(pager, page(), client=client, env=ENV)


async def test_slow_provider_times_out_as_retryable(
    pd: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    pd.stall_next(5)
    started = time.monotonic()
    with pytest.raises(PagerUnavailable, match=r"did not answer within 0\.3s"):
        await send(pd_pager(pd), page(), client=client, env=ENV, deadline=0.3)
    assert time.monotonic() - started < 2


def test_parse_pagers_keeps_good_pagers_and_reports_bad_ones() -> None:
    data = {
        "pd-ml": {"type": "pagerduty", "routing_key_env": "PD_ML_KEY"},
        "og-platform": {
            "type": "opsgenie",
            "api_key_env": "OG_KEY",
            "region": "eu",
            "responders": [{"name": "Platform", "type": "team"}],
            "priority_map": {"sev2": "P1"},
        },
        "sms": {"type": "webhook", "url": "https://sms.example.com/page", "secret_env": "SMS"},
        "typo": {"type": "pagerduty", "routing_key_env": "K", "routing_key": "abc"},
        "pasted": {"type": "pagerduty", "routing_key_env": PD_KEY + "!"},
        "kind": {"type": "pagerdutty", "routing_key_env": "K"},
        "who": {"type": "opsgenie", "api_key_env": "K", "responders": [{"type": "squad"}]},
        "prio": {"type": "opsgenie", "api_key_env": "K", "priority_map": {"sev1": "P9"}},
        "hdr": {
            "type": "webhook",
            "url": "https://h",
            "secret_env": "S",
            "headers": {"Authorization": "x"},
        },
        "url": {"type": "webhook", "url": "ftp://h", "secret_env": "S"},
        "bad name!": {"type": "pagerduty", "routing_key_env": "K"},
        "scalar": "pagerduty",
    }
    pagers, problems = parse_pagers(data)
    assert set(pagers) == {"pd-ml", "og-platform", "sms"}
    assert isinstance(pagers["og-platform"], OpsgeniePager)
    assert pagers["og-platform"].base_url == "https://api.eu.opsgenie.com"
    text = "\n".join(problems)
    assert (
        "pagers.typo.routing_key: unknown field 'routing_key'; a pagerduty pager has "
        "type, routing_key_env, url"
    ) in text
    assert "pagers.pasted.routing_key_env: expected the NAME of the environment variable" in text
    assert PD_KEY not in text  # a key pasted in place of its variable's name is not echoed
    assert "pagers.kind: a pager needs 'type: pagerduty', 'type: opsgenie'" in text
    assert "pagers.who.responders: Value error" not in text
    assert "responder 0: type must be team, user, escalation or schedule" in text
    assert "pagers.prio.priority_map.sev1:" in text
    assert "header Authorization is set by Warroom" in text
    assert "pagers.url.url: expected an http(s) URL" in text
    assert "pagers.bad name!: a pager name uses letters" in text
    assert "pagers.scalar: expected the pager's settings" in text
    assert parse_pagers(None) == ({}, [])
    assert parse_pagers(["x"])[1] == ["pagers: expected a mapping of pager names to pager settings"]


def test_pagers_config_and_stored_form_round_trip() -> None:
    config = PagersConfig.model_validate(
        {"pagers": {"sms": {"type": "webhook", "url": "https://h/x", "secret_env": "S"}}}
    )
    stored = config.pagers["sms"].model_dump(mode="json")
    assert parse_pager(stored) == config.pagers["sms"]
    assert missing_secrets(config.pagers, {"S": "x"}) == []
    assert missing_secrets(config.pagers, {}) == ["pager 'sms': environment variable S is not set"]


def test_page_event_rejects_what_would_never_deliver() -> None:
    with pytest.raises(ValueError, match="severity"):
        page(severity="critical")
    with pytest.raises(ValueError, match="action"):
        page(action="snooze")
    with pytest.raises(ValueError, match="dedup_key"):
        page(dedup_key="k" * 256)
    with pytest.raises(ValueError, match="dedup_key"):
        page(dedup_key="")
    assert dedup_key_for(12, 34) == "warroom-inc12-page34"
