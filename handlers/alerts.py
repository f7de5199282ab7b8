"""HTTP edge for monitoring: ``POST /alerts/{source}`` and the sender-specific routes.

Each route authenticates the sender, bounds and parses the body with that source's
parser, and hands the normalised alerts to intake in one call. It answers only after the
alerts are committed (so a 2xx means "stored") and never waits on Slack. Status codes
follow what senders do with them: Alertmanager and Datadog retry 5xx but not 4xx, so a
malformed payload gets a 4xx (retrying cannot fix it) and an unreachable database, or
SNS's signing certificate out of reach, a 503 (it can).
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot import service
from bot.alerts import NormalizedAlert
from bot.config import Problem
from bot.runtime import Runtime
from handlers import sns_signature
from handlers.parsers import (
    PARSERS,
    Parser,
    PayloadError,
    cloudwatch,
    generic,
    grafana,
    pagerduty,
    strict_json,
    with_generic,
)

log = logging.getLogger(__name__)
router = APIRouter()

MAX_BODY = 1024 * 1024


class Rejected(Exception):
    """The request is refused with this status and message; nothing was stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _given_token(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return (
        credentials.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
    )


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def authorized(request: Request, expected: str) -> bool:
    return _same(_given_token(request), expected)


def _require_token(request: Request, *, also: str = "") -> None:
    """The webhook token, as a Bearer header or ``?token=``; ``also`` is a sender's own field."""
    expected = request.app.state.webhook_token
    if not (authorized(request, expected) or _same(also, expected)):
        raise Rejected(
            401, "missing or wrong token: send 'Authorization: Bearer <token>' or ?token="
        )


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """Read at most ``limit`` bytes, refusing early on a declared or actual larger body."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> Rejected:
    return Rejected(413, f"body is larger than {limit} bytes")


def parse_json(body: bytes) -> Any:
    try:
        return strict_json.loads(body)
    except ValueError as exc:  # also bad UTF-8 and numbers too long to read
        raise Rejected(400, f"body is not valid JSON: {str(exc)[:200]}") from None


async def _ingest(request: Request, alerts: list[NormalizedAlert]) -> dict[str, Any]:
    try:
        result = await request.app.state.intake.submit(alerts)
    except (SQLAlchemyError, OSError):  # asyncpg raises a bare OSError when it cannot connect
        log.exception("intake failed")
        raise Rejected(503, "database unavailable; retry later") from None
    return result.as_dict()


class Sources:
    """The parser for each ``/alerts/{source}``: the built-in ones plus ``WARROOM_SOURCES``.

    Kept at the edge (parsers are edges) and rebuilt when the runtime reloads its config.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parsers: dict[str, Parser] = dict(PARSERS)

    def reload(self) -> list[Problem]:
        if not self.path.is_file():  # the file is optional: no generic sources configured
            self.parsers = dict(PARSERS)
            return []
        sources, problems = generic.load_sources(self.path)
        self.parsers, refused = with_generic(sources)
        return [Problem(str(self.path), None, "", line) for line in [*problems, *refused]]


async def rejected(request: Request, exc: Exception) -> JSONResponse:
    """The app's handler for ``Rejected``: a 4xx/503 with a message, never a 500."""
    assert isinstance(exc, Rejected)
    return _error(exc.status, exc.message)


@router.post("/alerts/pagerduty/v2/enqueue")
async def pagerduty_enqueue(request: Request) -> JSONResponse:
    """PagerDuty's Events API v2, so anything that can page PagerDuty can page Warroom."""
    payload = parse_json(await read_body(request, 512 * 1024))
    _require_token(request, also=pagerduty.routing_key_of(payload))
    try:
        alert, dedup_key = pagerduty.parse_event(payload)
    except PayloadError as exc:
        body = {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": [str(exc)],
        }
        return JSONResponse(body, status_code=400)
    await _ingest(request, [alert])
    body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    return JSONResponse(body, status_code=202)


@router.post("/alerts/cloudwatch")
async def cloudwatch_sns(request: Request) -> JSONResponse:
    """Amazon SNS: JSON sent as text/plain; a new subscription must be confirmed first."""
    _require_token(request)
    payload = parse_json(await read_body(request))
    try:
        envelope = _sns_envelope(request, payload)
        await _check_sns_signature(request, payload, envelope)
        confirm = cloudwatch.subscription_confirm_url(envelope) if envelope else None
        alerts = [] if confirm else cloudwatch.parse(payload)
    except PayloadError as exc:
        raise Rejected(400, f"invalid cloudwatch payload: {exc}") from None
    rt: Runtime = request.app.state.runtime
    if confirm and envelope:
        await service.confirm_subscription(rt, confirm, envelope.topic_arn)
        return JSONResponse({"subscription": "confirming"})
    return JSONResponse(await _ingest(request, alerts))


def _sns_envelope(request: Request, payload: Any) -> cloudwatch.SnsEnvelope | None:
    """The SNS envelope; None for "raw message delivery", where the body is the alarm."""
    if isinstance(payload, dict) and "Type" not in payload:
        return None
    envelope = cloudwatch.parse_envelope(payload)
    declared = request.headers.get(cloudwatch.MESSAGE_TYPE_HEADER)
    if declared and declared != envelope.type:
        header = cloudwatch.MESSAGE_TYPE_HEADER
        raise PayloadError(f"{header} says {declared!r}, the body says {envelope.type!r}")
    return envelope


async def _check_sns_signature(
    request: Request, payload: Any, envelope: cloudwatch.SnsEnvelope | None
) -> None:
    rt: Runtime = request.app.state.runtime
    if not rt.settings.sns_verify_signatures:
        return
    if envelope is None:
        raise Rejected(401, "SNS signature: raw message delivery is not signed; turn it off")
    try:
        await request.app.state.sns_signatures.verify(payload, envelope)
    except sns_signature.Unverified as exc:
        raise Rejected(401, f"SNS signature: {exc}") from None
    except sns_signature.CertificateUnavailable as exc:
        raise Rejected(503, f"SNS signature cannot be checked now: {exc}") from None


def _check_grafana_signature(rt: Runtime, request: Request, body: bytes) -> None:
    settings = rt.settings
    if settings.grafana_secret is None:
        return
    signature = settings.grafana_signature_header or grafana.SIGNATURE_HEADER
    timestamp = settings.grafana_timestamp_header or grafana.TIMESTAMP_HEADER
    if not grafana.verify_signature(
        body,
        request.headers,
        settings.grafana_secret,
        signature_header=signature,
        timestamp_header=timestamp,
    ):
        raise Rejected(
            401,
            f"missing or wrong {signature}: the hex HMAC-SHA256 of the body, or of"
            f" '<timestamp>:<body>' with the timestamp in {timestamp}"
            " (WARROOM_GRAFANA_SIGNATURE_HEADER and WARROOM_GRAFANA_TIMESTAMP_HEADER"
            " must name the headers set on the Grafana contact point)",
        )


@router.post("/alerts/{source}")
async def receive_alerts(source: str, request: Request) -> JSONResponse:
    rt: Runtime = request.app.state.runtime
    parsers = request.app.state.sources.parsers
    parser = parsers.get(source)
    if parser is None:
        known = ", ".join(sorted(parsers))
        raise Rejected(404, f"unknown alert source {source!r}; known sources: {known}")
    _require_token(request)
    body = await read_body(request)
    if source == grafana.SOURCE:
        _check_grafana_signature(rt, request, body)
    try:
        alerts = parser(parse_json(body))
    except PayloadError as exc:
        raise Rejected(400, f"invalid {source} payload: {exc}") from None
    return JSONResponse(await _ingest(request, alerts))
