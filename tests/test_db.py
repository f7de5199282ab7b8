"""The database layer: ``before_commit`` hooks, reads that do not queue behind writes, and
pooled connections lost underneath."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database, before_commit
from bot.models import Silence


async def count_silences(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Silence)) or 0)


def silence(reason: str) -> Silence:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    return Silence(matchers=["a=b"], reason=reason, created_by="U1", starts_at=at, ends_at=at)


async def test_hooks_run_in_the_transaction_in_order_and_may_add_more(db: Database) -> None:
    ran: list[str] = []

    async def second(session: AsyncSession) -> None:
        ran.append("second")
        session.add(silence("added by a hook"))

    async def first(session: AsyncSession) -> None:
        ran.append("first")
        before_commit(session, second)

    async with db.transaction() as session:
        before_commit(session, first)
        assert ran == [], "nothing runs before the transaction ends"
    assert ran == ["first", "second"]
    assert await count_silences(db) == 1


async def test_hooks_do_not_run_when_the_transaction_rolls_back(db: Database) -> None:
    ran: list[str] = []

    async def hook(session: AsyncSession) -> None:
        ran.append("hook")

    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            before_commit(session, hook)
            raise RuntimeError("the change failed")
    assert ran == []


async def test_a_read_sees_the_last_commit_while_a_write_is_in_progress(db: Database) -> None:
    """Rendering a card must not wait for intake's transaction (SQLite: WAL reader)."""
    async with db.transaction() as session:
        session.add(silence("committed"))
    writing, release = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with db.transaction() as session:
            session.add(silence("not yet committed"))
            await session.flush()  # holds the write lock until release
            writing.set()
            await release.wait()

    writer = asyncio.create_task(write())
    await writing.wait()
    try:
        async with asyncio.timeout(10):  # a read queued behind the writer would hang here
            async with db.read() as session:
                reasons = list(await session.scalars(select(Silence.reason)))
        assert reasons == ["committed"]
    finally:
        release.set()
        await writer
    assert await count_silences(db) == 2


async def lose_the_pooled_connection(db: Database) -> None:
    """Use one connection and return it to the pool; then it goes away underneath: the
    PostgreSQL server ends its backend (a restart), or SQLite's file handle is closed."""
    async with db.transaction() as session:
        raw = await (await session.connection()).get_raw_connection()
        driver = raw.driver_connection
        pid = None if db.is_sqlite else await session.scalar(text("SELECT pg_backend_pid()"))
    if pid is None:
        driver._conn.close()  # the sqlite3 connection under aiosqlite
        return
    killer = Database(db.url)
    alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    try:
        async with killer.transaction() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        async with asyncio.timeout(10):  # the backend exits on its own time: wait for it
            while True:
                async with killer.transaction() as session:
                    if not await session.scalar(alive, {"pid": pid}):
                        break
                await asyncio.sleep(0.01)
    finally:
        await killer.dispose()


async def select_one(db: Database) -> int | None:
    async with db.transaction() as session:
        return await session.scalar(text("SELECT 1"))


async def test_a_connection_dropped_while_idle_is_replaced_before_use(database_url: str) -> None:
    db = Database(database_url, ping_after_idle=0)  # every connection counts as idle
    try:
        await lose_the_pooled_connection(db)
        assert await select_one(db) == 1
    finally:
        await db.dispose()


async def test_a_connection_used_a_moment_ago_is_not_checked(database_url: str) -> None:
    """No ping while connections are busy; a drop then fails one transaction, not the next."""
    db = Database(database_url, ping_after_idle=3600)
    try:
        await lose_the_pooled_connection(db)
        with pytest.raises(DBAPIError):
            await select_one(db)
        assert await select_one(db) == 1  # the pool let go of the dropped connection
    finally:
        await db.dispose()
