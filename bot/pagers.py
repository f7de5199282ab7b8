"""Outbound pagers: PagerDuty, Opsgenie and a signed webhook, configured per role or person.

Slack is not enough to wake someone at 3 a.m.; teams already carry PagerDuty or Opsgenie
phones, or run an SMS/voice gateway. Each pager here follows its provider's documented
contract, so the provider's own de-duplication makes a page safe to send again:

* **PagerDuty Events API v2** dedupes by ``dedup_key``: a trigger for a key whose alert is
  still open is appended to that alert instead of opening a second one, and acknowledge
  and resolve act on the open alert (or are dropped when none is open).
* **Opsgenie** dedupes open alerts by ``alias``: creating an alert whose alias is already
  open only raises that alert's count, and acknowledge/close address it by alias.
* **The webhook** carries ``Idempotency-Key: <dedup_key>:<action>`` for the receiver to
  dedupe on, and an HMAC-SHA256 signature over timestamp and body so the receiver knows
  the page came from us and is not a replay (``verify_webhook_signature``).

``send`` makes exactly one attempt. Retries with backoff are the dispatcher's job: a
transport failure, 408, 429 or 5xx raises ``PagerUnavailable`` (retried), anything that can
never succeed raises ``PermanentError`` (dead-lettered). Because every provider dedupes,
a retry after a timeout whose request did arrive does not page twice.

Secrets never live in the YAML: ``*_env`` fields name environment variables. Their values
are scrubbed from every message and return value this module produces (a provider may
echo a key in an error), and the module logs nothing itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from bot.dispatcher import PermanentError

Action = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["sev1", "sev2", "sev3", "sev4"]
Priority = Literal["P1", "P2", "P3", "P4", "P5"]

ACTIONS: tuple[str, ...] = ("trigger", "acknowledge", "resolve")
SEVERITIES: tuple[str, ...] = ("sev1", "sev2", "sev3", "sev4")
TIMEOUT = 10.0  # seconds for one whole call: connect, send, and read the answer
MAX_DEDUP_KEY = 255  # PagerDuty's limit; Opsgenie allows 512 for an alias
MAX_RESPONSE = 65_536  # bytes of a provider's answer we read; answers are tiny

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
OPSGENIE_URLS: dict[str, str] = {
    "us": "https://api.opsgenie.com",
    "eu": "https://api.eu.opsgenie.com",
}
# PD-CEF severities; sev1 is the only one PagerDuty shows as critical.
PAGERDUTY_SEVERITY: dict[str, str] = {
    "sev1": "critical",
    "sev2": "error",
    "sev3": "warning",
    "sev4": "info",
}
DEFAULT_PRIORITIES: dict[str, str] = {"sev1": "P1", "sev2": "P2", "sev3": "P3", "sev4": "P4"}

# Documented field limits (PagerDuty developer docs; Opsgenie Alert API).
_PD_SUMMARY = 1024
_PD_DETAIL = 4096  # per custom_details value: keeps an event well under the 512 KB cap
_OG_MESSAGE = 130
_OG_ALIAS = 512
_OG_DESCRIPTION = 15_000
_OG_DETAILS = 8000  # characters over all details
_OG_SOURCE = 100
_OG_USER = 100
_OG_TAG = 50
_OG_NOTE = 25_000

SIGNATURE_HEADER = "X-Warroom-Signature"
TIMESTAMP_HEADER = "X-Warroom-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        IDEMPOTENCY_HEADER,
        "Content-Type",
        "Content-Length",
        "Host",
        "Authorization",
    )
)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PagerUnavailable(Exception):
    """The provider could not take the page now (network, 408, 429, 5xx): try again later.

    A plain ``Exception`` on purpose: the dispatcher retries those with backoff, and the
    provider's de-duplication makes the retry harmless.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# --- configuration -----------------------------------------------------------------------


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PydanticCustomError("url", "expected an http(s) URL, like https://host/path")
    return url


HttpUrl = Annotated[str, AfterValidator(_http_url)]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(name: str) -> str:
    # The value is not quoted back: what was pasted here is most likely the key itself,
    # and lint output ends up in CI logs.
    if not _ENV_NAME.match(name):
        raise PydanticCustomError(
            "env_name",
            "expected the NAME of the environment variable that holds the secret (like "
            "PAGERDUTY_ML_KEY), never the secret itself",
        )
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]


def _responders(responders: list[dict[str, str]]) -> list[dict[str, str]]:
    """Opsgenie's responder objects: a type and exactly one way to identify it."""
    allowed = {"team": ("id", "name"), "escalation": ("id", "name"), "schedule": ("id", "name")}
    allowed["user"] = ("id", "username")
    for number, responder in enumerate(responders):
        kind = responder.get("type")
        if kind not in allowed:
            raise PydanticCustomError(
                "responder",
                "responder {n}: type must be team, user, escalation or schedule",
                {"n": number},
            )
        keys = set(responder) - {"type"}
        if len(keys) != 1 or not keys <= set(allowed[kind]):
            raise PydanticCustomError(
                "responder",
                "responder {n}: a {kind} is given by exactly one of {keys}",
                {"n": number, "kind": kind, "keys": " or ".join(allowed[kind])},
            )
    return responders


def _static_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise PydanticCustomError(
                "header_name", "'{name}' is not a valid HTTP header name", {"name": name}
            )
        if name.lower() in _RESERVED_HEADERS:
            raise PydanticCustomError(
                "header_reserved",
                "header {name} is set by Warroom (signing and content); secrets belong in "
                "secret_env, never in the YAML",
                {"name": name},
            )
        if _CONTROL.search(value):
            raise PydanticCustomError(
                "header_value", "the value of header {name} has control characters", {"name": name}
            )
    return headers


class _PagerModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PagerDutyPager(_PagerModel):
    """An Events API v2 integration; its 32-character integration key is in an env var."""

    type: Literal["pagerduty"]
    routing_key_env: EnvName
    url: HttpUrl = PAGERDUTY_URL


class OpsgeniePager(_PagerModel):
    """An Opsgenie API integration; ``url`` overrides the region's base URL (proxies, tests)."""

    type: Literal["opsgenie"]
    api_key_env: EnvName
    region: Literal["us", "eu"] = "us"
    url: HttpUrl | None = None
    responders: Annotated[list[dict[str, str]], AfterValidator(_responders)] = []
    priority_map: dict[Severity, Priority] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    @property
    def base_url(self) -> str:
        return (self.url or OPSGENIE_URLS[self.region]).rstrip("/")


class WebhookPager(_PagerModel):
    """A signed POST for SMS or phone gateways; ``secret_env`` holds the HMAC key."""

    type: Literal["webhook"]
    url: HttpUrl
    secret_env: EnvName
    headers: Annotated[dict[str, str], AfterValidator(_static_headers)] = {}


def _pager_type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


Pager = Annotated[
    Annotated[PagerDutyPager, Tag("pagerduty")]
    | Annotated[OpsgeniePager, Tag("opsgenie")]
    | Annotated[WebhookPager, Tag("webhook")],
    # A callable discriminator, so a missing or misspelt type gets a readable message.
    Field(
        discriminator=Discriminator(
            _pager_type,
            custom_error_type="pager_type",
            custom_error_message="a pager needs 'type: pagerduty', 'type: opsgenie' or "
            "'type: webhook'",
        )
    ),
]
PagerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class PagersConfig(_PagerModel):
    """The on-call file's top-level ``pagers:`` block; roles and people refer to the names."""

    pagers: dict[PagerName, Pager] = {}


_PAGER_ADAPTER: TypeAdapter[PagerDutyPager | OpsgeniePager | WebhookPager] = TypeAdapter(Pager)
_MODELS: dict[str, type[BaseModel]] = {
    "pagerduty": PagerDutyPager,
    "opsgenie": OpsgeniePager,
    "webhook": WebhookPager,
}


def parse_pager(data: Mapping[str, Any] | PagerDutyPager | OpsgeniePager | WebhookPager) -> Pager:
    """One pager from its YAML or stored JSON form; raises ``ValidationError``."""
    if isinstance(data, PagerDutyPager | OpsgeniePager | WebhookPager):
        return data
    return _PAGER_ADAPTER.validate_python(dict(data))


def parse_pagers(data: Any) -> tuple[dict[str, Pager], list[str]]:
    """The valid pagers of a ``pagers:`` mapping, and one message per problem.

    A broken pager is reported and skipped; the others are kept, as the on-call loader does
    for roles, so one typo doesn't silence every pager. Messages read
    ``pagers.<name>.<field>: <what is wrong>``.
    """
    if data is None:
        return {}, []
    if not isinstance(data, Mapping):
        return {}, ["pagers: expected a mapping of pager names to pager settings"]
    pagers: dict[str, Pager] = {}
    problems: list[str] = []
    name_check: TypeAdapter[str] = TypeAdapter(PagerName)
    for name, raw in data.items():
        try:
            name_check.validate_python(name)
        except ValidationError:
            problems.append(
                f"pagers.{name}: a pager name uses letters, digits, '-', '_' and '.' only"
            )
            continue
        if not isinstance(raw, Mapping):
            problems.append(f"pagers.{name}: expected the pager's settings (type: …)")
            continue
        try:
            pagers[name] = parse_pager(raw)
        except ValidationError as err:
            for error in err.errors(include_url=False):
                loc = error["loc"]
                model = _MODELS.get(str(loc[0])) if loc else None
                if model is not None:  # the discriminator's tag, not a field
                    loc = loc[1:]
                message = error["msg"]
                if error["type"] == "extra_forbidden" and model is not None and len(loc) == 1:
                    valid = ", ".join(model.model_fields)
                    message = f"unknown field {loc[0]!r}; a {raw.get('type')} pager has {valid}"
                where = ".".join(["pagers", name, *map(str, loc)])
                problems.append(f"{where}: {message}")
    return pagers, problems


def missing_secrets(pagers: Mapping[str, Pager], env: Mapping[str, str] = os.environ) -> list[str]:
    """Pagers whose secret variable is unset or empty, for ``warroom playbooks lint``.

    Names the variable only, never a value.
    """
    return [
        f"pager {name!r}: environment variable {variable} is not set"
        for name, pager in pagers.items()
        if not env.get(variable := _secret_variable(pager), "").strip()
    ]


def _secret_variable(pager: Pager) -> str:
    if isinstance(pager, PagerDutyPager):
        return pager.routing_key_env
    if isinstance(pager, OpsgeniePager):
        return pager.api_key_env
    return pager.secret_env


# --- the event ---------------------------------------------------------------------------


def dedup_key_for(incident_number: int, page_id: int, *, prefix: str = "warroom") -> str:
    """The provider-side key of one page: stable across retries, unique across pages.

    Per page rather than per incident: PagerDuty and Opsgenie open a *new* alert for a key
    whose alert was resolved, and keep appending to an open one, so one key per incident
    would fold a second page of another role into the first. Give each deployment its own
    ``prefix`` when several share a routing key.
    """
    return f"{prefix}-inc{incident_number}-page{page_id}"


@dataclass(frozen=True)
class PageEvent:
    """What a pager is told: one page (one person, one role) and what happened to it."""

    action: Action
    dedup_key: str
    incident_number: int
    title: str
    severity: str
    role: str
    user: str | None
    summary: str
    channel_url: str | None
    source: str = "warroom"
    details: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, not at the provider: a bad event is our bug and must not be retried.
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be sev1 to sev4, not {self.severity!r}")
        if not self.dedup_key or len(self.dedup_key) > MAX_DEDUP_KEY:
            raise ValueError(f"dedup_key must have 1 to {MAX_DEDUP_KEY} characters")
        if _CONTROL.search(self.dedup_key):
            raise ValueError("dedup_key must not contain control characters")


# --- sending -----------------------------------------------------------------------------


async def send(
    pager: Pager,
    event: PageEvent,
    *,
    client: httpx.AsyncClient,
    env: Mapping[str, str] = os.environ,
    deadline: float = TIMEOUT,
) -> str:
    """Deliver one page event; returns a short account of the provider's answer.

    Raises ``PermanentError`` when the request can never succeed (missing secret, rejected
    event, bad key) and ``PagerUnavailable`` when a later retry may. Neither message, nor
    the return value, ever contains a secret. ``deadline`` bounds the whole call (seconds).
    """
    if isinstance(pager, PagerDutyPager):
        secret = _secret(env, pager.routing_key_env)
        request = _pagerduty_request(pager, event, secret)
    elif isinstance(pager, OpsgeniePager):
        secret = _secret(env, pager.api_key_env, header=True)
        request = _opsgenie_request(pager, event, secret)
    else:
        secret = _secret(env, pager.secret_env)
        request = _webhook_request(pager, event, secret)
    try:
        response = await _post(client, request, deadline)
        return _scrub(request.judge(response), secret)
    except (PermanentError, PagerUnavailable) as err:
        status = getattr(err, "status", None)
        message = _scrub(str(err), secret)
        if isinstance(err, PermanentError):
            raise PermanentError(message) from None
        raise PagerUnavailable(message, status=status) from None


def _secret(env: Mapping[str, str], variable: str, *, header: bool = False) -> str:
    value = env.get(variable)
    if value is None:
        raise PermanentError(f"environment variable {variable} is not set")
    value = value.strip()  # a key pasted from a file often ends in a newline
    if not value:
        raise PermanentError(f"environment variable {variable} is empty")
    if header and (_CONTROL.search(value) or not value.isascii()):
        # httpx would quote the value in its error message; name the variable instead.
        raise PermanentError(f"environment variable {variable} is not a valid header value")
    return value


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    @property
    def gist(self) -> str:
        text = " ".join(self.body.decode("utf-8", "replace").split())
        return text if len(text) <= 200 else text[:199] + "…"


@dataclass(frozen=True)
class _Request:
    """One HTTP call and how to read its answer (``judge`` returns or raises)."""

    provider: str
    url: str
    headers: dict[str, str]
    body: bytes
    judge: Callable[[_Response], str]


async def _post(client: httpx.AsyncClient, request: _Request, deadline: float) -> _Response:
    """One POST under one deadline; redirects are not followed (they would carry the key)."""
    where = f"{request.provider} at {_origin(request.url)}"
    try:
        # One deadline over connect, send and read: a server dripping bytes satisfies every
        # per-read timeout httpx has, but not this.
        async with asyncio.timeout(deadline):
            async with client.stream(
                "POST",
                request.url,
                headers=request.headers,
                content=request.body,
                timeout=deadline,
                follow_redirects=False,
            ) as response:
                body = await _read_limited(response)
                return _Response(response.status_code, body)
    except (TimeoutError, httpx.TimeoutException):
        raise PagerUnavailable(f"{where} did not answer within {deadline:g}s") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
        raise PermanentError(f"invalid URL for {where}: {type(err).__name__}") from None
    except httpx.TransportError as err:
        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(err)) or type(err).__name__
        raise PagerUnavailable(f"cannot reach {where}: {reason}") from None
    except httpx.HTTPError as err:  # e.g. an undecodable answer: worth another try
        raise PagerUnavailable(f"request to {where} failed: {type(err).__name__}") from None


async def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE:
            break  # the status is what matters; a huge answer is not worth reading
        chunks.append(chunk)
    return b"".join(chunks)


def _classify(provider: str, response: _Response, detail: str) -> None:
    """Raise for any answer that is not success, by the retry rules the providers document."""
    status = response.status
    if status == 408 or status == 429 or status >= 500:
        raise PagerUnavailable(f"{provider} answered HTTP {status}{detail}", status=status)
    if 300 <= status < 400:
        raise PermanentError(
            f"{provider} answered HTTP {status}, a redirect (not followed, as it would "
            "carry the key elsewhere); check the URL"
        )
    if not 200 <= status < 300:
        raise PermanentError(f"{provider} rejected the request: HTTP {status}{detail}")


# --- PagerDuty ---------------------------------------------------------------------------


def _pagerduty_request(pager: PagerDutyPager, event: PageEvent, key: str) -> _Request:
    body: dict[str, Any] = {
        "routing_key": key,
        "event_action": event.action,
        "dedup_key": event.dedup_key,
    }
    if event.action == "trigger":
        # Acknowledge and resolve carry only the three keys: PagerDuty ignores the rest.
        details = {
            "incident": str(event.incident_number),
            "role": event.role,
            "severity": event.severity,
            "summary": event.summary,
            **({"user": event.user} if event.user else {}),
            **({"channel": event.channel_url} if event.channel_url else {}),
            **event.details,
        }
        body["payload"] = {
            "summary": _clip(
                f"{event.severity.upper()} #{event.incident_number} {event.title} ({event.role})",
                _PD_SUMMARY,
            ),
            "source": event.source,
            "severity": PAGERDUTY_SEVERITY[event.severity],
            "component": event.role,
            "group": f"incident-{event.incident_number}",
            "class": "warroom page",
            "custom_details": {k: _clip(v, _PD_DETAIL) for k, v in details.items()},
        }
        if event.channel_url:
            body["links"] = [{"href": event.channel_url, "text": "Incident channel"}]
        body["client"] = "Warroom"

    def judge(response: _Response) -> str:
        answer = response.json()
        answer = answer if isinstance(answer, dict) else {}
        if response.status == 400:
            errors = answer.get("errors")
            listed = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else ""
            reason = listed or answer.get("message") or response.gist or "no reason given"
            raise PermanentError(f"PagerDuty rejected the {event.action}: {reason}")
        _classify("PagerDuty", response, f": {response.gist}" if response.gist else "")
        message = answer.get("message") or answer.get("status") or f"HTTP {response.status}"
        return f"PagerDuty accepted {event.action} for {event.dedup_key} ({message})"

    return _Request("PagerDuty", pager.url, _JSON, _dumps(body), judge)


_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


# --- Opsgenie ----------------------------------------------------------------------------


def _opsgenie_request(pager: OpsgeniePager, event: PageEvent, key: str) -> _Request:
    alias = _clip(event.dedup_key, _OG_ALIAS)
    headers = {**_JSON, "Authorization": f"GenieKey {key}"}
    base = f"{pager.base_url}/v2/alerts"
    source = _clip(event.source, _OG_SOURCE)
    verb = {"trigger": "create", "acknowledge": "acknowledge", "resolve": "close"}[event.action]
    if event.action == "trigger":
        url = base
        description = event.summary
        if event.channel_url:
            description += f"\n\nIncident channel: {event.channel_url}"
        details = {
            "incident": str(event.incident_number),
            "role": event.role,
            "severity": event.severity,
            **({"user": event.user} if event.user else {}),
            **({"channel": event.channel_url} if event.channel_url else {}),
            **event.details,
        }
        body: dict[str, Any] = {
            "message": _clip(f"#{event.incident_number} {event.title}", _OG_MESSAGE),
            "alias": alias,
            "description": _clip(description, _OG_DESCRIPTION),
            "responders": list(pager.responders),
            "priority": pager.priority_map.get(event.severity, DEFAULT_PRIORITIES[event.severity]),
            "details": _fit(details, _OG_DETAILS),
            "entity": f"incident #{event.incident_number}",
            "source": source,
            "tags": [_clip(t, _OG_TAG) for t in ("warroom", event.severity, event.role)],
        }
    else:
        # Ack and close address the alert by alias; Opsgenie's default identifier is the id.
        url = f"{base}/{quote(alias, safe='')}/{verb}?identifierType=alias"
        who = f" by {event.user}" if event.user else ""
        done = "Acknowledged" if event.action == "acknowledge" else "Resolved"
        body = {"source": source, "note": _clip(f"{done} in Warroom{who}", _OG_NOTE)}
        if event.user:
            body["user"] = _clip(event.user, _OG_USER)

    def judge(response: _Response) -> str:
        answer = response.json()
        answer = answer if isinstance(answer, dict) else {}
        reason = answer.get("message") or response.gist
        detail = f": {reason}" if reason else ""
        if response.status == 404 and event.action != "trigger":
            # Nothing open under this alias: the state we wanted already holds.
            return f"Opsgenie has no alert {alias} to {verb}{detail}"
        _classify("Opsgenie", response, detail)
        request_id = answer.get("requestId")
        tail = f" (request {request_id})" if request_id else ""
        return f"Opsgenie accepted {verb} of alert {alias}{tail}"

    return _Request("Opsgenie", url, headers, _dumps(body), judge)


# --- signed webhook ----------------------------------------------------------------------


def _webhook_request(pager: WebhookPager, event: PageEvent, secret: str) -> _Request:
    now = time.time()
    document = {
        **asdict(event),
        "sent_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
    }
    body = _dumps(document)
    timestamp = str(int(now))
    headers = {
        **pager.headers,
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign_webhook(secret, timestamp, body),
        IDEMPOTENCY_HEADER: f"{event.dedup_key}:{event.action}",
    }
    where = f"webhook at {_origin(pager.url)}"

    def judge(response: _Response) -> str:
        _classify(where, response, f": {response.gist}" if response.gist else "")
        return f"{where} answered HTTP {response.status} to {event.action} of {event.dedup_key}"

    return _Request("webhook", pager.url, headers, body, judge)


def sign_webhook(secret: str | bytes, timestamp: str, body: bytes | str) -> str:
    """``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``.

    The timestamp is inside the signed text so a captured request cannot be replayed later
    with a fresh timestamp header.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(key, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes | str,
    signature: str,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """Whether a webhook delivery is ours and fresh: for receivers of ``WebhookPager``.

    Checks the raw body bytes as received (re-encoding JSON changes them), rejects a
    timestamp more than ``tolerance`` seconds from ``now`` in either direction (replays,
    badly skewed clocks), and compares in constant time.
    """
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - sent) > tolerance:
        return False
    if not isinstance(signature, str) or not signature.startswith("sha256="):
        return False
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), signature)


# --- small helpers -----------------------------------------------------------------------


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(details: Mapping[str, str], budget: int) -> dict[str, str]:
    """Keep a string map within a total character budget, first entries first."""
    fitted: dict[str, str] = {}
    for key, value in details.items():
        room = budget - len(key)
        if room <= 1:
            break
        fitted[key] = _clip(str(value), room)
        budget -= len(key) + len(fitted[key])
    return fitted


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _origin(url: str) -> str:
    """Host and port only: a webhook URL's path or query may itself be a credential."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or "the configured URL"
    except ValueError:
        return "the configured URL"
