"""The real Warroom app plus one ceiling route, for ``bench/ingest.py``.

Serve it with ``python -m uvicorn --factory bench.server:build`` (or
``uvicorn bench.server:app``). It is ``create_app`` in console mode exactly as
``warroom serve`` builds it, except that console output is discarded: printing every
Slack call would make the benchmark measure the terminal, not the bot.

``POST /bench/noop`` does the edge work of ``POST /alerts/alertmanager`` (token check,
bounded body read, JSON decoding, Alertmanager parsing) and stops where intake would
start. Its throughput is the ceiling this server can reach on this machine; the gap
between it and the real route is what the database work costs. The route is added here,
on the benchmark's app only, so the production app never serves it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.app import create_app
from bot.settings import Settings
from bot.slack_gateway import ConsoleSlack
from handlers.alerts import BodyTooLarge, authorized, read_body
from handlers.parsers import PARSERS, PayloadError

NOOP_PATH = "/bench/noop"


def _discard(_line: str) -> None:
    """Console-mode output sink: the effects are still rendered and delivered, not printed."""


def build(settings: Settings | None = None) -> FastAPI:
    """The production app (settings from the environment) with the ceiling route added."""
    app = create_app(settings or Settings(), transport=ConsoleSlack(write=_discard))
    parse = PARSERS["alertmanager"]

    @app.post(NOOP_PATH)
    async def noop(request: Request) -> JSONResponse:
        # Same order and same failures as handlers.alerts.receive_alerts, so a ceiling run
        # with a wrong token or a broken payload fails as loudly as the real route would.
        if not authorized(request, request.app.state.webhook_token):
            return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        try:
            parse(json.loads(await read_body(request)))
        except BodyTooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        except (UnicodeDecodeError, json.JSONDecodeError, PayloadError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    return app


def __getattr__(name: str) -> Any:
    """``bench.server:app`` for plain ``uvicorn``: built on first access, not on import.

    Building reads the environment and loads playbooks, so importing this module (for
    ``NOOP_PATH``, say) must not do it.
    """
    if name == "app":
        app = build()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
