"""APScheduler: the heartbeat that fires due escalations and re-wakes the dispatcher.

The due times themselves live in the database (page deadlines, effect retry times), so
a restart loses nothing: the first tick after start-up picks up whatever came due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import service
from bot.dispatcher import Dispatcher
from bot.runtime import Runtime

log = logging.getLogger(__name__)

TICK_SECONDS = 2


async def tick(rt: Runtime, dispatcher: Dispatcher) -> None:
    for job in (_escalate_all_due, service.auto_resolve_due, service.housekeeping):
        try:
            await job(rt)
        except Exception:  # a database blip must not kill the heartbeat
            log.exception("scheduler: %s failed", job.__name__)
    dispatcher.wake()  # effects whose retry time has come


async def _escalate_all_due(rt: Runtime, rounds: int = 20) -> None:
    """Escalate everything due, not just one batch: a storm may leave thousands due at once."""
    for _ in range(rounds):
        if await service.escalate_due(rt, limit=ESCALATION_BATCH) < ESCALATION_BATCH:
            return


ESCALATION_BATCH = 100


STOP_WAIT = 5.0  # seconds stopping waits for a running tick before cancelling it
FINISHED = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED  # one of these per run


class Heartbeat:
    """The scheduler and its tick; stopping lets a running tick finish first.

    APScheduler's asyncio executor cancels a running job at shutdown and logs that as the
    job failing, with a traceback: every restart during a busy tick (a storm's
    escalations) would show operators an error for nothing. So ``stop`` pauses the
    schedule and waits a little for the running tick before shutting the scheduler down.
    A tick counts as running from its submission, before its task has started.
    """

    def __init__(self, beat: Callable[[], Awaitable[None]], every: float = TICK_SECONDS) -> None:
        self._beat = beat
        self._idle = asyncio.Event()
        self._idle.set()
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._tick, "interval", seconds=every, id="tick", max_instances=1, coalesce=True
        )
        self._scheduler.add_listener(lambda _: self._idle.clear(), EVENT_JOB_SUBMITTED)
        self._scheduler.add_listener(lambda _: self._idle.set(), FINISHED)

    def start(self) -> None:
        self._scheduler.start()

    async def _tick(self) -> None:
        # A coroutine function of its own: APScheduler runs any other callable in a thread.
        await self._beat()

    async def stop(self, wait: float = STOP_WAIT) -> None:
        self._scheduler.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait)
        self._scheduler.shutdown(wait=False)


def start(rt: Runtime, dispatcher: Dispatcher) -> Heartbeat:
    heartbeat = Heartbeat(functools.partial(tick, rt, dispatcher))
    heartbeat.start()
    return heartbeat
