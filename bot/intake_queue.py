"""Commits concurrent webhook requests together: one transaction for many requests.

During an alert storm dozens of requests arrive at once; a transaction each would spend
most of its time committing. Requests queue here while a commit is running and the next
commit takes them all. Each request is still answered only after its own alerts are
committed, with its own result. If a shared transaction fails, its requests are retried
one by one, so a single bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging

from bot import intake
from bot.alerts import NormalizedAlert
from bot.intake import IntakeResult
from bot.runtime import Runtime

log = logging.getLogger(__name__)

MAX_REQUESTS = 64  # per transaction: bounds how long one commit holds the write lock

Waiting = tuple[list[NormalizedAlert], "asyncio.Future[IntakeResult]"]


class IntakeQueue:
    def __init__(self, rt: Runtime, max_requests: int = MAX_REQUESTS) -> None:
        self.rt = rt
        self.max_requests = max_requests
        self._waiting: list[Waiting] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, alerts: list[NormalizedAlert]) -> IntakeResult:
        """Store these alerts; returns once they are committed (raises if they cannot be)."""
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((alerts, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await future

    async def _work(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_requests]
            del self._waiting[: self.max_requests]
            try:
                results = await self._commit([alerts for alerts, _ in batch])
            except Exception:
                log.warning(
                    "intake: a shared commit of %d requests failed; retrying each", len(batch)
                )
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # the sender may have hung up meanwhile
                    future.set_result(result)

    async def _commit(self, requests: list[list[NormalizedAlert]]) -> list[IntakeResult]:
        now = self.rt.clock()
        async with self.rt.unit_of_work() as session:
            return await intake.ingest_batch(session, self.rt.config, requests, now=now)

    async def _one_by_one(self, batch: list[Waiting]) -> None:
        for alerts, future in batch:
            try:
                result = (await self._commit([alerts]))[0]
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)
