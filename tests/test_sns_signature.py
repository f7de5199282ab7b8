"""SNS message signatures, checked end to end: the bot fetches the certificate over HTTP
from a real server standing in for sns.us-east-1.amazonaws.com, and the messages are
signed as SNS signs them (``tests.fakes.sns``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as fuzzing
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.models import Alert, Effect
from bot.settings import Settings
from handlers.sns_signature import SnsSignatures
from tests.conftest import FakeClock, load_sample
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.sns import CERT_PATH, FakeSnsHost, SigningKey, self_signed, to_fake_host
from tests.harness import Harness

NOTIFICATION = "cloudwatch_sns.json"
CONFIRMATION = "cloudwatch_sns_subscription_confirmation.json"
SIGNED_FIELDS = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type", "Signature"}


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.new()  # RSA key generation is slow enough to do once


@pytest.fixture
def sns_host(signing_key: SigningKey) -> Iterator[FakeSnsHost]:
    with FakeSnsHost(certificates={CERT_PATH: signing_key.certificate_pem}) as host:
        yield host


@pytest.fixture
async def verifying(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, sns_host: FakeSnsHost
) -> AsyncIterator[Harness]:
    """The bot with ``WARROOM_SNS_VERIFY_SIGNATURES`` on, reaching SNS's host at the fake."""
    changed = settings.model_copy(update={"sns_verify_signatures": True})
    async with Harness.running(changed, fake_slack, clock) as bot:
        client = to_fake_host(sns_host)
        bot.app.state.sns_signatures = SnsSignatures(client)
        try:
            yield bot
        finally:
            await client.aclose()


async def post(bot: Harness, message: dict[str, Any]) -> httpx.Response:
    return await bot.client.post(
        f"/alerts/cloudwatch?token={bot.settings.webhook_token}",
        content=json.dumps(message),
        headers={"Content-Type": "text/plain; charset=UTF-8"},
    )


async def stored(bot: Harness) -> int:
    async with bot.rt.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Alert)) or 0)


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_signed_alarm_is_accepted_and_the_certificate_fetched_once(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey, version: str
) -> None:
    alarm = signing_key.sign(load_sample(NOTIFICATION), version=version)
    first = await post(verifying, alarm)
    assert first.status_code == 200, first.text
    assert first.json()["incidents_opened"] == [1]
    again = await post(verifying, signing_key.sign({**alarm, "MessageId": "m2"}, version=version))
    assert again.status_code == 200, again.text
    assert sns_host.fetched == [CERT_PATH], "the certificate is kept by URL"


async def test_a_signed_subscription_confirmation_is_confirmed(
    verifying: Harness, signing_key: SigningKey
) -> None:
    verifying.rt.after_commit = lambda: None  # keep the effect in the table to count it
    response = await post(verifying, signing_key.sign(load_sample(CONFIRMATION), version="2"))
    assert response.json() == {"subscription": "confirming"}
    async with verifying.rt.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Effect)) == 1


def _tampered(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "Message": message["Message"].replace("ALARM", "OK")}


def _resigned_by_another_key(message: dict[str, Any]) -> dict[str, Any]:
    forged = SigningKey.new().sign(message)
    return {**message, "Signature": forged["Signature"]}


@pytest.mark.parametrize(
    "change, problem",
    [
        (_tampered, "Signature does not match the message"),
        (_resigned_by_another_key, "Signature does not match the message"),
        (lambda m: {**m, "Subject": "changed"}, "Signature does not match the message"),
        (lambda m: {**m, "SignatureVersion": "3"}, "SignatureVersion '3' is not 1 or 2"),
        (lambda m: {k: v for k, v in m.items() if k != "Signature"}, "Signature: Field required"),
        (lambda m: {**m, "Signature": "not base64!"}, "Signature is not base64"),
        (
            lambda m: {**m, "SigningCertURL": "https://evil.example/cert.pem"},
            "SigningCertURL: host is not sns.<region>.amazonaws.com",
        ),
        (
            lambda m: {**m, "SigningCertURL": "https://sns.us-east-1.amazonaws.com/?x=cert.pem"},
            "SigningCertURL: not a .pem file",
        ),
        (
            lambda m: {**m, "SigningCertURL": "https://sns.us-east-1.amazonaws.com/other.pem"},
            "SigningCertURL answered HTTP 404",
        ),
    ],
)
async def test_a_message_not_provably_from_sns_is_refused(
    verifying: Harness, signing_key: SigningKey, change: Any, problem: str
) -> None:
    response = await post(verifying, change(signing_key.sign(load_sample(NOTIFICATION))))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == f"SNS signature: {problem}"
    assert await stored(verifying) == 0


async def test_an_expired_certificate_is_refused(verifying: Harness, sns_host: FakeSnsHost) -> None:
    expired = SigningKey.new(valid_for=-timedelta(hours=1))
    sns_host.certificates[CERT_PATH] = expired.certificate_pem
    response = await post(verifying, expired.sign(load_sample(NOTIFICATION)))
    assert response.status_code == 401
    assert "not valid now" in response.json()["error"]


async def test_raw_message_delivery_cannot_be_verified(verifying: Harness) -> None:
    raw = {"AlarmName": "a", "AlarmArn": "arn", "NewStateValue": "ALARM"}
    response = await post(verifying, raw)
    assert response.status_code == 401
    assert "raw message delivery" in response.json()["error"]


async def test_an_unreachable_certificate_host_asks_sns_to_retry(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey
) -> None:
    """A 5xx makes SNS deliver again later; the failure is not kept."""
    alarm = signing_key.sign(load_sample(NOTIFICATION))
    sns_host.answer = 503
    refused = await post(verifying, alarm)
    assert refused.status_code == 503
    assert "cannot be checked now" in refused.json()["error"]
    assert await stored(verifying) == 0
    sns_host.answer = None
    assert (await post(verifying, alarm)).status_code == 200
    assert await stored(verifying) == 1


async def test_unsigned_samples_pass_when_checking_is_off(bot: Harness) -> None:
    """The default: the token authenticates SNS, and no certificate is fetched."""
    assert not bot.settings.sns_verify_signatures
    response = await post(bot, load_sample(NOTIFICATION))  # its signature is "EXAMPLE…"
    assert response.status_code == 200
    assert await stored(bot) == 1


@fuzzing(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(sorted(SIGNED_FIELDS)), value=st.none() | st.text(max_size=20))
async def test_any_change_to_a_signed_field_is_refused_and_stores_nothing(
    verifying: Harness, signing_key: SigningKey, field: str, value: str | None
) -> None:
    """Whatever a signed field becomes (or if it goes), the answer is a 4xx and no row."""
    alarm = signing_key.sign(load_sample(NOTIFICATION))
    changed = {k: v for k, v in alarm.items() if k != field}
    if value is not None:
        changed[field] = value
    assume(changed != alarm)
    before = await stored(verifying)
    response = await post(verifying, changed)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"]
    assert await stored(verifying) == before


async def test_messages_arriving_together_share_one_certificate_fetch(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey
) -> None:
    alarm = load_sample(NOTIFICATION)
    messages = [signing_key.sign({**alarm, "MessageId": f"m{n}"}) for n in range(8)]
    responses = await asyncio.gather(*(post(verifying, m) for m in messages))
    assert [r.status_code for r in responses] == [200] * 8
    assert sns_host.fetched == [CERT_PATH]


async def test_a_certificate_url_serving_something_else_is_refused(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey
) -> None:
    sns_host.certificates[CERT_PATH] = b"<html>Not a certificate</html>"
    response = await post(verifying, signing_key.sign(load_sample(NOTIFICATION)))
    assert response.status_code == 401
    assert response.json()["error"] == "SNS signature: SigningCertURL is not a PEM certificate"


async def test_a_certificate_without_an_rsa_key_is_refused(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey
) -> None:
    sns_host.certificates[CERT_PATH] = self_signed(ec.generate_private_key(ec.SECP256R1()))
    response = await post(verifying, signing_key.sign(load_sample(NOTIFICATION)))
    assert response.status_code == 401
    assert "has no RSA key" in response.json()["error"]


async def test_a_certificate_host_that_cannot_be_reached_asks_sns_to_retry(
    verifying: Harness, sns_host: FakeSnsHost, signing_key: SigningKey
) -> None:
    sns_host.stop()  # connections to it are now refused
    response = await post(verifying, signing_key.sign(load_sample(NOTIFICATION)))
    assert response.status_code == 503
    assert "fetching SigningCertURL failed" in response.json()["error"]
    assert await stored(verifying) == 0
