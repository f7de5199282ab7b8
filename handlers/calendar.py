"""``GET /oncall/{role}.ics?token=…``: a role's shifts as a calendar feed to subscribe to.

Calendar apps cannot send headers, so the token comes in the query string; it is the
per-role token from ``bot.calendar.feed_token``, never the webhook token itself.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from bot.calendar import calendar_shifts, render_ics, verify_feed_token
from bot.errors import UserError
from bot.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()

# Apps poll far less often than this; it only spares the database a burst of reloads.
MAX_AGE = 300


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.get("/oncall/{role}.ics")
async def oncall_calendar(role: str, request: Request, token: str = "") -> Response:
    rt: Runtime = request.app.state.runtime
    if role not in rt.config.oncall.roles:
        known = ", ".join(sorted(rt.config.oncall.roles)) or "none"
        return _error(404, f"unknown role {role!r}; known roles: {known}")
    if not verify_feed_token(request.app.state.webhook_token, role, token):
        return _error(401, "missing or wrong token: use the calendar URL Warroom gave you")
    now = rt.clock()
    try:
        found_role, found = await calendar_shifts(rt, role, now=now)
    except UserError as exc:  # the role went away in a reload since the check above
        return _error(404, str(exc))
    except (SQLAlchemyError, OSError):  # asyncpg raises a bare OSError when it cannot connect
        log.exception("calendar: could not read overrides")
        return _error(503, "database unavailable; retry later")
    return Response(
        render_ics(role, found_role, found, now=now),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": f"max-age={MAX_AGE}"},
    )
