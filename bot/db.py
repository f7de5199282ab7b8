"""The database: engine, transactions and migrations.

One ``Database`` per process. Services open a transaction with ``db.transaction()``;
the state change, its timeline events and its effects commit together or not at all.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from bot import sqlite_driver
from bot.settings import async_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Set inside a transaction of this task, so a nested one does not wait for itself.
_in_transaction: ContextVar[bool] = ContextVar("in_transaction", default=False)


# A pooled connection idle this long is checked before use (see _ping_when_idle).
PING_AFTER_IDLE = 5.0  # seconds


class Database:
    def __init__(
        self, url: str, *, echo: bool = False, ping_after_idle: float = PING_AFTER_IDLE
    ) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url, echo=echo, **_engine_options(self.url)
        )
        _ping_when_idle(self.engine, ping_after_idle)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._turns = asyncio.Lock() if self.is_sqlite else None
        self._reader: AsyncEngine | None = None
        self._readers = self.sessions
        if self.is_sqlite:
            _tune_sqlite(self.engine, "BEGIN IMMEDIATE")
            self._reader = create_async_engine(self.url, **_engine_options(self.url))
            _tune_sqlite(self._reader, "BEGIN")
            _ping_when_idle(self._reader, ping_after_idle)
            self._readers = async_sessionmaker(self._reader, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commit on success, roll back on any error.

        On SQLite, transactions take turns in arrival order. SQLite has one writer, and its
        busy-wait favours whoever just committed: during an alert storm the intake worker
        would win every time and pages would wait for the storm to end.
        """
        if self._turns is None or _in_transaction.get():
            async with self.sessions() as session, session.begin():
                yield session
                await _run_before_commit(session)
            return
        async with self._turns:
            marker = _in_transaction.set(True)
            try:
                async with self.sessions() as session, session.begin():
                    yield session
                    await _run_before_commit(session)
            finally:
                _in_transaction.reset(marker)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: one consistent view, never a write.

        On SQLite it neither waits its turn nor takes the write lock (WAL lets readers see
        the last commit while a writer works), so rendering a card during a storm does not
        queue behind intake, nor intake behind it.
        """
        async with self._readers() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def upgrade(self) -> None:
        """Apply every pending migration (idempotent).

        Replicas starting together take turns: on PostgreSQL a transaction lock, held until
        the migrations commit (SQLite's write lock does the same), so the second finds the
        schema in place instead of failing to create it again.
        """
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(_MIGRATION_LOCK, {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            await self._reader.dispose()


BeforeCommit = Callable[[AsyncSession], Awaitable[None]]


def before_commit(session: AsyncSession, hook: BeforeCommit) -> None:
    """Run ``hook`` at the end of this session's transaction, just before it commits.

    For work that is cheaper done once for the whole transaction than once per change
    (see ``effects.refresh_card``); it does not run when the transaction rolls back.
    """
    session.info.setdefault("before_commit", []).append(hook)


async def _run_before_commit(session: AsyncSession) -> None:
    while hooks := session.info.pop("before_commit", None):  # a hook may add another
        for hook in hooks:
            await hook(session)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "module": sqlite_driver.DBAPI}
    # LIFO: the busiest task (intake, during a storm) gets back the connection it just
    # returned, whose prepared statements asyncpg has cached; the pool rotated through all
    # of them before, so each one prepared every statement of its own.
    return {"pool_size": 10, "max_overflow": 20, "pool_use_lifo": True}


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """Check a pooled connection before use only when it has sat idle for ``idle`` seconds.

    A connection goes stale while nobody uses it: the database restarted or failed over, or
    a firewall dropped the idle socket (a SQLite file's connection only goes when it is
    closed under us; the check is the same). SQLAlchemy's ``pool_pre_ping`` checks on every
    checkout instead, and for asyncpg that is three round trips (BEGIN, a no-op,
    ROLLBACK): about a third of what a short transaction costs, paid by every intake
    commit and every delivery during a storm, when connections are never idle. A check
    that fails discards the connection, and the pool hands out another one.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, entry: ConnectionPoolEntry) -> None:
        entry.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, entry: ConnectionPoolEntry, _proxy: Any) -> None:
        since = entry.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # new, or used a moment ago
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


def _tune_sqlite(engine: AsyncEngine, begin: str) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so writers queue instead of deadlocking.

    pysqlite's default deferred transactions fail with "database is locked" when two
    readers both try to upgrade to writers; taking the write lock up front makes the
    busy timeout work as a queue. The read-only engine begins deferred: it never writes.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


WAL_ATTEMPTS = 100
WAL_RETRY_PAUSE = 0.05  # seconds


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL; on a new file another process may be switching it too.

    Two replicas opening a new database at once both ask: SQLite may refuse one at once,
    without its busy handler (waiting there could deadlock). The other's switch is then
    done or under way, and WAL stays on the file, so asking again soon succeeds.
    """
    for attempt in range(WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(WAL_RETRY_PAUSE)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


MIGRATION_LOCK_KEY = 0x5741_524D  # "WARM"
_MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
