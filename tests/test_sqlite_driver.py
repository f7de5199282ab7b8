"""The SQLite driver: one trip to aiosqlite's thread per statement, and nothing else changed.

These run on SQLite whatever ``TEST_DATABASE_URL`` says: the driver is SQLite's alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db import Database


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call aiosqlite runs in its thread, by name (the real calls, counted)."""
    seen: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


async def test_a_statement_is_one_trip_to_the_thread(sqlite: Database, trips: list[str]) -> None:
    async with sqlite.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection's own set-up is not counted
        trips.clear()
        rows = (await conn.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()
        assert [row[0] for row in rows] == [1, 2]
        assert len(trips) == 1, trips
        await conn.rollback()


async def test_writes_report_their_rows_and_ids(sqlite: Database) -> None:
    async with sqlite.engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        many = await conn.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}]
        )
        assert many.rowcount == 2
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 2
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["a", "b!", "c!"]


async def test_database_errors_arrive_as_sqlalchemys_and_the_connection_goes_on(
    sqlite: Database,
) -> None:
    async with sqlite.engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        await conn.rollback()


async def test_rows_can_be_streamed(sqlite: Database) -> None:
    """A server-side cursor (``stream``) keeps fetching as it goes."""
    async with sqlite.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(50)]
        )
        result = await conn.stream(text("SELECT name FROM t ORDER BY id"))
        names = [row[0] async for row in result]
    assert names == [f"n{i}" for i in range(50)]
