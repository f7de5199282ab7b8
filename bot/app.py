"""The composition root: builds the runtime, the dispatcher and the web app.

Everything that talks to the outside world is chosen here once (Slack or console,
Socket Mode or HTTP), so the rest of the code never checks which mode it runs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot import scheduler, service, subscriptions
from bot.check_runner import CheckRunner
from bot.clock import Clock, utcnow
from bot.db import Database
from bot.dispatcher import Deliver, Dispatcher, Router
from bot.effects import EffectKind
from bot.intake_queue import IntakeQueue
from bot.leadership import Leadership
from bot.pacing import Pacer
from bot.pager_delivery import PagerDelivery
from bot.runtime import LoadedConfig, Runtime
from bot.settings import Settings
from bot.slack_gateway import (
    ConsoleSlack,
    SlackGateway,
    SlackTransport,
    SlackWebTransport,
    web_client,
)
from handlers import alerts, calendar, health
from handlers.sns_signature import SnsSignatures

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utcnow,
    transport: SlackTransport | None = None,
    run_scheduler: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    rt = Runtime(settings, Database(settings.database_url), LoadedConfig.load(settings), clock)
    client = (
        web_client(settings.slack_bot_token, settings.slack_api_url)
        if settings.slack_bot_token
        else None
    )
    if transport is None:
        transport = SlackWebTransport(client) if client else ConsoleSlack()
    checks = CheckRunner(rt, httpx.AsyncClient(follow_redirects=False))
    pacer = Pacer(clock)  # Slack's rate limits, shared by every Slack call of this process
    gateway = SlackGateway(rt, transport, checks.client, pacer)
    routes: dict[str, Deliver] = {kind: gateway.deliver for kind in gateway.kinds}
    routes[EffectKind.RUN_CHECK] = lambda effect: checks.run(effect.payload)
    routes[EffectKind.NOTIFY_PAGER] = PagerDelivery(rt, checks.client).deliver
    routes[EffectKind.CONFIRM_SUBSCRIPTION] = lambda effect: subscriptions.confirm(
        checks.client, effect.payload
    )
    dispatcher = Dispatcher(rt.db, Router(routes), clock=clock, leadership=Leadership(rt.db))
    rt.after_commit = dispatcher.wake
    for problem in rt.config.problems:
        log.warning("config: %s", problem)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.db.upgrade()
        app.state.webhook_token = await _webhook_token(rt)
        jobs = scheduler.start(rt, dispatcher) if run_scheduler else None
        socket = await _connect_socket_mode(app, settings)
        _reload_on_sighup(rt)
        dispatcher.wake()  # deliver what a previous run left undelivered
        _freeze_startup_objects()
        try:
            yield
        finally:
            if socket is not None:
                await socket.close_async()
            if jobs is not None:
                await jobs.stop()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            dispatcher.close()
            await dispatcher.idle()
            if dispatcher.leadership is not None:
                await dispatcher.leadership.release()  # another replica may deliver now
            await checks.client.aclose()
            await rt.db.dispose()

    app = FastAPI(title="Warroom", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    app.state.sources = alerts.Sources(settings.sources_file)
    rt.reload_hooks.append(app.state.sources.reload)
    for problem in app.state.sources.reload():
        log.warning("config: %s", problem)
    app.state.dispatcher = dispatcher
    app.state.pacer = pacer
    app.state.intake = IntakeQueue(rt)
    app.state.sns_signatures = SnsSignatures(checks.client)
    app.include_router(health.router)
    app.include_router(alerts.router)
    app.include_router(calendar.router)
    app.add_exception_handler(alerts.Rejected, alerts.rejected)
    _mount_slack(app, rt, settings, client)
    return app


@functools.cache  # once per process: what a later app (in tests) freezes would never be freed
def _freeze_startup_objects() -> None:
    """Leave what startup loaded (modules, the ORM's mappers, playbooks) out of later full
    garbage collections. They live as long as the process, yet each full collection,
    several of which run during an alert storm, scanned them all again."""
    gc.collect()
    gc.freeze()


def _mount_slack(app: FastAPI, rt: Runtime, settings: Settings, client: Any) -> None:
    """HTTP mode needs the signing secret; Socket Mode needs only the app token."""
    if client is not None and (settings.slack_signing_secret or settings.slack_app_token):
        from handlers.slack import build_app

        app.state.bolt = build_app(rt, client, settings.slack_signing_secret)
    if client is None or settings.slack_signing_secret is None:
        reason = "no SLACK_BOT_TOKEN" if client is None else "no SLACK_SIGNING_SECRET"

        @app.post("/slack/events")
        async def slack_disabled() -> Response:
            return JSONResponse({"error": f"Slack HTTP mode is off ({reason})"}, status_code=404)

        return
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

    handler = AsyncSlackRequestHandler(app.state.bolt)

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)


def _reload_on_sighup(rt: Runtime) -> None:
    """``kill -HUP`` re-reads playbooks and on-call, as daemons conventionally do."""
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, rt.reload_config)


async def _webhook_token(rt: Runtime) -> str:
    token, generated = await service.webhook_token(rt)
    if generated:
        url = f"http://<this-host>:{rt.settings.port}/alerts/alertmanager?token={token}"
        print(f"Warroom generated a webhook token (shown once). Alertmanager webhook URL:\n  {url}")
    return token


async def _connect_socket_mode(app: FastAPI, settings: Settings) -> Any:
    bolt = getattr(app.state, "bolt", None)
    if settings.slack_app_token is None or bolt is None:
        return None
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
    await handler.connect_async()
    return handler
