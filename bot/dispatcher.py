"""The dispatcher: delivers effect rows after their transaction commits.

Effects are claimed with a short lease (``claimed_until``) in their own transaction, so
no database transaction stays open during a Slack call, and an effect claimed by a
process that died is taken over once its lease runs out. Of several replicas, only the
one holding the delivery lock claims (``bot.leadership``), so Slack's limits, booked in
its memory, hold for all; the claim still uses ``FOR UPDATE SKIP LOCKED`` (PostgreSQL),
so a leader that lost its lock and the new one never deliver the same effect. Only the
oldest undelivered effect of each ``ordering_key`` is eligible, which keeps one
incident's messages in order while different incidents proceed in parallel. Delivery may
answer "not yet" (``Deferred``, a rate limit's next free slot): the effect waits, without
counting as an attempt, and the dispatcher wakes itself when it is due.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Update, and_, bindparam, case, func, or_, select, update

from bot.clock import Clock, utcnow
from bot.db import Database
from bot.leadership import Leadership
from bot.models import Effect, EffectState

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
URGENT = ("send_page", "notify_pager")  # effect kinds that reach a person's phone
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=5)


class PermanentError(Exception):
    """Delivery can never succeed (a missing channel, a revoked token): do not retry."""


class Deferred(Exception):
    """Not now: deliver at ``until`` (a rate limit's next free slot). Not a failure."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"deferred until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int  # also the ticket a deferred delivery holds its send slot with (bot.pacing)
    kind: str
    payload: dict[str, Any]
    attempts: int


Deliver = Callable[[Claimed], Awaitable[None]]


class Router:
    """Sends each effect kind to the code that delivers it (Slack, checks, pagers)."""

    def __init__(self, routes: dict[str, Deliver]) -> None:
        self.routes = routes

    async def __call__(self, effect: Claimed) -> None:
        deliver = self.routes.get(effect.kind)
        if deliver is None:
            raise PermanentError(f"no delivery for effect kind {effect.kind!r}")
        await deliver(effect)


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … capped at five minutes."""
    return min(timedelta(seconds=2**attempts), MAX_BACKOFF)


# Effects claimed, and delivered side by side, at a time. Each delivery renders its message
# on the event loop that also answers webhooks: twenty at once stalled intake's commits for
# the length of twenty renders (alternating bench.ingest runs: about 10 % fewer alerts/s
# than with eight), while eight calls in flight still outpace what Slack accepts from one
# workspace (bench.storm delivers the same, as fast).
BATCH = 8


# Seconds between a replica's looks at the delivery lock (``bot.leadership``): how soon a
# replica takes over from a leader that stopped, and how often the leader checks it still is.
LEADERSHIP_EVERY = 2.0


class Dispatcher:
    def __init__(
        self,
        db: Database,
        deliver: Deliver,
        *,
        clock: Clock = utcnow,
        batch: int = BATCH,
        leadership: Leadership | None = None,
    ) -> None:
        self.db = db
        self.deliver = deliver
        self.clock = clock
        self.leadership = leadership  # None: this process is the only one delivering
        self._looked = -math.inf  # when the delivery lock was last taken or checked
        self._wanted = False
        self._task: asyncio.Task[None] | None = None
        self._wakes: list[datetime] = []  # heap: when deferred effects come due
        self._alarm: asyncio.TimerHandle | None = None  # rings at the earliest of them
        self._alarm_at: datetime | None = None
        self._closed = False
        self._claim = _claim_query(batch)

    def wake(self) -> None:
        """Deliver soon; called after every commit. Coalesces into one running drain."""
        self._wanted = True
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._run())
            except RuntimeError:  # no loop (a CLI command): the server will deliver
                self._task = None

    def wake_at(self, when: datetime) -> None:
        """Wake at ``when`` (runtime clock), sooner than the scheduler's next tick."""
        heapq.heappush(self._wakes, when)
        if self._alarm_at is None or when < self._alarm_at:
            self._arm()

    def _arm(self) -> None:
        """Set the one alarm for the earliest wake time still ahead."""
        self._disarm()
        if not self._wakes or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a CLI command): the server will deliver
            return
        when = self._wakes[0]
        delay = max(0.0, (when - self.clock()).total_seconds())
        self._alarm, self._alarm_at = loop.call_later(delay, self._ring), when

    def _ring(self) -> None:
        now = self.clock()
        while self._wakes and self._wakes[0] <= now:
            heapq.heappop(self._wakes)
        self._arm()
        self.wake()

    def close(self) -> None:
        """At shutdown: no alarm may start a drain after the database is closed."""
        self._closed = True
        self._disarm()

    def _disarm(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm = self._alarm_at = None

    async def idle(self) -> None:
        """Wait until the current drain, and any drains it triggered, have finished."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                await self.drain()
            except Exception:  # the database went away; the scheduler tick will retry
                log.exception("dispatcher: drain failed")

    async def drain(self) -> int:
        """Deliver every eligible effect; returns how many were attempted."""
        if not await self._leading():
            return 0
        total = 0
        while claimed := await self.claim():
            outcomes = await asyncio.gather(*(self._deliver_one(effect) for effect in claimed))
            await self._record(outcomes)
            total += len(claimed)
        return total

    async def _leading(self) -> bool:
        if self.leadership is None:
            return True
        if time.monotonic() - self._looked >= LEADERSHIP_EVERY:
            self._looked = time.monotonic()
            await self.leadership.refresh()
        return self.leadership.held

    async def claim(self) -> list[Claimed]:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = list(await session.scalars(self._claim, {"now": now}))
            for row in rows:
                row.claimed_until = now + LEASE
            return [Claimed(r.id, r.kind, dict(r.payload), r.attempts) for r in rows]

    async def _deliver_one(self, effect: Claimed) -> _Outcome:
        try:
            await self.deliver(effect)
        except Deferred as later:
            return _Outcome(effect.id, {"claimed_until": None, "due_at": later.until}, later.until)
        except PermanentError as exc:
            log.warning("effect %s %s failed for good: %s", effect.id, effect.kind, exc)
            return self._finished(effect, EffectState.DEAD, str(exc))
        except Exception as exc:
            log.warning("effect %s %s failed, will retry: %r", effect.id, effect.kind, exc)
            return self._retried(effect, repr(exc))
        return self._finished(effect, EffectState.DONE, None)

    def _finished(self, effect: Claimed, state: EffectState, error: str | None) -> _Outcome:
        values = {
            "state": state,
            "attempts": effect.attempts + 1,
            "last_error": error,
            "claimed_until": None,
            "delivered_at": self.clock() if state == EffectState.DONE else None,
        }
        return _Outcome(effect.id, values, only_pending=False)

    def _retried(self, effect: Claimed, error: str) -> _Outcome:
        attempts = effect.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            return self._finished(effect, EffectState.DEAD, error)
        values = {
            "attempts": attempts,
            "last_error": error,
            "claimed_until": None,
            "due_at": self.clock() + backoff(attempts),
        }
        return _Outcome(effect.id, values)

    async def _record(self, outcomes: list[_Outcome]) -> None:
        """What became of a claimed batch, in one transaction (on SQLite, one turn).

        A deferral or retry leaves an effect waiting; it must not revive one that was
        finished meanwhile (``effects.pages_shown`` marks a combined page's sends done).
        A deferred edit stays the waiting one (unclaimed, no attempt), so new refresh
        requests coalesce into it.
        """
        async with self.db.transaction() as session:
            connection = await session.connection()
            for statement, rows in _updates(outcomes):
                await connection.execute(statement, rows)
        for outcome in outcomes:
            if outcome.wake_at is not None:
                self.wake_at(outcome.wake_at)


def _claim_query(batch: int) -> Select[tuple[Effect]]:
    """The oldest pending effects due at ``:now``, one per ordering key, ``batch`` at most.

    Built once per dispatcher: during a storm every commit wakes it, and building and
    keying this statement cost about as much CPU as running it (see ``sql.in_list``).
    """
    now = bindparam("now")
    # The oldest pending effect of each key, found in one pass over the pending rows
    # and kept (MATERIALIZED). As NOT EXISTS ("no earlier pending effect with this
    # key"), PostgreSQL planned a loop over every pending row for each one whenever
    # the table's statistics were stale, as in a storm on a new table: 5 ms a claim,
    # the most expensive statement of bench.ingest. Now about 1 ms.
    first_of_key = (
        select(func.min(Effect.id).label("id"))
        .where(Effect.state == EffectState.PENDING)
        .group_by(Effect.ordering_key)
        .cte("first_of_key")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        select(Effect)
        .where(
            Effect.id.in_(select(first_of_key.c.id)),
            Effect.state == EffectState.PENDING,  # rechecked on a row locked meanwhile
            Effect.due_at <= now,
            or_(Effect.claimed_until.is_(None), Effect.claimed_until < now),
        )
        # A page wakes a person: it goes before cards, checklists and channel messages.
        .order_by(case((Effect.kind.in_(URGENT), 0), else_=1), Effect.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )


def _updates(outcomes: list[_Outcome]) -> list[tuple[Update, list[dict[str, Any]]]]:
    """The outcomes as one UPDATE per shape (same columns and condition), each run for
    many rows: a batch of deliveries costs two or three statements, not one each."""
    table = Effect.__table__
    shapes: dict[tuple[frozenset[str], bool], list[dict[str, Any]]] = {}
    for outcome in outcomes:
        shape = (frozenset(outcome.values), outcome.only_pending)
        shapes.setdefault(shape, []).append({"effect_id": outcome.effect_id, **outcome.values})
    updates = []
    for (_, only_pending), rows in shapes.items():
        where = table.c.id == bindparam("effect_id")
        if only_pending:
            where = and_(where, table.c.state == EffectState.PENDING)
        updates.append((update(table).where(where), rows))  # SET: the rows' other keys
    return updates


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one delivery ended: the values to write to its effect row."""

    effect_id: int
    values: dict[str, Any]
    wake_at: datetime | None = None  # deferred: come back then
    only_pending: bool = True
