"""CloudWatch alarms delivered by Amazon SNS over HTTP(S) → ``NormalizedAlert``.

SNS posts a JSON *envelope* (sent as ``Content-Type: text/plain``, with its type also in
the ``x-amz-sns-message-type`` header). Three types exist:

* ``SubscriptionConfirmation``: the first request to a new endpoint. Nothing arrives until
  someone GETs its ``SubscribeURL``; ``subscription_confirm_url`` says which URL is safe.
* ``Notification``: ``Message`` is a *string* holding the alarm's JSON.
* ``UnsubscribeConfirmation``: informational.

Field reference: docs.aws.amazon.com/sns/latest/dg/http-notification-json.html and
http-subscription-confirmation-json.html; the alarm message as in aws/aws-lambda-go
``events/testdata/cloudwatch-alarm-sns-payload-single-metric.json``. A subscription with
raw message delivery posts the alarm JSON itself, without envelope; that is accepted too.

States: ``ALARM`` fires from ``StateChangeTime``. ``OK`` resolves the latest alert of the
alarm (its message says when it ended, not when that alert started). ``INSUFFICIENT_DATA``
also fires, with severity ``warning``: SNS only sends it to topics listed in the alarm's
``InsufficientDataActions``, i.e. someone asked to hear about it, and for a model or a
pipeline a metric that stopped reporting is often the outage itself. CloudWatch has no
severity of its own, so ``ALARM`` carries none.

The webhook token in the subscribed URL authenticates SNS; with
``WARROOM_SNS_VERIFY_SIGNATURES`` the message's ``Signature`` is checked as well
(``handlers.sns_signature``, from ``signed_text`` and ``signing_cert_url`` here).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers import strict_json
from handlers.parsers.errors import PayloadError, from_validation_error
from handlers.parsers.pagerduty import parse_iso_timestamp

SOURCE = "cloudwatch"
MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
_SNS_HOST = re.compile(r"^sns\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$", re.ASCII)
_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):[a-z0-9-]+:(?P<region>[a-z0-9-]+):", re.ASCII)
_CONSOLE = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn"}

IsoTimestamp = Annotated[datetime, PlainValidator(parse_iso_timestamp)]


class SnsEnvelope(BaseModel):
    """The SNS HTTP(S) message, whatever its type, with the fields its signature covers."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"] = Field(
        alias="Type"
    )
    message_id: str = Field(alias="MessageId", min_length=1)
    topic_arn: str = Field(alias="TopicArn", min_length=1)
    message: str = Field(alias="Message")
    timestamp: IsoTimestamp = Field(alias="Timestamp")
    subject: str | None = Field(default=None, alias="Subject")
    token: str | None = Field(default=None, alias="Token")
    subscribe_url: str | None = Field(default=None, alias="SubscribeURL")
    unsubscribe_url: str | None = Field(default=None, alias="UnsubscribeURL")
    signature_version: str | None = Field(default=None, alias="SignatureVersion")
    signature: str | None = Field(default=None, alias="Signature")
    signing_cert_url: str | None = Field(default=None, alias="SigningCertURL")


class _Dimension(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    value: str


class _Trigger(BaseModel):
    """Absent for composite alarms; metric-math alarms have ``Metrics`` and no MetricName."""

    model_config = ConfigDict(extra="ignore")

    metric_name: str | None = Field(default=None, alias="MetricName")
    namespace: str | None = Field(default=None, alias="Namespace")
    dimensions: list[_Dimension] | None = Field(default=None, alias="Dimensions")


class _Alarm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="AlarmName", min_length=1)
    alarm_arn: str = Field(alias="AlarmArn", min_length=1)
    new_state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = Field(alias="NewStateValue")
    state_change_time: IsoTimestamp = Field(alias="StateChangeTime")
    old_state: str | None = Field(default=None, alias="OldStateValue")
    reason: str | None = Field(default=None, alias="NewStateReason")
    description: str | None = Field(default=None, alias="AlarmDescription")
    account: str | None = Field(default=None, alias="AWSAccountId")
    trigger: _Trigger | None = Field(default=None, alias="Trigger")


def parse_envelope(payload: object) -> SnsEnvelope:
    """Validate the SNS envelope; ``PayloadError`` names the failing field."""
    if not isinstance(payload, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:
        return SnsEnvelope.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def subscription_confirm_url(envelope: SnsEnvelope) -> str | None:
    """The URL to GET to confirm a subscription; None for other message types.

    Anyone can post a fake confirmation, so the URL is only returned when it is https on
    SNS's own host for the topic's region (``sns.<region>.amazonaws.com[.cn]``), without
    credentials or an unusual port; anything else raises ``PayloadError``. Fetching an
    unchecked URL would let a stranger make the bot request arbitrary (internal) URLs.
    """
    if envelope.type != "SubscriptionConfirmation":
        return None
    url = envelope.subscribe_url or ""
    problem = _sns_url_problem(url, envelope.topic_arn)
    if problem:
        raise PayloadError(f"SubscribeURL: {problem}")
    return url


def signing_cert_url(envelope: SnsEnvelope) -> str:
    """The certificate that signed the message, if it is SNS's own; else ``PayloadError``.

    Checked like the ``SubscribeURL`` (https on the topic region's SNS host) and a ``.pem``
    file: a forger would otherwise point at a certificate of their own.
    """
    url = envelope.signing_cert_url or ""
    problem = _sns_url_problem(url, envelope.topic_arn)
    if not problem and not urlsplit(url).path.endswith(".pem"):
        problem = "not a .pem file"
    if problem:
        raise PayloadError(f"SigningCertURL: {problem}")
    return url


# The fields SNS signs, by message type, in this order; those absent are left out.
_SIGNED = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SIGNED_CONFIRMATION = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def signed_text(payload: dict[str, Any], envelope: SnsEnvelope) -> bytes:
    """The bytes SNS signed: ``name\\nvalue\\n`` for each signed field, values as sent."""
    names = _SIGNED if envelope.type == "Notification" else _SIGNED_CONFIRMATION
    fields = (f"{name}\n{payload[name]}\n" for name in names if isinstance(payload.get(name), str))
    return "".join(fields).encode()


def _sns_url_problem(url: str, topic_arn: str) -> str:
    """Why ``url`` is not an SNS endpoint of the topic's region; "" when it is."""
    if not url:
        return "Field required"
    if not url.isascii() or any(c.isspace() or c == "\\" for c in url):
        return "not a plain https URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    host = _SNS_HOST.match(parts.hostname or "")
    if parts.scheme != "https" or parts.username is not None or port not in (None, 443):
        return "must be https on the default port, without credentials"
    if host is None:
        return "host is not sns.<region>.amazonaws.com"
    topic = _ARN.match(topic_arn)
    if topic is None or topic["region"] != host["region"]:
        return "host region does not match the TopicArn region"
    return ""


def parse(payload: object) -> list[NormalizedAlert]:
    """Turn one SNS delivery into its alarm's ``NormalizedAlert`` (or none).

    Subscription and unsubscribe confirmations hold no alarm: they give ``[]``, and the
    route handles them via ``parse_envelope`` / ``subscription_confirm_url``.
    """
    if isinstance(payload, dict) and "Type" not in payload and "NewStateValue" in payload:
        return [_normalize(_alarm(payload, ()), payload, None)]  # raw message delivery
    envelope = parse_envelope(payload)
    if envelope.type != "Notification":
        return []
    message = _decode_message(envelope.message)
    return [_normalize(_alarm(message, ("Message",)), message, envelope)]


def _decode_message(text: str) -> dict[str, Any]:
    """``Message`` is JSON in a string; other publishers on the topic may send plain text."""
    try:
        message = strict_json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"Message: not a CloudWatch alarm (not JSON: {exc})") from None
    if not isinstance(message, dict):
        raise PayloadError("Message: not a CloudWatch alarm (expected a JSON object)")
    return message


def _alarm(message: dict[str, Any], prefix: tuple[str, ...]) -> _Alarm:
    """Validate the alarm, naming fields inside the envelope as ``Message.<field>``."""
    try:
        return _Alarm.model_validate(message)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix=prefix) from None


def _normalize(
    alarm: _Alarm, message: dict[str, Any], envelope: SnsEnvelope | None
) -> NormalizedAlert:
    resolved = alarm.new_state == "OK"
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=alarm.alarm_arn,  # stable across the alarm's state changes
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels=_labels(alarm),
        annotations=_annotations(alarm, envelope),
        starts_at=None if resolved else alarm.state_change_time,
        ends_at=alarm.state_change_time if resolved else None,
        summary=(alarm.description or "").strip() or alarm.alarm_name,
        severity="warning" if alarm.new_state == "INSUFFICIENT_DATA" else None,
        links=_links(alarm),
        raw=_raw(message, envelope),
    )


def _labels(alarm: _Alarm) -> dict[str, str]:
    """What identifies the alarm: dimensions (``LoadBalancer``, …), metric, account, region.

    The state is not a label: labels choose the playbook and group, and an alarm's OK must
    land where its ALARM did.
    """
    trigger = alarm.trigger or _Trigger()
    labels = {d.name: d.value for d in trigger.dimensions or [] if d.name and d.value}
    arn = _ARN.match(alarm.alarm_arn)
    own = {
        "alertname": alarm.alarm_name,
        "namespace": trigger.namespace,
        "metric": trigger.metric_name,
        "account": alarm.account,
        "region": arn["region"] if arn else None,
    }
    labels.update({k: v for k, v in own.items() if v})
    return labels


def _annotations(alarm: _Alarm, envelope: SnsEnvelope | None) -> dict[str, str]:
    candidates = {
        "description": alarm.description,
        "reason": alarm.reason,
        "new_state": alarm.new_state,
        "old_state": alarm.old_state,
        "subject": envelope.subject if envelope else None,
    }
    return {k: v for k, v in candidates.items() if v}


def _links(alarm: _Alarm) -> dict[str, str]:
    """The alarm in the AWS console, built from its ARN (commercial and China partitions)."""
    arn = _ARN.match(alarm.alarm_arn)
    console = _CONSOLE.get(arn["partition"]) if arn else None
    if arn is None or console is None:
        return {}
    region, name = arn["region"], quote(alarm.alarm_name, safe="")
    url = f"https://{region}.{console}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"
    return {"alarm": url}


def _raw(message: dict[str, Any], envelope: SnsEnvelope | None) -> dict[str, Any]:
    """The decoded alarm, plus the envelope's identity: SNS retries reuse ``MessageId``."""
    if envelope is None:
        return message
    return {
        "MessageId": envelope.message_id,
        "TopicArn": envelope.topic_arn,
        "Timestamp": envelope.timestamp.isoformat(),
        "Subject": envelope.subject,
        "Message": message,
    }
