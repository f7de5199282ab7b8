"""PagerDuty Events API v2 (``POST /v2/enqueue``) → ``NormalizedAlert``.

Many tools can page "PagerDuty" but cannot post a generic webhook; pointing their
PagerDuty events URL at Warroom lets them page here instead. One request is one event:
``trigger``, ``acknowledge`` or ``resolve`` of the alert named by ``dedup_key``.

Field reference: PagerDuty/developer-docs ``docs/events-API-v2/02-Trigger-Events.md``.
Differences from PagerDuty itself, on purpose:

* A trigger without ``dedup_key`` gets a key derived from its ``payload`` (PagerDuty
  generates a random UUID), so that a sender's retry of the same event dedupes.
* ``payload.summary`` longer than 1024 characters is truncated rather than refused: a
  page with a long title beats no page.
* ``routing_key`` is a secret of the sender's integration. It never reaches the alert,
  not even ``raw``; the route may read it with ``routing_key_of`` to authenticate.

``starts_at`` is the trigger's ``payload.timestamp`` when given. Most senders omit it
(Alertmanager and Grafana do), so it is usually None: intake then applies the event to
the latest alert of that ``dedup_key``, which is PagerDuty's own rule ("subsequent events
for the same dedup_key are applied to an open alert matching that dedup_key").
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
)

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers.alertmanager import parse_timestamp
from handlers.parsers.errors import PayloadError, from_validation_error

SOURCE = "pagerduty"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_LINKS = 20  # Slack shows at most 25 elements in an actions block
# Short single-line custom details become labels (matchable, grouped on); anything longer
# is prose (Grafana puts its whole alert list there) and goes to annotations.
MAX_LABEL_VALUE = 200
_SECRET_KEYS = ("routing_key", "service_key")  # service_key: the v1 API's name for it
_STATUS = {
    "trigger": AlertStatus.FIRING,
    "acknowledge": AlertStatus.ACKNOWLEDGED,
    "resolve": AlertStatus.RESOLVED,
}
_CORE_LABELS = ("alertname", "source", "component", "group", "severity")
_BASIC_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_EXAMPLE = "2015-07-17T08:42:58.315+0000"


def parse_iso_timestamp(value: object) -> datetime:
    """ISO 8601 as PagerDuty documents it (``2015-07-17T08:42:58.315+0000``), in UTC.

    The strict RFC 3339 parser does the work once the ``+hhmm`` offset has its colon;
    a time without any offset is refused, since guessing its zone would misdate it.
    """
    normalized = _BASIC_OFFSET.sub(r"\1:\2", value.strip()) if isinstance(value, str) else None
    try:
        return parse_timestamp(normalized)
    except ValueError:
        raise ValueError(f"invalid timestamp, expected ISO 8601 such as {_EXAMPLE}") from None


def _optional_timestamp(value: object) -> datetime | None:
    return None if value is None or value == "" else parse_iso_timestamp(value)


OptionalIsoTimestamp = Annotated[datetime | None, PlainValidator(_optional_timestamp)]


class _Link(BaseModel):
    model_config = ConfigDict(extra="ignore")

    href: str
    text: str | None = None


class _Image(BaseModel):
    model_config = ConfigDict(extra="ignore")

    src: str
    href: str | None = None
    alt: str | None = None


class _Details(BaseModel):
    """``payload`` of an acknowledge or resolve: optional, and only read when present.

    Alertmanager and Grafana send the full payload with their resolves too.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    summary: str | None = None
    source: str | None = None
    severity: str | None = None
    timestamp: OptionalIsoTimestamp = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    # Documented as an object; strings and lists occur too, so any JSON is kept.
    custom_details: Any = None


class _TriggerDetails(_Details):
    """``payload`` of a trigger: PagerDuty refuses one without these three."""

    summary: str = Field(min_length=1)
    source: str = Field(min_length=1)
    severity: Literal["critical", "error", "warning", "info"]  # type: ignore[assignment]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=MAX_DEDUP_KEY)
    payload: dict[str, Any] | None = None
    links: list[_Link] = Field(default_factory=list)
    images: list[_Image] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None

    @field_validator("links", "images", mode="before")
    @classmethod
    def _null_lists(cls, value: object) -> object:
        return [] if value is None else value


def routing_key_of(payload: object) -> str:
    """The event's ``routing_key`` ("" if absent), for a route that authenticates with it.

    Senders built for PagerDuty can be given a URL and a routing key but often no header,
    so the routing key is the natural shared secret. Compare it in constant time.
    """
    key = payload.get("routing_key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else ""


def parse(payload: object) -> list[NormalizedAlert]:
    """The registry's interface: one event → a list of one alert."""
    alert, _ = parse_event(payload)
    return [alert]


def parse_event(payload: object) -> tuple[NormalizedAlert, str]:
    """Turn one Events API v2 event into an alert and the ``dedup_key`` to answer with.

    PagerDuty answers ``202 {"status": "success", "message": "Event processed",
    "dedup_key": …}`` and senders store that key to resolve later, so the route must
    return it, including the derived one. Raises ``PayloadError`` naming the field.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:
        event = _Event.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    details = _details(event)
    dedup_key = event.dedup_key or _derived_key(event)
    return _normalize(event, details, dedup_key, payload), dedup_key


def _details(event: _Event) -> _Details:
    """Validate ``payload`` by the action's rules, naming fields as ``payload.summary``."""
    if event.event_action == "trigger" and event.payload is None:
        raise PayloadError("payload: Field required (a trigger needs summary, source, severity)")
    model = _TriggerDetails if event.event_action == "trigger" else _Details
    try:
        return model.model_validate(event.payload or {})
    except ValidationError as exc:
        raise from_validation_error(exc, prefix=("payload",)) from None


def _derived_key(event: _Event) -> str:
    """A trigger's key when it has none: sha256 of the canonical ``payload`` JSON.

    Acknowledge and resolve must name the alert; there is nothing to derive from.
    """
    if event.event_action != "trigger":
        raise PayloadError(f"dedup_key: Field required for {event.event_action}")
    try:
        canonical = json.dumps(
            event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except ValueError as exc:  # an integer too long to print (Python's 4300-digit limit)
        raise PayloadError(f"payload: cannot be serialised ({exc})") from None
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _normalize(
    event: _Event, details: _Details, dedup_key: str, payload: dict[str, Any]
) -> NormalizedAlert:
    status = _STATUS[event.event_action]
    timestamp = details.timestamp
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=dedup_key,
        status=status,
        labels=_labels(details),
        annotations=_annotations(event, details),
        starts_at=timestamp if status is AlertStatus.FIRING else None,
        ends_at=timestamp if status is AlertStatus.RESOLVED else None,
        summary=_summary(details),
        severity=details.severity,
        links=_links(event, details),
        raw=_raw(payload),
    )


def _summary(details: _Details) -> str:
    summary = details.summary or ""
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…"


def _labels(details: _Details) -> dict[str, str]:
    """``alertname`` is the event class (PagerDuty's "type of event"), else its source.

    Short one-line string ``custom_details`` join them, so playbooks can match on them.
    """
    labels = {k: v for k, v in _details_map(details).items() if _is_label(v)}
    core = {
        "alertname": details.class_ or details.source,
        "source": details.source,
        "component": details.component,
        "group": details.group,
        "severity": details.severity,
    }
    labels.update({k: v for k, v in core.items() if v})
    return labels


def _annotations(event: _Event, details: _Details) -> dict[str, str]:
    """The other custom details (as text, JSON for non-strings), summary and client."""
    annotations = {
        k: v if isinstance(v, str) else _json(v, f"payload.custom_details.{k}")
        for k, v in _details_map(details).items()
        if not _is_label(v)
    }
    other = details.custom_details
    if isinstance(other, str) and other:
        annotations["details"] = other
    elif other is not None and not isinstance(other, dict):
        annotations["details"] = _json(other, "payload.custom_details")
    extra = {
        "summary": details.summary,
        "client": event.client,
        "timestamp": details.timestamp.isoformat() if details.timestamp else None,
    }
    annotations.update({k: v for k, v in extra.items() if v})
    return annotations


def _details_map(details: _Details) -> dict[str, Any]:
    """``custom_details`` as an object, minus nulls and keys that would shadow core labels."""
    if not isinstance(details.custom_details, dict):
        return {}
    return {
        k: v for k, v in details.custom_details.items() if k not in _CORE_LABELS and v is not None
    }


def _is_label(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LABEL_VALUE and "\n" not in value


def _json(value: object, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError as exc:
        raise PayloadError(f"{where}: cannot be serialised ({exc})") from None


def _links(event: _Event, details: _Details) -> dict[str, str]:
    """``client_url``, a runbook detail, ``links`` and ``images`` as named buttons.

    Only http(s) URLs, each once, at most ``MAX_LINKS``: a card shows a handful of
    buttons, and a sender-controlled list must not cost quadratic time to deduplicate.
    """
    candidates: list[tuple[str, str | None]] = [("source", event.client_url)]
    if isinstance(details.custom_details, dict):
        candidates.append(("runbook", _str_or_none(details.custom_details.get("runbook_url"))))
    candidates += [(link.text or "link", link.href) for link in event.links]
    candidates += [(image.alt or "image", image.href or image.src) for image in event.images]
    links: dict[str, str] = {}
    seen: set[str] = set()
    for name, url in candidates:
        if url and _is_web_url(url) and url not in seen:
            seen.add(url)
            links[_unique(name.strip() or "link", links)] = url
            if len(links) == MAX_LINKS:
                break
    return links


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unique(name: str, taken: dict[str, str]) -> str:
    """Two links may share a text ("Graph"); number the later ones instead of dropping them."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} {n}"
    return candidate


def _is_web_url(url: str) -> bool:
    """Slack rejects a whole message (``invalid_blocks``) for a button URL it can't parse."""
    return url.startswith(("http://", "https://"))


def _raw(payload: dict[str, Any]) -> dict[str, Any]:
    """The event as sent, minus its routing key: raw is stored and shown, the key is a secret."""
    return {k: v for k, v in payload.items() if k not in _SECRET_KEYS}
