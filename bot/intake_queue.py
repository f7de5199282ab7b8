"""Commits concurrent webhook requests together: one transaction for many requests.

During an alert storm dozens of requests arrive at once; a transaction each would spend
most of its time committing. Requests queue here while a commit is running and the next
commit takes them all. Each request is still answered only after its own alerts are
committed, with its own result. If a shared transaction fails, its requests are retried
one by one, so a single bad request cannot fail its neighbours.

Right after a commit, though, only the few requests that arrived during it are waiting:
the senders it has just answered are about to send again. Committing those few at once
costs a whole transaction for a handful of alerts, and the next commit then holds the
rest. So, like a database's group commit, the queue waits briefly (``LINGER``) for as
many requests as the last commit had. Under light traffic the last commit had one
request, and a request never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot import intake
from bot.alerts import NormalizedAlert
from bot.intake import IntakeResult
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Requests per transaction. It bounds how long one commit holds the write lock, and it
# splits a crowd of senders into groups whose commits take turns: while one group's commit
# runs, the last group is answered and sends again, instead of all of them waiting on one
# commit and then the commit waiting on them all. With 32 senders (bench.ingest), 16
# rather than 64: 11 % more alerts/s on PostgreSQL over 14 alternating pairs of runs, a
# better ratio in 13 of 17 pairs over both databases (SQLite alone: even).
MAX_REQUESTS = 16
LINGER = 0.01  # seconds a commit may wait for its batch to fill; about one commit's time

Waiting = tuple[list[NormalizedAlert], "asyncio.Future[IntakeResult]"]


class IntakeQueue:
    def __init__(
        self, rt: Runtime, max_requests: int = MAX_REQUESTS, linger: float = LINGER
    ) -> None:
        self.rt = rt
        self.max_requests = max_requests
        self.linger = linger
        self._waiting: list[Waiting] = []
        self._worker: asyncio.Task[None] | None = None
        self._expected = 1  # requests the last commit took: what the next one waits for
        self._filled = asyncio.Event()

    async def submit(self, alerts: list[NormalizedAlert]) -> IntakeResult:
        """Store these alerts; returns once they are committed (raises if they cannot be)."""
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((alerts, future))
        if len(self._waiting) >= self._expected:
            self._filled.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await future

    async def _work(self) -> None:
        while self._waiting:
            await self._fill()
            batch = self._waiting[: self.max_requests]
            del self._waiting[: self.max_requests]
            self._expected = len(batch)
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

    async def _fill(self) -> None:
        """Wait up to ``linger`` until as many requests wait as the last commit took."""
        if len(self._waiting) >= self._expected:
            return
        self._filled.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._filled.wait(), self.linger)

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
