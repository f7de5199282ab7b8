"""APScheduler: the heartbeat that fires due escalations and re-wakes the dispatcher.

The due times themselves live in the database (page deadlines, effect retry times), so
a restart loses nothing: the first tick after start-up picks up whatever came due.
"""

from __future__ import annotations

import logging

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


def start(rt: Runtime, dispatcher: Dispatcher) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        "interval",
        seconds=TICK_SECONDS,
        args=[rt, dispatcher],
        id="tick",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
