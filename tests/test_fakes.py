"""The fakes behave like the things they stand for, as seen by the real client libraries."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import AlertStatus
from handlers.parsers.alertmanager import parse
from tests.fakes import alertmanager as am_fake
from tests.fakes.alertmanager import run_alertmanager
from tests.fakes.signing import block_action_body, signed_headers, slash_command_body
from tests.fakes.slack_api import Call, FakeSlackApi

SECRET = "test-signing-secret"


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlackApi) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url)


# -- fake Slack Web API -------------------------------------------------------------------


async def test_post_message_is_recorded_and_answered(
    slack: FakeSlackApi, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    first = await client.chat_postMessage(channel="C1", text="hello", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="again")

    assert slack.url.endswith("/")
    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["text"] == "hello" and first["message"]["blocks"] == blocks
    assert float(first["ts"]) < float(second["ts"])
    call = slack.calls("chat.postMessage")[0]
    assert call.params["blocks"] == blocks
    assert call.authorization == "Bearer xoxb-test"
    assert [m["text"] for m in slack.messages()] == ["hello", "again"]


async def test_form_and_query_encoded_methods(slack: FakeSlackApi, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    created = await client.conversations_create(name="inc-42-model-drift")
    dm = await client.conversations_open(users="U7")
    user = await client.users_info(user="U7")  # a GET with a query string
    await client.chat_update(channel="C1", ts="1.2", text="edited")

    assert auth["bot_id"] == "BZYBOTHED" and auth["user_id"] == "W23456789"
    assert created["channel"]["name"] == "inc-42-model-drift"
    assert created["channel"]["id"].startswith("C")
    assert dm["channel"]["id"] == "DU7"
    assert user["user"]["real_name"] == "User U7"
    assert slack.calls("users.info")[0].http_method == "GET"
    assert slack.messages()[-1] == {"channel": "C1", "ts": "1.2", "text": "edited"}


async def test_conversations_create_enforces_slack_rules(client: AsyncWebClient) -> None:
    await client.conversations_create(name="inc-1")
    for name, error in [
        ("inc-1", "name_taken"),
        ("Inc-2", "invalid_name_specials"),
        ("inc 2", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
    ]:
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_create(name=name)
        assert caught.value.response["error"] == error


async def test_rate_limit_is_retried_after_retry_after(slack: FakeSlackApi) -> None:
    retrying = AsyncWebClient(
        token="xoxb-test",
        base_url=slack.url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    response = await retrying.chat_postMessage(channel="C1", text="hi")

    assert response["ok"]
    assert time.monotonic() - started >= 1.0
    calls = slack.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert len(slack.messages()) == 1


async def test_faults_without_retry(slack: FakeSlackApi, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=30)
    slack.fail_next("pins.add", status=500, times=2)
    slack.fail_next("reactions.add", error="channel_not_found")

    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "30"
    for _ in range(2):
        with pytest.raises(SlackApiError) as broken:
            await client.pins_add(channel="C1", timestamp="1.1")
        assert broken.value.response.status_code == 500
    with pytest.raises(SlackApiError) as missing:
        await client.reactions_add(channel="C9", timestamp="1.1", name="eyes")
    assert missing.value.response["error"] == "channel_not_found"

    assert (await client.pins_add(channel="C1", timestamp="1.1"))["ok"]  # faults used up


async def test_bad_tokens(slack: FakeSlackApi) -> None:
    for token, error in [("xoxp-user", "invalid_auth"), ("nonsense", "invalid_auth")]:
        with pytest.raises(SlackApiError) as caught:
            await AsyncWebClient(token=token, base_url=slack.url).auth_test()
        assert caught.value.response["error"] == error
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=slack.url).auth_test()
    assert caught.value.response["error"] == "not_authed"  # Slack's word for "no token"


async def test_file_upload_v2_flow(slack: FakeSlackApi, client: AsyncWebClient) -> None:
    response = await client.files_upload_v2(
        channel="C1", content="# Postmortem\n", filename="postmortem.md", title="Postmortem"
    )

    assert response["ok"]
    assert list(slack.uploads.values()) == [b"# Postmortem\n"]
    complete = slack.calls("files.completeUploadExternal")[0]
    assert complete.params["files"][0]["title"] == "Postmortem"
    assert complete.params["channel_id"] == "C1"


async def test_wait_for_polls_until_condition(slack: FakeSlackApi, client: AsyncWebClient) -> None:
    def posted(calls: list[Call]) -> list[Call]:
        return [c for c in calls if c.method == "chat.postMessage"]

    async def later() -> None:
        await asyncio.sleep(0.1)
        await client.chat_postMessage(channel="C1", text="late")

    task = asyncio.create_task(later())
    found = await slack.wait_for(posted, timeout=5.0)
    await task

    assert found[0].params["text"] == "late"
    with pytest.raises(AssertionError, match=r"chat\.postMessage"):
        await slack.wait_for(lambda calls: len(calls) > 5, timeout=0.1)
    slack.clear()
    assert slack.calls() == []


# -- request signing, checked by slack_sdk and by bolt itself -----------------------------


def test_signed_headers_verify() -> None:
    body = slash_command_body("declare GPU OOM on trainer")
    headers = signed_headers(SECRET, body)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


def test_bodies_carry_slack_fields() -> None:
    command = dict(parse_qsl(slash_command_body("ack 3", user_id="U9").decode()))
    expected = {"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id"}
    expected |= {"user_name", "command", "text", "api_app_id", "response_url", "trigger_id"}
    assert set(command) == expected
    assert (command["text"], command["user_id"], command["command"]) == ("ack 3", "U9", "/incident")

    form = dict(parse_qsl(block_action_body("acknowledge", "inc-3", message_ts="5.5").decode()))
    payload = json.loads(form["payload"])
    assert payload["type"] == "block_actions"
    assert payload["container"]["message_ts"] == "5.5"
    action = payload["actions"][0]
    assert {k: action[k] for k in ("action_id", "value", "type")} == {
        "action_id": "acknowledge",
        "value": "inc-3",
        "type": "button",
    }


async def test_bolt_accepts_signed_requests(
    slack: FakeSlackApi, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(var, raising=False)  # these switch bolt into OAuth mode
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=True)
    seen: list[str] = []

    @app.command("/incident")
    async def on_command(ack: Callable[..., Any], command: dict[str, Any]) -> None:
        await ack()
        seen.append(command["text"])

    @app.action("acknowledge")
    async def on_click(ack: Callable[..., Any], body: dict[str, Any]) -> None:
        await ack()
        seen.append(body["actions"][0]["value"])

    for raw in (slash_command_body("list"), block_action_body("acknowledge", "inc-7")):
        request = AsyncBoltRequest(body=raw.decode(), headers=signed_headers(SECRET, raw))
        assert (await app.async_dispatch(request)).status == 200
    forged = slash_command_body("list")
    bad = AsyncBoltRequest(body=forged.decode(), headers=signed_headers("wrong", forged))
    assert (await app.async_dispatch(bad)).status == 401

    assert seen == ["list", "inc-7"]
    assert len(slack.calls("auth.test")) == 1  # bolt authorises once against the fake


# -- real Alertmanager --------------------------------------------------------------------


class _Receiver:
    """A webhook endpoint in the test: records each POST's headers and JSON body."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.deliveries.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts/alertmanager"
        serve = self.server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def snapshot(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        with self._lock:
            return list(self.deliveries)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    instance = _Receiver()
    yield instance
    instance.close()


async def _until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll a condition with a bound; Alertmanager's timers make delivery asynchronous."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)
    return result


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_real_alertmanager_delivers_parseable_webhooks(
    receiver: _Receiver, tmp_path: Path
) -> None:
    labels = {"alertname": "ModelDriftHigh", "model": "recsys-v3", "severity": "critical"}
    annotations = {"summary": "PSI 0.41", "runbook_url": "https://runbooks.example/drift"}
    started = datetime.now(UTC) - timedelta(minutes=1)

    async with run_alertmanager(receiver.url, "s3cret-token", tmp_path) as am:
        await am.post_alerts(
            [{"labels": labels, "annotations": annotations, "startsAt": _rfc3339(started)}]
        )
        await _until(receiver.snapshot, 15.0, "the firing notification")
        headers, payload = receiver.snapshot()[0]

        assert headers["Authorization"] == "Bearer s3cret-token"
        assert headers["User-Agent"].startswith("Alertmanager/")
        assert payload["version"] == "4"
        (alert,) = parse(payload)
        assert alert.status is AlertStatus.FIRING
        assert alert.labels == labels
        assert alert.links["runbook"] == annotations["runbook_url"]
        assert alert.raw["groupKey"] == payload["groupKey"]
        assert abs(alert.starts_at - started) < timedelta(milliseconds=1)

        ended = datetime.now(UTC)
        await am.post_alerts(
            [{"labels": labels, "startsAt": _rfc3339(started), "endsAt": _rfc3339(ended)}]
        )

        def resolved() -> list[Any]:
            alerts = [a for _, body in receiver.snapshot() for a in parse(body)]
            return [a for a in alerts if a.status is AlertStatus.RESOLVED]

        done = (await _until(resolved, 15.0, "the resolved notification"))[0]
        assert done.fingerprint == alert.fingerprint
        assert done.ends_at is not None


def test_missing_alertmanager_binary_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(am_fake, "DEFAULT_BINARY_PATH", "/nonexistent/prometheus-alertmanager")

    with pytest.raises(RuntimeError, match="apt-get install prometheus-alertmanager"):
        am_fake.alertmanager_binary()
