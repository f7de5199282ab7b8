"""Grafana unified-alerting webhook (version "1") → ``NormalizedAlert``.

Grafana's webhook is Alertmanager's message plus Grafana extras: the envelope adds
``orgId``, ``title``, ``state`` and ``message`` (the last three "will be deprecated"), and
each alert adds ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL`` and the query
``values``. Like the Alertmanager parser, a group becomes one ``NormalizedAlert`` per alert.

Field reference: grafana/alerting ``receivers/webhook/v1/webhook.go`` (``webhookMessage``)
and ``templates/template_data.go`` (``ExtendedAlert``). A contact point with a *custom
payload* template sends whatever its author wrote; that fails the version check with a
message saying so, rather than being half-parsed.

Grafana can sign the body (contact point → "HMAC Signature", Grafana 11.6+):
``verify_signature`` checks that before the body is trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers.alertmanager import (
    AlertFields,
    fingerprint_of,
    summary_of,
    validate_group,
)

SOURCE = "grafana"
SUPPORTED_VERSION = "1"
SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana has no default name for the timestamp header; this is the one its docs use.
TIMESTAMP_HEADER = "X-Grafana-Alerting-Signature-Timestamp"
# Base64 screenshots: large, and imageURL (kept in links) shows the same picture.
_DROPPED_FROM_RAW = ("embeddedImage",)


class _Alert(AlertFields):
    """One entry of ``alerts``: Alertmanager's fields plus Grafana's links and values."""

    silence_url: str = Field(default="", alias="silenceURL")
    dashboard_url: str = Field(default="", alias="dashboardURL")
    panel_url: str = Field(default="", alias="panelURL")
    image_url: str = Field(default="", alias="imageURL")
    values: dict[str, float | None] = Field(default_factory=dict)
    value_string: str = Field(default="", alias="valueString")

    @field_validator("values", mode="before")
    @classmethod
    def _null_values(cls, value: object) -> object:
        """Go writes ``null`` for a nil map (``values`` of a rule without queries)."""
        return {} if value is None else value

    @field_validator(
        "silence_url", "dashboard_url", "panel_url", "image_url", "value_string", mode="before"
    )
    @classmethod
    def _null_strings(cls, value: object) -> object:
        """Accept ``null`` for optional strings: some proxies write it instead of omitting."""
        return "" if value is None else value


class _Payload(BaseModel):
    """The notification envelope; ``version`` is checked before anything else is trusted."""

    model_config = ConfigDict(extra="ignore")

    version: str
    group_key: str = Field(default="", alias="groupKey")
    external_url: str = Field(default="", alias="externalURL")
    receiver: str = ""
    org_id: int | None = Field(default=None, alias="orgId")
    alerts: list[_Alert]

    @field_validator("version", mode="before")
    @classmethod
    def _known_version(cls, value: object) -> object:
        """Anything else is a custom payload template or another sender: say which."""
        if value != SUPPORTED_VERSION:
            raise ValueError(
                f"unsupported webhook version {repr(value)[:40]}, expected {SUPPORTED_VERSION!r}"
                " (is a custom payload template set on the Grafana contact point?)"
            )
        return value

    @field_validator("group_key", "external_url", "receiver", mode="before")
    @classmethod
    def _null_strings(cls, value: object) -> object:
        return "" if value is None else value


def parse(payload: object) -> list[NormalizedAlert]:
    """Turn one Grafana notification into one ``NormalizedAlert`` per alert.

    Raises ``PayloadError`` naming the failing field path when the payload is not a
    version-1 Grafana webhook message.
    """
    envelope, raw_alerts = validate_group(payload, _Payload)
    pairs = zip(envelope.alerts, raw_alerts, strict=True)
    return [_normalize(alert, raw, envelope) for alert, raw in pairs]


def _normalize(alert: _Alert, raw: dict[str, Any], envelope: _Payload) -> NormalizedAlert:
    """Map one validated alert onto the shared shape."""
    firing = alert.status == "firing"
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=alert.fingerprint or fingerprint_of(alert.labels),
        status=AlertStatus(alert.status),
        labels=dict(alert.labels),
        annotations=_annotations(alert),
        starts_at=alert.starts_at,
        # Grafana, like Alertmanager, may put a future endsAt on firing alerts; hide it.
        ends_at=None if firing else alert.ends_at,
        summary=summary_of(alert),
        severity=alert.labels.get("severity"),
        links=_links(alert),
        raw=_raw(raw, envelope),
    )


def _annotations(alert: _Alert) -> dict[str, str]:
    """The rule's annotations, plus the query values that made it fire as ``values``.

    The values are what responders ask first ("how far over the threshold?"). A rule's
    own ``values`` annotation, if it has one, wins.
    """
    annotations = dict(alert.annotations)
    values = format_values(alert.values) or alert.value_string
    if values and "values" not in annotations:
        annotations["values"] = values
    return annotations


def format_values(values: Mapping[str, float | None]) -> str:
    """``{"B": 91.2394, "C": 1.0}`` → ``"B=91.2394, C=1"``: short enough for a card field."""
    return ", ".join(f"{name}={_number(value)}" for name, value in values.items())


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


_LINK_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "generator_url"),
    ("dashboard", "dashboard_url"),
    ("panel", "panel_url"),
    ("silence", "silence_url"),
    ("image", "image_url"),
)
_RUNBOOK_KEYS = ("runbook_url", "runbookURL", "runbook")


def _links(alert: _Alert) -> dict[str, str]:
    """Grafana's own URLs and the rule's runbook, as Slack buttons (http(s) only)."""
    links = {name: getattr(alert, attr) for name, attr in _LINK_FIELDS}
    links["runbook"] = next(
        (alert.annotations[k] for k in _RUNBOOK_KEYS if k in alert.annotations), ""
    )
    return {name: url for name, url in links.items() if _is_web_url(url)}


def _is_web_url(url: str) -> bool:
    """Slack rejects a whole message (``invalid_blocks``) for a button URL it can't parse."""
    return url.startswith(("http://", "https://"))


def _raw(raw: dict[str, Any], envelope: _Payload) -> dict[str, Any]:
    """Keep the alert as sent, plus the group and org it arrived under (for audit/debug)."""
    kept = {k: v for k, v in raw.items() if k not in _DROPPED_FROM_RAW}
    group = {
        "groupKey": envelope.group_key,
        "externalURL": envelope.external_url,
        "receiver": envelope.receiver,
        "orgId": envelope.org_id,
    }
    return {**kept, **group}


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    signature_header: str = SIGNATURE_HEADER,
    timestamp_header: str = TIMESTAMP_HEADER,
    max_age: float | None = None,
    now: float | None = None,
) -> bool:
    """Check Grafana's HMAC-SHA256 signature of the raw body, in constant time.

    Grafana writes the bare lowercase hex digest of the body into ``signature_header``;
    when the contact point names a timestamp header it sends Unix seconds there and signs
    ``"<timestamp>:<body>"`` instead. Both header names are configurable in Grafana, so
    they are parameters here. ``max_age`` (seconds) additionally demands a timestamp no
    older (or newer) than that, which is the only replay protection Grafana offers.

    An empty secret never verifies: that would accept anyone who also sends no secret.
    """
    given = _header(headers, signature_header)
    if not secret or not given:
        return False
    timestamp = _header(headers, timestamp_header)
    if max_age is not None and not _fresh(timestamp, max_age, now):
        return False
    signed = f"{timestamp}:".encode() + body if timestamp else body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))


def _header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive lookup that also works on a plain dict (tests, other frameworks)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def _fresh(timestamp: str, max_age: float, now: float | None) -> bool:
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    current = time.time() if now is None else now
    return abs(current - int(stamp)) <= max_age
