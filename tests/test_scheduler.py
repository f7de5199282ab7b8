"""The heartbeat's shutdown: a running tick finishes instead of being cancelled mid-way."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.scheduler import Heartbeat

EVERY = 0.05  # seconds between ticks: the tests wait for the first one


class Beat:
    """A tick that runs until released, noting how it ended."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def __call__(self) -> None:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.finished.set()


async def running(beat: Beat) -> Heartbeat:
    heartbeat = Heartbeat(beat, every=EVERY)
    heartbeat.start()
    await asyncio.wait_for(beat.started.wait(), timeout=30)
    return heartbeat


async def test_stopping_lets_a_running_tick_finish(caplog: pytest.LogCaptureFixture) -> None:
    beat = Beat()
    stopping = asyncio.create_task((await running(beat)).stop())
    for _ in range(100):  # let stop() reach its wait, were it not to wait
        await asyncio.sleep(0)
    assert not stopping.done(), "stop() returned while a tick was running"
    beat.release.set()
    await asyncio.wait_for(stopping, timeout=30)
    assert beat.finished.is_set() and not beat.cancelled.is_set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_tick_longer_than_the_wait_is_cancelled() -> None:
    beat = Beat()
    heartbeat = await running(beat)
    await asyncio.wait_for(heartbeat.stop(wait=0.01), timeout=30)
    await asyncio.wait_for(beat.cancelled.wait(), timeout=30)
    assert not beat.finished.is_set()


async def test_stopping_between_ticks_does_not_wait() -> None:
    beat = Beat()
    beat.release.set()
    heartbeat = await running(beat)
    await asyncio.wait_for(beat.finished.wait(), timeout=30)
    # Were it to wait for a tick that is not running, this would time out.
    await asyncio.wait_for(heartbeat.stop(wait=3600), timeout=30)
