"""Intake in batches: several requests in one transaction, each answered with its own result.

These drive ``IntakeQueue`` and ``intake.ingest_batch`` directly against the real database,
with alerts parsed by the real Alertmanager parser, so a batch holds exactly what a storm's
concurrent webhook requests would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select, text

from bot import intake
from bot.alerts import NormalizedAlert
from bot.db import Database
from bot.intake import IntakeResult
from bot.intake_queue import IntakeQueue
from bot.models import Alert, Counter, Effect, Incident, TimelineEvent
from handlers.parsers import alertmanager
from tests.conftest import FakeClock
from tests.harness import Harness


def alerts(*specs: tuple[str, str, datetime], model: str = "ranker") -> list[NormalizedAlert]:
    """Alertmanager alerts of the drift playbook: (status, fingerprint, startsAt) each."""
    return alertmanager.parse(
        {
            "version": "4",
            "status": "firing",
            "groupKey": "{}",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "ModelDriftHigh", "model": model, "feature": fp},
                    "annotations": {"summary": f"PSI high on {fp}"},
                    "startsAt": started.isoformat(),
                    "endsAt": started.isoformat()
                    if status == "resolved"
                    else "0001-01-01T00:00:00Z",
                    "fingerprint": fp,
                }
                for status, fp, started in specs
            ],
        }
    )


async def ingest(bot: Harness, requests: list[list[NormalizedAlert]]) -> list[IntakeResult]:
    # Not ``unit_of_work``: the dispatcher stays asleep, so what the database is sent
    # meanwhile is intake's alone.
    async with bot.rt.db.transaction() as session:
        return await intake.ingest_batch(session, bot.rt.config, requests, now=bot.rt.clock())


async def rows(bot: Harness, query: Any) -> list[Any]:
    async with bot.rt.db.transaction() as session:
        return list(await session.scalars(query))


@contextmanager
def counting_statements(bot: Harness) -> Iterator[list[str]]:
    """Every statement the bot sends to the database meanwhile (executemany counts once)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = bot.rt.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_each_request_of_a_batch_gets_its_own_result(bot: Harness, clock: FakeClock) -> None:
    started = clock.now - timedelta(minutes=5)
    first = alerts(("firing", "a", started), ("firing", "b", started))
    retry = alerts(("firing", "a", started))
    resolve = alerts(("resolved", "a", started))
    results = await ingest(bot, [first, retry, resolve])

    assert [r.as_dict() for r in results] == [
        {**IntakeResult(2, stored=2).as_dict(), "incidents_opened": [1]},
        IntakeResult(1, duplicates=1).as_dict(),
        IntakeResult(1, resolved=1).as_dict(),
    ]
    stored = {a.fingerprint: a for a in await rows(bot, select(Alert))}
    assert sorted(stored) == ["a", "b"]
    assert stored["a"].status == "resolved" and stored["b"].status == "firing"
    assert {a.incident_id for a in stored.values()} == {1}


async def test_an_alert_repeated_within_one_request_is_stored_once(
    bot: Harness, clock: FakeClock
) -> None:
    twice = alerts(("firing", "a", clock.now), ("firing", "a", clock.now))
    (result,) = await ingest(bot, [twice])
    assert (result.stored, result.duplicates) == (1, 1)
    assert len(await rows(bot, select(Alert))) == 1


async def test_joining_alerts_are_stored_in_their_incident_at_once(
    bot: Harness, clock: FakeClock
) -> None:
    await ingest(bot, [alerts(("firing", "first", clock.now))])
    batch = [alerts(("firing", f"f{n}", clock.now)) for n in range(5)]
    results = await ingest(bot, batch)
    assert all(r.joined == [1] and not r.opened for r in results)
    stored = await rows(bot, select(Alert).order_by(Alert.id))
    assert [a.incident_id for a in stored] == [1] * 6
    fired = await rows(bot, select(TimelineEvent).where(TimelineEvent.kind == "alert_fired"))
    assert sorted(e.data["fingerprint"] for e in fired) == [f"f{n}" for n in range(5)]


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    bot: Harness, clock: FakeClock
) -> None:
    """Storing a storm's alerts must not cost a statement or two per alert."""
    await ingest(bot, [alerts(("firing", "first", clock.now))])

    async def statements_for(size: int, tag: str) -> int:
        batch = [alerts(("firing", f"{tag}{n}", clock.now)) for n in range(size)]
        with counting_statements(bot) as sent:
            await ingest(bot, batch)
        return len(sent)

    await statements_for(1, "warm")  # leaves a card edit waiting, as during a storm
    assert await statements_for(5, "small") == await statements_for(60, "large")


async def test_incidents_opened_together_write_their_effects_in_one_statement(
    bot: Harness, clock: FakeClock
) -> None:
    """Opening an incident queues half a dozen effects and copies its playbook's steps:
    a statement per effect or per step would multiply during a storm's first seconds."""
    batch = [alerts(("firing", f"f{n}", clock.now), model=f"model-{n}") for n in range(3)]
    with counting_statements(bot) as sent:
        results = await ingest(bot, batch)
    assert sorted(n for r in results for n in r.opened) == [1, 2, 3]
    assert sum(s.startswith("INSERT INTO effects") for s in sent) == 1
    assert sum(s.startswith("INSERT INTO step_progress") for s in sent) == 3  # one each
    assert not [s for s in sent if "FROM pages" in s]  # new incidents: nobody paged before
    effects = await rows(bot, select(func.count()).select_from(Effect))
    assert effects[0] >= 3 * 5  # channel, card, steps, related, page (and checks) each


async def test_an_edit_already_covered_costs_no_look_at_the_last_edit(
    bot: Harness, clock: FakeClock
) -> None:
    """During a storm the card's post (or an edit) is waiting for every commit that asks
    for an edit: deciding that takes one query, not a second one for the last edit's time."""
    await ingest(bot, [alerts(("firing", "f0", clock.now))])  # the card's post is waiting
    with counting_statements(bot) as sent:
        results = await ingest(bot, [alerts(("firing", "f1", clock.now))])
    assert results[0].joined == [1]
    assert sum("FROM effects" in s for s in sent) == 1
    assert await rows(bot, select(func.count()).where(Effect.kind == "refresh_card")) == [0]


async def test_flapping_is_counted_across_the_alerts_of_one_batch(
    bot: Harness, clock: FakeClock
) -> None:
    starts = [clock.now - timedelta(minutes=m) for m in (30, 20, 10)]
    await ingest(bot, [alerts(("firing", "gpu", starts[0]))])
    await ingest(bot, [alerts(("firing", "gpu", starts[1])), alerts(("firing", "gpu", starts[2]))])
    stored = await rows(bot, select(Alert).order_by(Alert.starts_at))
    assert [a.flapping for a in stored] == [False, False, True]


async def test_starts_outside_the_flapping_window_do_not_count(
    bot: Harness, clock: FakeClock
) -> None:
    old = [clock.now - timedelta(hours=h) for h in (5, 4)]
    await ingest(bot, [alerts(("firing", "gpu", old[0]), ("firing", "gpu", old[1]))])
    await ingest(bot, [alerts(("firing", "gpu", clock.now))])
    stored = await rows(bot, select(Alert).order_by(Alert.starts_at))
    assert [a.flapping for a in stored] == [False, False, False]


async def test_concurrent_requests_share_commits_and_are_each_answered(
    bot: Harness, clock: FakeClock
) -> None:
    queue = IntakeQueue(bot.rt)
    commits: list[int] = []
    event.listen(bot.rt.db.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    requests = [alerts(("firing", f"m{n}", clock.now), model=f"model-{n % 3}") for n in range(30)]
    results = await asyncio.gather(*(queue.submit(r) for r in requests))

    assert [r.stored for r in results] == [1] * 30
    opened = sorted(n for r in results for n in r.opened)
    assert opened == [1, 2, 3], "one incident per model, opened by the first of its requests"
    assert len(commits) < len(requests), "requests that wait together commit together"
    incidents = await rows(bot, select(func.count()).select_from(Incident))
    assert incidents == [3]


async def test_after_a_busy_commit_the_next_waits_for_as_many_requests(
    bot: Harness, clock: FakeClock
) -> None:
    """Group commit: a request arriving alone after a batch of four waits for three more."""
    queue = IntakeQueue(bot.rt, linger=3600)  # only a full batch can end the wait
    request = iter(alerts(("firing", f"f{n}", clock.now)) for n in range(8))
    with counting_statements(bot) as sent:
        await asyncio.gather(*(queue.submit(next(request)) for _ in range(4)))
        alone = asyncio.create_task(queue.submit(next(request)))
        for _ in range(100):  # let the worker take it, were it not to wait
            await asyncio.sleep(0)
        rest = [queue.submit(next(request)) for _ in range(3)]
        results = await asyncio.wait_for(asyncio.gather(alone, *rest), timeout=30)
    assert [r.stored for r in results] == [1] * 4
    inserts = [s for s in sent if s.startswith("INSERT INTO alerts")]
    assert len(inserts) == 2, "the four later requests are committed together"


async def test_under_light_traffic_a_request_does_not_wait(bot: Harness, clock: FakeClock) -> None:
    queue = IntakeQueue(bot.rt, linger=3600)  # were it to wait, the test would time out
    for n in range(3):
        result = await asyncio.wait_for(queue.submit(alerts(("firing", f"f{n}", clock.now))), 30)
        assert result.stored == 1


async def test_only_commits_that_queue_effects_wake_the_dispatcher(
    bot: Harness, clock: FakeClock
) -> None:
    wakes: list[int] = []
    bot.rt.after_commit = lambda: wakes.append(1)
    queue = IntakeQueue(bot.rt)
    opening = alerts(("firing", "a", clock.now))
    await queue.submit(opening)  # opens an incident: a channel, a card, a page to deliver
    assert wakes == [1]
    await queue.submit(opening)  # a retry: nothing stored, nothing to deliver
    assert wakes == [1]


async def test_an_alert_another_replica_is_storing_becomes_a_duplicate(
    bot: Harness, clock: FakeClock, database_url: str
) -> None:
    """Another replica stores the same alert while this one's transaction runs.

    On PostgreSQL this batch's lookup misses it and its INSERT (no ON CONFLICT) waits on
    the other transaction, then fails; the request is retried alone and finds it stored.
    On SQLite this transaction waits for the write lock instead, then finds it stored.
    """
    await bot.dispatcher.idle()  # only intake's transaction may wait for the replica
    replica = Database(database_url)
    sent = alerts(("firing", "a", clock.now))
    try:
        with waiting_for_the_replica(bot) as waiting:
            async with replica.transaction() as session:
                await intake.ingest_batch(session, bot.rt.config, [sent], now=clock.now)
                ours = asyncio.create_task(IntakeQueue(bot.rt).submit(sent))
                await bot.wait_until(waiting)
        result = await asyncio.wait_for(ours, timeout=30)
    finally:
        await replica.dispose()
    assert (result.stored, result.duplicates) == (0, 1)
    assert await rows(bot, select(func.count()).select_from(Alert)) == [1]
    assert await rows(bot, select(func.count()).select_from(Incident)) == [1]


async def test_an_incident_another_replica_is_opening_is_joined(
    bot: Harness, clock: FakeClock, database_url: str
) -> None:
    """Another replica opens the group's incident, for another alert, while this one works.

    On PostgreSQL this batch found no open incident, so it takes its turn to open one:
    that waits on the replica (the incident counter's lock), then asks again and joins the
    replica's incident. On SQLite this transaction waits for the write lock, then finds
    the incident open.
    """
    await bot.dispatcher.idle()  # only intake's transaction may wait for the replica
    replica = Database(database_url)
    try:
        with waiting_for_the_replica(bot) as waiting:
            async with replica.transaction() as session:
                theirs = [alerts(("firing", "a", clock.now))]
                await intake.ingest_batch(session, bot.rt.config, theirs, now=clock.now)
                # Not through IntakeQueue: its retry in a new transaction would hide a
                # failure of this one.
                ours = asyncio.create_task(ingest(bot, [alerts(("firing", "b", clock.now))]))
                await bot.wait_until(waiting)
        [result] = await asyncio.wait_for(ours, timeout=30)
    finally:
        await replica.dispose()
    assert (result.stored, result.opened, result.joined) == (1, [], [1])
    assert await rows(bot, select(func.count()).select_from(Incident)) == [1]


async def test_incident_numbers_stay_gap_free_when_a_transaction_that_opened_one_fails(
    bot: Harness, clock: FakeClock
) -> None:
    """Numbers are counted during a transaction's turn and written when it commits: one
    rolled back gives its numbers back, and incidents opened together count on."""
    await ingest(bot, [alerts(("firing", "a", clock.now), model="m1")])
    with contextlib.suppress(RuntimeError):
        async with bot.rt.db.transaction() as session:
            await intake.ingest_batch(
                session,
                bot.rt.config,
                [alerts(("firing", "b", clock.now), model="m2")],
                now=clock.now,
            )
            raise RuntimeError("the commit never happens")
    together = [alerts(("firing", f"c{n}", clock.now), model=f"m{n}") for n in (3, 4)]
    results = await ingest(bot, together)
    assert [r.opened for r in results] == [[2], [3]]
    numbers = await rows(bot, select(Incident.number).order_by(Incident.number))
    assert numbers == [1, 2, 3]
    assert await rows(bot, select(Counter.value)) == [3]


async def test_a_new_groups_alerts_open_and_join_its_incident_without_asking_again(
    bot: Harness, clock: FakeClock
) -> None:
    """The batch asks once which of its groups have an open incident; that answer, and the
    incident its first alert opens, serve the batch's other alerts of the group.

    On PostgreSQL it asks once more, for all of them at once, when its turn to open comes
    (another transaction may have opened one meanwhile); SQLite has one writer at a time.
    """
    sent = alerts(*(("firing", f"f{n}", clock.now) for n in range(3)))
    with counting_statements(bot) as statements:
        results = await ingest(bot, [sent])
    assert (results[0].opened, results[0].stored) == ([1], 3)
    asked = sum(s.startswith("SELECT") and "FROM incidents" in s for s in statements)
    assert asked == (1 if bot.rt.db.is_sqlite else 2)


@contextmanager
def waiting_for_the_replica(bot: Harness) -> Iterator[Callable[[], Awaitable[bool]]]:
    """A condition: the bot's transaction is held up by the replica's."""
    if not bot.rt.db.is_sqlite:
        yield lambda: waiting_on_a_lock(bot)
        return

    with counting_statements(bot) as sent:

        async def asked_for_the_write_lock() -> bool:
            return "BEGIN IMMEDIATE" in sent

        yield asked_for_the_write_lock


async def waiting_on_a_lock(bot: Harness) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with bot.rt.db.read() as session:
        return bool(await session.scalar(query))
