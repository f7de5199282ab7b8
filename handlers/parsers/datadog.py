"""Datadog webhook (Integrations → Webhooks) → ``NormalizedAlert``.

Datadog's webhook body is a template the user writes with ``$VARIABLES``; one
notification is one JSON object (Datadog never batches). Two shapes matter:

* the **default payload** (``body``, ``last_updated``, ``event_type``, ``title``, ``date``,
  ``org``, ``id``), which has no alert id and no transition: both are read from the title,
  ``"[Triggered on {env:prod,service:api}] api 5xx is high"``;
* the **recommended payload** adds ``$ALERT_ID``, ``$ALERT_CYCLE_KEY``, ``$AGGREG_KEY``,
  ``$ALERT_TRANSITION``, ``$ALERT_TITLE``, ``$ALERT_SCOPE``, ``$TAGS``, … which make
  correlation exact. Any other key is ignored.

Field reference: docs.datadoghq.com/integrations/webhooks (variables); the default field
set is from DataDog/integrations-extras ``ilert/README.md``. Template variables expand to
text, but a user may leave ``$DATE`` or ``$ALERT_ID`` unquoted, so numbers are accepted
wherever text is.

A ``Recovered`` event carries no start time: it resolves the latest alert of its
fingerprint (``starts_at`` None). Every other transition (``Triggered``, ``Re-Triggered``,
``Warn``, ``No Data``, ``Renotify``, and unknown ones: a spurious page beats a lost one)
fires, starting at ``$DATE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers.alertmanager import fingerprint_of
from handlers.parsers.errors import PayloadError, from_validation_error

SOURCE = "datadog"
_RESOLVED_TRANSITIONS = frozenset({"recovered", "resolved"})
_KNOWN_TRANSITIONS = _RESOLVED_TRANSITIONS | {
    "triggered",
    "re-triggered",
    "warn",
    "re-warn",
    "no data",
    "re-no data",
    "renotify",
}
# "[P1] [Triggered on {service:api,env:prod}] name": priority and scope are optional.
# Bounded repeats: a title is sender-controlled, and ``[a`` + 40k spaces must not take
# seconds (an unbounded lazy group before ``\s+on`` backtracks quadratically).
_TITLE = re.compile(
    r"^\s{0,10}(?:\[P\d\]\s{0,10})?\[(?P<transition>[A-Za-z][A-Za-z -]{0,20}?)"
    r"(?: {1,3}on {1,3}\{(?P<scope>[^{}]*)\})?\]\s*(?P<name>.*)$",
    re.DOTALL,
)
_MARKDOWN_LINK = re.compile(r"\[(?P<text>[^\[\]]{1,100})\]\((?P<url>https?://[^()\s]+)\)")
_BODY_LINKS = (("runbook", "runbook"), ("monitor status", "monitor"))
_EPOCH_MS_MAX = 253402300799999  # 9999-12-31T23:59:59.999Z


def _text(value: object) -> object:
    """Template variables are text, but an unquoted ``$DATE`` arrives as a number."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # Python refuses to print integers over 4300 digits
            raise ValueError("number too long") from None
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _tag_list(value: object) -> object:
    """``$TAGS`` is ``"env:prod,service:api"``; a list of tags is accepted as well."""
    if value is None:
        return []
    if isinstance(value, str):
        return [tag for tag in value.split(",") if tag.strip()]
    return value


class _Org(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Text = ""
    name: Text = ""


class _Event(BaseModel):
    """The keys of the default and the recommended payload; all optional but a title."""

    model_config = ConfigDict(extra="ignore")

    id: Text = ""
    title: Text = ""
    body: Text = ""
    date: Text = ""
    last_updated: Text = ""
    event_type: Text = ""
    org: _Org | None = None
    alert_id: Text = ""
    alert_cycle_key: Text = ""
    aggreg_key: Text = ""
    alert_transition: Text = ""
    alert_type: Text = ""
    alert_priority: Text = ""
    priority: Text = ""
    alert_title: Text = ""
    alert_scope: Text = ""
    alert_status: Text = ""
    alert_metric: Text = ""
    alert_query: Text = ""
    hostname: Text = ""
    link: Text = ""
    snapshot: Text = ""
    tags: Annotated[list[str], BeforeValidator(_tag_list)] = Field(default_factory=list)


@dataclass(frozen=True)
class _Title:
    """What the title says when the payload does not say it itself."""

    transition: str = ""
    scope: str = ""
    name: str = ""


def parse(payload: object) -> list[NormalizedAlert]:
    """Turn one Datadog webhook event into a list of one ``NormalizedAlert``.

    Raises ``PayloadError`` naming the failing field when it is not a Datadog event.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:
        event = _Event.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    if not (event.title.strip() or event.alert_title.strip()):
        raise PayloadError("title: Field required (add $EVENT_TITLE or $ALERT_TITLE)")
    return [_normalize(event, _read_title(event.title), payload)]


def _read_title(title: str) -> _Title:
    """Split ``[Transition on {scope}] name``; a title in another form is all name."""
    match = _TITLE.match(title)
    if match is None or match["transition"].strip().lower() not in _KNOWN_TRANSITIONS:
        return _Title(name=title.strip())
    return _Title(
        transition=match["transition"].strip(),
        scope=match["scope"] or "",
        name=match["name"].strip(),
    )


def _normalize(event: _Event, title: _Title, payload: dict[str, Any]) -> NormalizedAlert:
    transition = event.alert_transition.strip() or title.transition
    resolved = transition.lower() in _RESOLVED_TRANSITIONS
    scope = _normalize_scope(event.alert_scope or title.scope)
    name = event.alert_title.strip() or title.name or event.title.strip()
    when = _epoch_ms(event.date, "date") or _epoch_ms(event.last_updated, "last_updated")
    return NormalizedAlert(
        source=SOURCE,
        fingerprint=_fingerprint(event, name, scope),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels=_labels(event, name, scope),
        annotations=_annotations(event, transition, scope),
        starts_at=None if resolved else when,
        ends_at=when if resolved else None,
        summary=name,
        severity=event.alert_type.strip() or None,
        links=_links(event),
        raw=payload,
    )


def _normalize_scope(scope: str) -> str:
    """``"env:prod, service:api"`` and ``"service:api,env:prod"`` name the same group."""
    return ",".join(sorted({part.strip() for part in scope.split(",") if part.strip()}))


def _fingerprint(event: _Event, name: str, scope: str) -> str:
    """One identity per monitor group, the same for its Triggered and its Recovered event.

    ``$AGGREG_KEY`` is Datadog's own; ``$ALERT_ID`` is the monitor, so the scope (the
    group of a multi-alert monitor) is added. The default payload has neither: the org,
    monitor name and scope read from the title identify the group just as well. The
    event ``id`` is never used: it differs between a trigger and its recovery.
    """
    if event.aggreg_key.strip():
        return event.aggreg_key.strip()
    if event.alert_id.strip():
        return f"{event.alert_id.strip()}/{scope}" if scope else event.alert_id.strip()
    org = event.org.id if event.org else ""
    return fingerprint_of({"org": org, "monitor": name, "scope": scope})


def _epoch_ms(value: str, field: str) -> datetime | None:
    """``$DATE`` is epoch milliseconds as text; "" means the template has no such key."""
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        raise PayloadError(f"{field}: expected epoch milliseconds such as 1772615565000")
    millis = int(text)
    if millis > _EPOCH_MS_MAX:
        raise PayloadError(f"{field}: epoch milliseconds out of range")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


def _labels(event: _Event, name: str, scope: str) -> dict[str, str]:
    """Tags and the scope (``key:value`` each) as labels, then Datadog's own fields.

    A tag without a value (``monitor``) is not a label: an empty label means "absent".
    Repeated keys (``env:a,env:b``) keep every value, comma-joined.
    """
    values: dict[str, dict[str, None]] = {}  # key -> its values, ordered and unique
    for tag in [*event.tags, *scope.split(",")]:
        key, sep, value = tag.strip().partition(":")
        if sep and key and value:
            values.setdefault(key, {})[value] = None
    labels = {key: ",".join(found) for key, found in values.items()}
    own = {
        "alertname": name,
        "monitor_id": event.alert_id.strip(),
        "priority": (event.alert_priority or event.priority).strip(),
        "host": event.hostname.strip(),
    }
    labels.update({k: v for k, v in own.items() if v})
    return labels


def _annotations(event: _Event, transition: str, scope: str) -> dict[str, str]:
    candidates = {
        "description": _clean_body(event.body),
        "title": event.title.strip(),
        "transition": transition,
        "scope": scope,
        "tags": ",".join(tag.strip() for tag in event.tags),
        "status": event.alert_status.strip(),
        "metric": event.alert_metric.strip(),
        "query": event.alert_query.strip(),
        "cycle_key": event.alert_cycle_key.strip(),
        "event_type": event.event_type.strip(),
    }
    return {k: v for k, v in candidates.items() if v}


def _clean_body(body: str) -> str:
    """Drop the ``%%%`` markdown fences Datadog wraps ``$EVENT_MSG`` in."""
    lines = [line for line in body.strip().splitlines() if line.strip() != "%%%"]
    return "\n".join(lines).strip()


def _links(event: _Event) -> dict[str, str]:
    """The event page, the graph snapshot, and the runbook / monitor links in the body."""
    links = {"event": event.link.strip(), "graph": event.snapshot.strip()}
    for match in _MARKDOWN_LINK.finditer(event.body):
        text = match["text"].lower()
        for needle, name in _BODY_LINKS:
            if needle in text and not links.get(name):
                links[name] = match["url"]
    return {name: url for name, url in links.items() if _is_web_url(url)}


def _is_web_url(url: str) -> bool:
    """Slack rejects a whole message (``invalid_blocks``) for a button URL it can't parse."""
    return url.startswith(("http://", "https://"))
