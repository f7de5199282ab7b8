"""``GET /healthz``: 200 when the database answers, 503 otherwise (for load balancers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    try:
        await runtime.db.ping()
    except Exception as exc:  # any failure to answer means unhealthy, whatever its type
        return JSONResponse({"status": "error", "database": str(exc)[:200]}, status_code=503)
    mode = "console" if runtime.settings.console_mode else "slack"
    return JSONResponse({"status": "ok", "database": "ok", "mode": mode})
