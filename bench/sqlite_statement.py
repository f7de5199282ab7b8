"""What one small SQLite statement costs through each driver: CPU microseconds each.

    python -m bench.sqlite_statement [--statements 3000]

``SELECT 1`` again and again on one connection, three ways: plain pysqlite (synchronous,
no thread: what SQLite itself costs), SQLAlchemy's aiosqlite adapter (four trips to
aiosqlite's thread per statement), and Warroom's ``Database`` (``bot/sqlite_driver.py``,
one trip). CPU is the process's, all threads, so the thread hand-offs are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.db import Database

STATEMENT = text("SELECT 1")


def per_statement(started: float, n: int) -> float:
    return (time.process_time() - started) / n * 1e6


def pysqlite(path: Path, n: int) -> float:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(STATEMENT)
        started = time.process_time()
        for _ in range(n):
            conn.execute(STATEMENT)
        cost = per_statement(started, n)
    engine.dispose()
    return cost


async def through(engine: AsyncEngine, n: int) -> float:
    async with engine.connect() as conn:
        await conn.execute(STATEMENT)
        started = time.process_time()
        for _ in range(n):
            await conn.execute(STATEMENT)
        return per_statement(started, n)


async def asynchronous(path: Path, n: int) -> tuple[float, float]:
    adapter = create_async_engine(f"sqlite+aiosqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    try:
        return await through(adapter, n), await through(database.engine, n)
    finally:
        await adapter.dispose()
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sqlite_statement", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--statements", type=int, default=3000)
    args = parser.parse_args(argv)
    if args.statements < 1:
        parser.error("--statements must be at least 1")
    with tempfile.TemporaryDirectory(prefix="warroom-sqlite-") as workdir:
        path = Path(workdir) / "statement.db"
        plain = pysqlite(path, args.statements)
        adapter, ours = asyncio.run(asynchronous(path, args.statements))
    print(f"CPU per SELECT 1, mean of {args.statements}:")
    print(f"  pysqlite, synchronous                 {plain:6.0f} us")
    print(f"  SQLAlchemy's aiosqlite adapter        {adapter:6.0f} us")
    print(f"  Warroom's Database (one trip)         {ours:6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
