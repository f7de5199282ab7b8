"""HTTP edge for monitoring: ``POST /alerts/{source}``.

Authenticates the sender, bounds and parses the body with that source's parser, and
hands the normalised alerts to intake in one call. It answers only after the alerts are
committed (so a 2xx means "stored") and never waits on Slack. Status codes follow what
senders do with them: Alertmanager retries 5xx but not 4xx, so a malformed payload gets
a 4xx (retrying cannot fix it) and an unreachable database gets a 503 (it can).
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot import service
from bot.runtime import Runtime
from handlers.parsers import PARSERS, PayloadError

log = logging.getLogger(__name__)
router = APIRouter()

MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def authorized(request: Request, expected: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    given = (
        credentials.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
    )
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """Read at most ``limit`` bytes, refusing early on a declared or actual larger body."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


@router.post("/alerts/{source}")
async def receive_alerts(source: str, request: Request) -> JSONResponse:
    rt: Runtime = request.app.state.runtime
    parser = PARSERS.get(source)
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        return _error(404, f"unknown alert source {source!r}; known sources: {known}")
    if not authorized(request, request.app.state.webhook_token):
        return _error(
            401, "missing or wrong token: send 'Authorization: Bearer <token>' or ?token="
        )
    try:
        payload = json.loads(await read_body(request))
        alerts = parser(payload)
    except BodyTooLarge:
        return _error(413, f"body is larger than {MAX_BODY} bytes")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    except PayloadError as exc:
        return _error(400, f"invalid {source} payload: {exc}")
    try:
        result = await service.ingest_alerts(rt, alerts)
    except (SQLAlchemyError, OSError):  # asyncpg raises a bare OSError when it cannot connect
        log.exception("intake failed")
        return _error(503, "database unavailable; retry later")
    return JSONResponse(result.as_dict())
