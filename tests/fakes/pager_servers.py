"""Fake paging providers: real HTTP servers that check requests as each provider documents.

The point of a pager test is the contract, so each fake rejects what its provider would
reject, with the provider's own answer shape, and keeps the provider-side state that makes
paging idempotent (PagerDuty's open alert per ``dedup_key``, Opsgenie's open alert per
``alias``, the receiver's seen ``Idempotency-Key`` values):

* ``FakePagerDuty``: Events API v2 (``POST /v2/enqueue``), per PagerDuty's developer docs
  ("Send an Alert Event", "Events API v2 Overview").
* ``FakeOpsgenie``: Alert API (``POST /v2/alerts``, ``…/{identifier}/acknowledge``,
  ``…/{identifier}/close``, ``GET /v2/alerts/requests/{id}``), per docs.opsgenie.com.
* ``FakeWebhookReceiver``: a receiver of Warroom's signed webhook, verifying with
  ``bot.pagers.verify_webhook_signature``.

Where a provider's documentation is silent, the fakes are stricter (unknown fields are
rejected), so a typo in the client fails a test instead of being ignored in production.

    with FakePagerDuty() as pd:
        pd.fail_next(429)                # the next request is throttled
        ...
        assert pd.alert("warroom-inc1-page1").status == "acknowledged"
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.pagers import (
    ACTIONS,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_webhook_signature,
)
from tests.fakes.threaded import ThreadedFake

Json = dict[str, Any]
Answer = tuple[int, Json]


@dataclass(frozen=True, slots=True)
class Received:
    """One request a fake received, with its answer, for assertions."""

    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent, e.g. with %2F
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int
    response: Json

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class _Fault:
    status: int
    body: Json | None
    times: int
    stall: float = 0.0


class _FakeServer(ThreadedFake):
    """A ThreadingHTTPServer on 127.0.0.1:0 with a request log and fault injection."""

    provider: ClassVar[str] = "fake"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._faults: list[_Fault] = []
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()  # releases stalled handlers
        super().stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return self.origin

    # -- test helpers ------------------------------------------------------------------

    def fail_next(self, status: int, *, times: int = 1, body: Json | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and the provider's error
        shape, or ``body``), without looking at them or changing any state."""
        with self._lock:
            self._faults.append(_Fault(status, body, times))

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next requests ``seconds`` before answering normally (timeout tests)."""
        with self._lock:
            self._faults.append(_Fault(0, None, times, stall=seconds))

    def received(self, path: str | None = None) -> list[Received]:
        """Requests so far, optionally only those whose decoded path starts with ``path``."""
        with self._lock:
            return [r for r in self._received if path is None or r.path.startswith(path)]

    # -- request handling (server threads) ---------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.pop(0)
        if fault is not None and fault.stall:
            self._stopping.wait(fault.stall)
            fault = None
        if fault is not None:
            status, answer = fault.status, fault.body or self.error_body(fault.status)
        else:
            with self._lock:  # one request at a time: state changes are atomic
                status, answer = self.route(method, parts.path, query, headers, body)
        record = Received(method, path, parts.path, query, headers, body, status, answer)
        with self._lock:
            self._received.append(record)
        return status, answer

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        """Answer one request; ``path`` is as sent (still percent-encoded)."""
        raise NotImplementedError

    def error_body(self, status: int) -> Json:
        return {"error": f"injected HTTP {status}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake: _FakeServer = self.server.fake  # type: ignore[attr-defined]
        status, answer = fake.handle(method, self.path, headers, body)
        payload = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


_FakeServer.handler = _Handler


def _json_object(headers: dict[str, str], body: bytes) -> Json | str:
    """The request's JSON object, or why it is not one."""
    if headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return "Content-Type must be application/json"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        return f"body is not valid JSON ({err})"
    if not isinstance(document, dict):
        return "body must be a JSON object"
    return document


# --- PagerDuty ---------------------------------------------------------------------------

PD_SEVERITIES = ("critical", "error", "warning", "info")
_PD_TOP = {
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
}
_PD_PAYLOAD = {
    "summary",
    "timestamp",
    "source",
    "severity",
    "component",
    "group",
    "class",
    "custom_details",
}
_PD_MAX_BODY = 512 * 1024


@dataclass(slots=True)
class PagerDutyAlert:
    """An alert as PagerDuty keeps it: one per open ``dedup_key`` and routing key."""

    routing_key: str
    dedup_key: str
    status: str  # triggered | acknowledged | resolved
    payload: Json
    links: list[Json]
    triggers: int = 1
    log: list[str] = field(default_factory=lambda: ["trigger"])


class FakePagerDuty(_FakeServer):
    """Events API v2: validates events and keeps alerts by ``dedup_key``.

    Documented behaviour it reproduces: a trigger for a key with an open (triggered or
    acknowledged) alert is added to that alert; after a resolve the same key opens a new
    alert; acknowledge and resolve with no open alert are accepted and dropped; follow-ups
    apply only through the routing key of the original trigger.
    """

    provider = "PagerDuty"
    PATH = "/v2/enqueue"

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[PagerDutyAlert] = []
        self.dropped: list[Json] = []  # acknowledge/resolve events with no open alert

    @property
    def enqueue_url(self) -> str:
        return self.url + self.PATH

    def alert(self, dedup_key: str) -> PagerDutyAlert | None:
        """The newest alert with ``dedup_key``."""
        with self._lock:
            return next((a for a in reversed(self.alerts) if a.dedup_key == dedup_key), None)

    def error_body(self, status: int) -> Json:
        if status == 400:
            return _pd_invalid(["injected: Event object is invalid"])
        if status == 429:
            return {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. "
                "Please retry later.",
            }
        return {"status": "error", "message": f"injected HTTP {status}"}

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        if method != "POST" or path != self.PATH:
            return 404, {"status": "error", "message": "Not Found"}
        if len(body) > _PD_MAX_BODY:
            return 400, _pd_invalid(["Event object is larger than 512 KB"])
        event = _json_object(headers, body)
        if isinstance(event, str):
            return 400, _pd_invalid([event])
        errors = _pd_errors(event)
        if errors:
            return 400, _pd_invalid(errors)
        key = event.get("dedup_key") or uuid.uuid4().hex
        action = event["event_action"]
        open_alert = next(
            (
                a
                for a in reversed(self.alerts)
                if a.dedup_key == key
                and a.routing_key == event["routing_key"]
                and a.status != "resolved"
            ),
            None,
        )
        if action == "trigger":
            if open_alert is None:
                alert = PagerDutyAlert(
                    event["routing_key"], key, "triggered", event["payload"], event.get("links", [])
                )
                self.alerts.append(alert)
            else:
                open_alert.triggers += 1
                open_alert.log.append("trigger")
        elif open_alert is None:
            self.dropped.append(event)
        else:
            open_alert.status = "acknowledged" if action == "acknowledge" else "resolved"
            open_alert.log.append(action)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


def _pd_invalid(errors: list[str]) -> Json:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}


def _pd_errors(event: Json) -> list[str]:
    errors = [f"'{k}' is not a valid field" for k in sorted(set(event) - _PD_TOP)]
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > 255:
        errors.append("Length of 'dedup_key' is incorrect (should be at most 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors += _pd_payload_errors(event.get("payload"))
    links = event.get("links", [])
    if not isinstance(links, list) or not all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in links
    ):
        errors.append("'links' must be a list of objects with an 'href'")
    return errors


def _pd_payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or is not an object"]
    errors = [f"'payload.{k}' is not a valid field" for k in sorted(set(payload) - _PD_PAYLOAD)]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("Length of 'payload.summary' is incorrect (should be at most 1024)")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in PD_SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of critical, error, warning, info)"
        )
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
        errors.append("'payload.custom_details' must be an object")
    return errors


# --- Opsgenie ----------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_OG_CREATE = {
    "message": 130,
    "alias": 512,
    "description": 15_000,
    "entity": 512,
    "source": 100,
    "user": 100,
    "note": 25_000,
}
_OG_CREATE_OTHER = {"responders", "visibleTo", "actions", "tags", "details", "priority"}
_OG_ACTION = {"user": 100, "source": 100, "note": 25_000}
_OG_RESPONDER_KEYS = {
    "team": {"id", "name"},
    "user": {"id", "username"},
    "escalation": {"id", "name"},
    "schedule": {"id", "name"},
}
_OG_IDENTIFIER_TYPES = ("id", "alias", "tiny")


@dataclass(slots=True)
class OpsgenieAlert:
    """An alert as Opsgenie keeps it; ``count`` rises when a create is de-duplicated."""

    id: str
    tiny_id: str
    alias: str
    message: str
    priority: str
    request: Json  # the create request as received
    status: str = "open"  # open | closed
    acknowledged: bool = False
    count: int = 1
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OpsgenieRequest:
    """What ``GET /v2/alerts/requests/{id}`` reports: the outcome of an async request."""

    id: str
    action: str
    success: bool
    status: str
    alert_id: str | None
    alias: str | None


class FakeOpsgenie(_FakeServer):
    """The Alert API: ``GenieKey`` auth, documented field limits, alias de-duplication.

    Creating an alert whose alias matches an open alert raises its count instead of
    opening a second one; a closed alias gets a new alert. Acknowledge and close are
    processed asynchronously, as in Opsgenie: the HTTP answer is 202 either way, and an
    unknown alert shows up as a failed request in the request-status endpoint.
    """

    provider = "Opsgenie"

    def __init__(self, api_keys: Iterable[str] = ()) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.alerts: list[OpsgenieAlert] = []
        self.requests: dict[str, OpsgenieRequest] = {}
        self._tiny = itertools.count(1)

    def alert(self, alias: str) -> OpsgenieAlert | None:
        """The newest alert with ``alias``."""
        with self._lock:
            return next((a for a in reversed(self.alerts) if a.alias == alias), None)

    def error_body(self, status: int) -> Json:
        messages = {
            400: "Invalid request",
            422: "Request is not valid",
            429: "You are making too many requests! To avoid errors, we recommend you limit "
            "requests.",
        }
        return {
            "message": messages.get(status, "Internal Server Error"),
            "took": 0.001,
            "requestId": str(uuid.uuid4()),
        }

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        denied = self._authenticate(headers.get("authorization"))
        if denied is not None:
            return denied
        # Split before decoding: an alias may contain an encoded '/'.
        parts = [unquote(part) for part in path.removeprefix("/v2/alerts").split("/")]
        if method == "POST" and path == "/v2/alerts":
            return self._create(headers, body)
        if method == "GET" and len(parts) == 3 and parts[1] == "requests":
            return self._request_status(parts[2])
        if method == "POST" and len(parts) == 3 and parts[2] in ("acknowledge", "close"):
            return self._act(parts[2], parts[1], query, headers, body)
        return 404, _og_error("Resource not found")

    def _authenticate(self, authorization: str | None) -> Answer | None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme != "GenieKey" or not key:
            return 401, _og_error("Could not authenticate")
        if not _UUID.match(key):
            return 422, _og_error("Key format is not valid!")
        if key not in self.api_keys:
            return 401, _og_error("Could not authenticate")
        return None

    def _create(self, headers: dict[str, str], body: bytes) -> Answer:
        request = _json_object(headers, body)
        if isinstance(request, str):
            return 422, _og_error(request)
        problem = _og_create_problem(request)
        if problem:
            return 422, _og_error(problem)
        alias = request.get("alias") or str(uuid.uuid4())
        existing = next(
            (a for a in reversed(self.alerts) if a.alias == alias and a.status == "open"), None
        )
        if existing is not None:
            existing.count += 1
            alert, status = existing, "Alert is deduplicated"
        else:
            alert = OpsgenieAlert(
                id=str(uuid.uuid4()),
                tiny_id=str(next(self._tiny)),
                alias=alias,
                message=request["message"],
                priority=request.get("priority", "P3"),
                request=request,
            )
            self.alerts.append(alert)
            status = "Created alert"
        return self._accepted("Create", True, status, alert)

    def _act(
        self,
        verb: str,
        identifier: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        identifier_type = query.get("identifierType", "id")
        if identifier_type not in _OG_IDENTIFIER_TYPES:
            return 422, _og_error("identifierType must be one of id, alias, tiny")
        request: Json | str = {}
        if body:
            request = _json_object(headers, body)
            if isinstance(request, str):
                return 422, _og_error(request)
            problem = _og_limits(request, _OG_ACTION, set())
            if problem:
                return 422, _og_error(problem)
        field_name = {"id": "id", "alias": "alias", "tiny": "tiny_id"}[identifier_type]
        alert = next(
            (a for a in reversed(self.alerts) if getattr(a, field_name) == identifier), None
        )
        action = "Acknowledge" if verb == "acknowledge" else "Close"
        if alert is None or alert.status != "open":
            return self._accepted(action, False, "Alert does not exist", None, alias=identifier)
        if verb == "acknowledge":
            alert.acknowledged = True
        else:
            alert.status = "closed"
        if isinstance(request, dict) and request.get("note"):
            alert.notes.append(request["note"])
        done = "Acknowledged alert" if verb == "acknowledge" else "Closed alert"
        return self._accepted(action, True, done, alert)

    def _accepted(
        self,
        action: str,
        success: bool,
        status: str,
        alert: OpsgenieAlert | None,
        *,
        alias: str | None = None,
    ) -> Answer:
        request_id = str(uuid.uuid4())
        self.requests[request_id] = OpsgenieRequest(
            request_id,
            action,
            success,
            status,
            alert.id if alert else None,
            alert.alias if alert else alias,
        )
        return 202, {"result": "Request will be processed", "took": 0.01, "requestId": request_id}

    def _request_status(self, request_id: str) -> Answer:
        found = self.requests.get(request_id)
        if found is None:
            return 404, _og_error(f"Request with id [{request_id}] does not exist")
        data = {
            "success": found.success,
            "action": found.action,
            "status": found.status,
            "alertId": found.alert_id,
            "alias": found.alias,
            "isSuccess": found.success,
        }
        return 200, {"data": data, "took": 0.001, "requestId": str(uuid.uuid4())}


def _og_error(message: str) -> Json:
    return {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}


def _og_limits(request: Json, limits: dict[str, int], other: set[str]) -> str | None:
    for key in request:
        if key not in limits and key not in other:
            return f"Unrecognized field [{key}]"
    for key, limit in limits.items():
        value = request.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{key} must be a string"
        if len(value) > limit:
            return f"{key} can not be longer than {limit} characters"
    return None


def _og_create_problem(request: Json) -> str | None:
    problem = _og_limits(request, _OG_CREATE, _OG_CREATE_OTHER)
    if problem:
        return problem
    if not isinstance(request.get("message"), str) or not request["message"].strip():
        return "Message can not be empty."
    if request.get("priority", "P3") not in ("P1", "P2", "P3", "P4", "P5"):
        return "Priority should be one of [P1, P2, P3, P4, P5]"
    for key in ("responders", "visibleTo"):
        for item in request.get(key, []):
            if not isinstance(item, dict) or item.get("type") not in _OG_RESPONDER_KEYS:
                return f"{key} type must be one of team, user, escalation, schedule"
            identifiers = set(item) - {"type"}
            if not identifiers or not identifiers <= _OG_RESPONDER_KEYS[item["type"]]:
                return f"{key}: a {item['type']} needs one of " + ", ".join(
                    sorted(_OG_RESPONDER_KEYS[item["type"]])
                )
    tags = request.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 20:
        return "tags can have at most 20 items"
    if any(not isinstance(t, str) or len(t) > 50 for t in tags):
        return "a tag can not be longer than 50 characters"
    actions = request.get("actions", [])
    if not isinstance(actions, list) or len(actions) > 10:
        return "actions can have at most 10 items"
    details = request.get("details", {})
    if not isinstance(details, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in details.items()
    ):
        return "details must be a map of strings"
    if sum(len(k) + len(v) for k, v in details.items()) > 8000:
        return "details can not be longer than 8000 characters"
    return None


# --- webhook receiver --------------------------------------------------------------------

_EVENT_FIELDS = {
    "action",
    "dedup_key",
    "incident_number",
    "title",
    "severity",
    "role",
    "user",
    "summary",
    "channel_url",
    "source",
    "details",
    "sent_at",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted (first) delivery of a page event."""

    idempotency_key: str
    event: Json
    timestamp: int
    headers: dict[str, str]


class FakeWebhookReceiver(_FakeServer):
    """An SMS/phone gateway receiving Warroom's signed webhook.

    It does what a careful receiver should: verify the signature over the raw body and a
    fresh timestamp, check the event, and answer a repeated ``Idempotency-Key`` with
    success without acting on it again.
    """

    provider = "webhook"
    PATH = "/hooks/page"

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.secret = secret
        self.clock = clock
        self.deliveries: list[Delivery] = []
        self.duplicates: list[str] = []  # Idempotency-Keys seen again

    @property
    def hook_url(self) -> str:
        return self.url + self.PATH

    def actions(self, dedup_key: str) -> list[str]:
        """The actions delivered for one page, in order."""
        with self._lock:
            return [d.event["action"] for d in self.deliveries if d.event["dedup_key"] == dedup_key]

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        if method != "POST" or path != self.PATH:
            return 404, {"error": "not found"}
        timestamp = headers.get(TIMESTAMP_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        if not timestamp or not signature:
            return 401, {"error": "missing signature headers"}
        if not verify_webhook_signature(self.secret, timestamp, body, signature, now=self.clock()):
            return 401, {"error": "invalid or stale signature"}
        event = _json_object(headers, body)
        if isinstance(event, str):
            return 400, {"error": event}
        missing = _EVENT_FIELDS - set(event)
        extra = set(event) - _EVENT_FIELDS
        if missing or extra:
            return 400, {"error": f"missing {sorted(missing)}, unexpected {sorted(extra)}"}
        if event["action"] not in ACTIONS:
            return 400, {"error": f"unknown action {event['action']!r}"}
        key = headers.get(IDEMPOTENCY_HEADER.lower())
        if key != f"{event['dedup_key']}:{event['action']}":
            return 400, {"error": "Idempotency-Key must be <dedup_key>:<action>"}
        if any(d.idempotency_key == key for d in self.deliveries):
            self.duplicates.append(key)
            return 200, {"status": "duplicate"}
        self.deliveries.append(Delivery(key, event, int(timestamp), headers))
        return 200, {"status": "accepted"}
