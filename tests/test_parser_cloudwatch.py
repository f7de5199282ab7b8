"""CloudWatch alarms over SNS: envelopes, alarm states, and the subscription URL check."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import AlertStatus
from handlers.parsers import PARSERS, PayloadError
from handlers.parsers.cloudwatch import (
    SOURCE,
    SnsEnvelope,
    parse,
    parse_envelope,
    subscription_confirm_url,
)

SAMPLES = Path(__file__).resolve().parent / "samples"
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-api-5xx-high"
CHANGED = datetime(2026, 3, 4, 9, 12, 46, 112000, tzinfo=UTC)


def load(name: str = "cloudwatch_sns.json") -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def with_message(**changes: Any) -> dict[str, Any]:
    """The sample notification with fields of its alarm message changed (None deletes)."""
    payload = load()
    message = json.loads(payload["Message"])
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    payload["Message"] = json.dumps(message)
    return payload


def confirmation(**changes: Any) -> SnsEnvelope:
    return parse_envelope({**load("cloudwatch_sns_subscription_confirmation.json"), **changes})


def test_registry_has_cloudwatch() -> None:
    assert PARSERS["cloudwatch"] is parse
    assert SOURCE == "cloudwatch"


def test_alarm_notification() -> None:
    (alert,) = parse(load())

    assert alert.fingerprint == ARN
    assert alert.status is AlertStatus.FIRING
    assert alert.starts_at == CHANGED
    assert alert.ends_at is None
    assert alert.severity is None
    assert alert.summary == "5XX count on the checkout ALB target group is above 50 per minute"
    assert alert.labels == {
        "alertname": "checkout-api-5xx-high",
        "LoadBalancer": "app/checkout-prod/50dc6c495c0c9188",
        "TargetGroup": "targetgroup/checkout-api/73e2d6bc24d8a067",
        "namespace": "AWS/ApplicationELB",
        "metric": "HTTPCode_Target_5XX_Count",
        "account": "123456789012",
        "region": "us-east-1",
    }
    assert alert.annotations["reason"].startswith("Threshold Crossed")
    assert alert.annotations["new_state"] == "ALARM"
    assert alert.annotations["old_state"] == "OK"
    assert alert.links == {
        "alarm": "https://us-east-1.console.aws.amazon.com/cloudwatch/home"
        "?region=us-east-1#alarmsV2:alarm/checkout-api-5xx-high"
    }
    assert alert.raw["MessageId"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert alert.raw["Message"]["AlarmName"] == "checkout-api-5xx-high"
    assert "Signature" not in alert.raw
    json.dumps(alert.raw)


def test_ok_resolves_the_latest_alert_of_the_alarm() -> None:
    (alert,) = parse(with_message(NewStateValue="OK", OldStateValue="ALARM"))
    assert alert.status is AlertStatus.RESOLVED
    assert alert.fingerprint == ARN
    assert alert.starts_at is None
    assert alert.ends_at == CHANGED
    assert alert.labels == parse(load())[0].labels  # routes where the ALARM went


def test_insufficient_data_fires_as_a_warning() -> None:
    (alert,) = parse(with_message(NewStateValue="INSUFFICIENT_DATA"))
    assert alert.status is AlertStatus.FIRING
    assert alert.severity == "warning"
    assert alert.starts_at == CHANGED


def test_composite_alarm_without_trigger_or_description() -> None:
    (alert,) = parse(with_message(Trigger=None, AlarmDescription=None))
    assert alert.summary == "checkout-api-5xx-high"
    assert set(alert.labels) == {"alertname", "account", "region"}


def test_china_partition_link_and_long_arn() -> None:
    cn = "arn:aws-cn:cloudwatch:cn-north-1:1:alarm:a b"
    assert parse(with_message(AlarmArn=cn, AlarmName="a b"))[0].links == {
        "alarm": "https://cn-north-1.console.amazonaws.cn/cloudwatch/home"
        "?region=cn-north-1#alarmsV2:alarm/a%20b"
    }
    long_arn = "arn:aws:cloudwatch:us-east-1:1:alarm:" + "x" * 255
    assert len(parse(with_message(AlarmArn=long_arn))[0].fingerprint) == 64


def test_raw_message_delivery_without_envelope() -> None:
    message = json.loads(load()["Message"])
    (alert,) = parse(message)
    assert alert.fingerprint == ARN
    assert alert.raw == message


def test_confirmations_hold_no_alerts() -> None:
    assert parse(load("cloudwatch_sns_subscription_confirmation.json")) == []
    unsubscribe = {**load("cloudwatch_sns_subscription_confirmation.json")}
    unsubscribe["Type"] = "UnsubscribeConfirmation"
    assert parse(unsubscribe) == []


def test_envelope_fields() -> None:
    envelope = parse_envelope(load())
    assert envelope.type == "Notification"
    assert envelope.message_id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert envelope.signing_cert_url is not None
    assert envelope.timestamp == datetime(2026, 3, 4, 9, 12, 46, 167000, tzinfo=UTC)


def test_subscription_url_of_the_sample() -> None:
    url = subscription_confirm_url(confirmation())
    assert url is not None
    assert url.startswith("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    assert subscription_confirm_url(parse_envelope(load())) is None  # a Notification


def test_subscription_url_china_and_explicit_port() -> None:
    cn_topic = "arn:aws-cn:sns:cn-north-1:1:t"
    cn = confirmation(
        TopicArn=cn_topic, SubscribeURL="https://sns.cn-north-1.amazonaws.com.cn/?a=1"
    )
    assert subscription_confirm_url(cn) == "https://sns.cn-north-1.amazonaws.com.cn/?a=1"
    port = confirmation(SubscribeURL="https://sns.us-east-1.amazonaws.com:443/?a=1")
    assert subscription_confirm_url(port) is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (None, "Field required"),
        ("http://sns.us-east-1.amazonaws.com/?a=1", "must be https"),
        ("https://sns.us-east-1.amazonaws.com.evil.example/", "host is not sns."),
        ("https://evil.example/#sns.us-east-1.amazonaws.com", "host is not sns."),
        ("https://sns.us-east-1.amazonaws.com@evil.example/", "must be https"),
        ("https://user@sns.us-east-1.amazonaws.com/", "must be https"),
        ("https://sns.us-east-1.amazonaws.com:8443/", "must be https"),
        ("https://sns.us-east-1.amazonaws.com:99999/", "not a valid URL"),
        ("https://sns.eu-west-1.amazonaws.com/?a=1", "host region does not match"),
        ("https://sns.us-east-1.amazonaws.com\\@evil.example/", "not a plain https URL"),
        ("https://sns.us-east-1.amazonaws.com/ x", "not a plain https URL"),
        ("https://snsXus-east-1.amazonaws.com/", "host is not sns."),
        ("https://sns.us-east-1.amazonaws.com./", "host is not sns."),
        ("javascript:alert(1)", "must be https"),
    ],
)
def test_subscription_url_refused(url: str | None, problem: str) -> None:
    envelope = confirmation(SubscribeURL=url)
    with pytest.raises(PayloadError) as caught:
        subscription_confirm_url(envelope)
    assert str(caught.value).startswith(f"SubscribeURL: {problem}")


BAD_PAYLOADS: list[tuple[object, str]] = [
    ("{}", "payload: expected a JSON object, got str"),
    ({}, "Type: Field required"),
    ({**load(), "Type": "Bogus"}, "Type: Input should be 'Notification'"),
    ({**load(), "MessageId": None}, "MessageId: Input should be a valid string"),
    ({**load(), "Message": {"AlarmName": "x"}}, "Message: Input should be a valid string"),
    ({**load(), "Message": "Hello from a human"}, "Message: not a CloudWatch alarm (not JSON"),
    ({**load(), "Message": "[1]"}, "Message: not a CloudWatch alarm (expected a JSON object)"),
    ({**load(), "Message": "1" * 5000}, "Message: not a CloudWatch alarm (not JSON"),
    ({**load(), "Message": "[" * 100000}, "Message: not a CloudWatch alarm (not JSON"),
    ({**load(), "Timestamp": "now"}, "Timestamp: invalid timestamp"),
    (with_message(NewStateValue="PENDING"), "Message.NewStateValue: Input should be 'ALARM'"),
    (with_message(AlarmArn=None), "Message.AlarmArn: Field required"),
    (with_message(AlarmName=""), "Message.AlarmName: String should have at least 1 character"),
    (with_message(StateChangeTime="yesterday"), "Message.StateChangeTime: invalid timestamp"),
    (with_message(Trigger={"Dimensions": [{"name": "a"}]}), "Message.Trigger.Dimensions.0.value"),
    (with_message(Trigger=[1]), "Message.Trigger: expected a JSON object"),
    ({"NewStateValue": "ALARM"}, "AlarmName: Field required"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_PAYLOADS)
def test_bad_payloads_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert str(caught.value).startswith(message)


def test_parsing_leaves_the_payload_unchanged() -> None:
    payload = json.loads(load()["Message"])
    before = copy.deepcopy(payload)
    parse(payload)
    assert payload == before
