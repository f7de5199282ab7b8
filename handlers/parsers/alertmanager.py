"""Alertmanager webhook (version "4") → ``NormalizedAlert``.

Alertmanager posts one notification per alert *group*: a small envelope (``groupKey``,
``externalURL``, common labels, …) around the list of alerts in that group. Warroom cares
about each alert, so this parser flattens the group into one ``NormalizedAlert`` per alert
and copies the envelope fields that identify the group into each alert's ``raw``.

Field reference: alertmanager ``notify/webhook/webhook.go`` and ``template/template.go``.
Newer releases add keys (``notification_reason`` in 0.32, ``routeLabels`` on HEAD); they are
ignored so an Alertmanager upgrade never breaks intake.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers.errors import PayloadError, from_validation_error

SOURCE = "alertmanager"
SUPPORTED_VERSION = "4"

# RFC 3339 as Go's time.Time marshals it. Go writes up to nine fractional digits;
# Python keeps six, so the fraction is captured separately and truncated.
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})$",
    re.ASCII,
)


def parse_timestamp(value: object) -> datetime:
    """Parse a Go RFC 3339 timestamp into an aware UTC datetime, dropping nanoseconds.

    Written by hand rather than left to pydantic so that unix numbers and naive times
    are refused (Alertmanager never sends them, so they signal a wrong sender) and the
    result always carries ``datetime.UTC``, which compares and stores predictably.
    """
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("invalid datetime, expected RFC 3339 such as 2026-03-04T09:12:45.828Z")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = "+00:00" if match["tz"] in ("Z", "z") else match["tz"]
    try:
        # astimezone overflows for year 1 / 9999 with an offset; report that, don't crash.
        return datetime.fromisoformat(f"{match['base']}.{frac}{tz}").astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid datetime ({exc})") from None


def _parse_optional_timestamp(value: object) -> datetime | None:
    """``endsAt`` uses Go's zero time (year 1) for "not ended"; that and null become None."""
    if value is None:
        return None
    parsed = parse_timestamp(value)
    return None if parsed.year == 1 else parsed


Timestamp = Annotated[datetime, PlainValidator(parse_timestamp)]
OptionalTimestamp = Annotated[datetime | None, PlainValidator(_parse_optional_timestamp)]
Envelope = TypeVar("Envelope", bound=BaseModel)


class AlertFields(BaseModel):
    """One entry of ``alerts``: only the fields Warroom reads are declared.

    Grafana's webhook alert is this plus its own links and values (``grafana._Alert``).
    """

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]  # Alertmanager knows no acknowledgement
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: Timestamp = Field(alias="startsAt")
    ends_at: OptionalTimestamp = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("annotations", "generator_url", "fingerprint", mode="before")
    @classmethod
    def _nulls(cls, value: object, info: ValidationInfo) -> object:
        """Accept ``null`` for optional fields: some senders write it instead of omitting."""
        if value is None:
            return {} if info.field_name == "annotations" else ""
        return value

    @field_validator("labels")
    @classmethod
    def _has_labels(cls, value: dict[str, str]) -> dict[str, str]:
        """Labels are an alert's identity; both senders refuse an alert without any."""
        if not value:
            raise ValueError("at least one label is required")
        return value


class _Payload(BaseModel):
    """The notification envelope; ``version`` is checked before anything else is trusted."""

    model_config = ConfigDict(extra="ignore")

    version: str
    group_key: str = Field(default="", alias="groupKey")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[AlertFields]

    @field_validator("version", mode="before")
    @classmethod
    def _known_version(cls, value: object) -> object:
        """Refuse other versions outright: their shape may differ in ways we cannot see."""
        if value != SUPPORTED_VERSION:
            raise ValueError(
                f"unsupported webhook version {repr(value)[:40]}, expected {SUPPORTED_VERSION!r}"
            )
        return value


def parse(payload: object) -> list[NormalizedAlert]:
    """Turn one Alertmanager notification into one ``NormalizedAlert`` per alert.

    Raises ``PayloadError`` naming the failing field path when the payload is not a
    version-4 Alertmanager notification.
    """
    envelope, raw_alerts = validate_group(payload, _Payload)
    pairs = zip(envelope.alerts, raw_alerts, strict=True)
    return [_normalize(alert, raw, envelope) for alert, raw in pairs]


def validate_group(payload: object, model: type[Envelope]) -> tuple[Envelope, list[dict[str, Any]]]:
    """The validated envelope and the alerts as sent (kept whole in each alert's ``raw``)."""
    if not isinstance(payload, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:
        envelope = model.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    return envelope, payload["alerts"]


def _normalize(alert: AlertFields, raw: dict[str, Any], envelope: _Payload) -> NormalizedAlert:
    """Map one validated alert onto the shared shape."""
    firing = alert.status == AlertStatus.FIRING
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=alert.fingerprint or fingerprint_of(alert.labels),
        status=AlertStatus(alert.status),
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=alert.starts_at,
        # Alertmanager hides endsAt of firing alerts; keep that invariant for any sender.
        ends_at=None if firing else alert.ends_at,
        summary=summary_of(alert),
        severity=alert.labels.get("severity"),
        links=_links(alert),
        raw=_raw(raw, envelope),
    )


def _raw(raw: dict[str, Any], envelope: _Payload) -> dict[str, Any]:
    """Keep the alert as sent, plus the group identity it arrived under (for audit/debug)."""
    group = {"groupKey": envelope.group_key, "externalURL": envelope.external_url}
    return {**raw, **group}


def fingerprint_of(labels: dict[str, str]) -> str:
    """Derive a stable fingerprint from the label set, as Alertmanager identifies alerts.

    Canonical JSON (sorted keys) keeps ``{"a": "b,c"}`` and ``{"a": "b", "c": ""}`` apart.
    """
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def summary_of(alert: AlertFields) -> str:
    """Prefer the human text the rule author wrote; fall back to the rule name."""
    return (
        alert.annotations.get("summary")
        or alert.annotations.get("description")
        or alert.labels.get("alertname", "")
    )


_LINK_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runbook", ("runbook_url", "runbookURL")),
    ("dashboard", ("dashboard_url", "dashboardURL")),
)


def _links(alert: AlertFields) -> dict[str, str]:
    """Collect the URLs worth a button: the generator expression, runbook and dashboard.

    Only http(s) URLs are kept: they end up as Slack link buttons, and Slack rejects
    the whole message (``invalid_blocks``) for a button URL it cannot parse.
    """
    links: dict[str, str] = {}
    if _is_web_url(alert.generator_url):
        links["source"] = alert.generator_url
    for name, keys in _LINK_SOURCES:
        url = next((alert.annotations[k] for k in keys if k in alert.annotations), "")
        if _is_web_url(url):
            links[name] = url
    return links


def _is_web_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))
