"""The real Warroom app plus one ceiling route, for ``bench/ingest.py``.

Serve it with ``python -m uvicorn --factory bench.server:build`` (or
``uvicorn bench.server:app``). It is ``create_app`` in console mode exactly as
``warroom serve`` builds it, except that console output is discarded: printing every
Slack call would make the benchmark measure the terminal, not the bot.

``POST /bench/noop`` does the edge work of ``POST /alerts/alertmanager`` (token check,
bounded body read, strict JSON decoding, Alertmanager parsing) and stops where intake would
start. Its throughput is the ceiling this server can reach on this machine; the gap
between it and the real route is what the database work costs. The route is added here,
on the benchmark's app only, so the production app never serves it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.app import create_app
from bot.settings import Settings
from bot.slack_gateway import ConsoleSlack
from handlers.alerts import Rejected, authorized, parse_json, read_body
from handlers.parsers import PayloadError

NOOP_PATH = "/bench/noop"
SOURCE = "alertmanager"


def _discard(_line: str) -> None:
    """Console-mode output sink: the effects are still rendered and delivered, not printed."""


def build(settings: Settings | None = None) -> FastAPI:
    """The production app (settings from the environment) with the ceiling route added."""
    app = create_app(settings or Settings(), transport=ConsoleSlack(write=_discard))

    @app.post(NOOP_PATH)
    async def noop(request: Request) -> JSONResponse:
        # The steps of handlers.alerts.receive_alerts up to intake, with the same helpers
        # and the same Rejected errors (rendered by the app's handler), so the ceiling
        # pays for exactly the edge work the real route does.
        parser = request.app.state.sources.parsers[SOURCE]
        if not authorized(request, request.app.state.webhook_token):
            raise Rejected(401, "missing or wrong token")
        body = await read_body(request)
        try:
            parser(parse_json(body))
        except PayloadError as exc:
            raise Rejected(400, f"invalid {SOURCE} payload: {exc}") from None
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
