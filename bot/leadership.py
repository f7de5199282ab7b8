"""Which replica delivers effects: one at a time, so Slack's rate limits hold across replicas.

Slack's limits are booked in memory (``bot.pacing``), which only knows what its own
process sends: two replicas delivering at once could each send a message a second to the
same channel. So only the replica holding the *delivery lock* claims effects. The others
still store alerts, answer commands and escalate; the effects they write wait in the
table until the leader's dispatcher next looks (its own commits, deferred alarms, and the
scheduler tick every 2 s). When the leader stops or dies, its lock goes with its
connection or process, and another replica's next tick takes it over.

The lock is a PostgreSQL session advisory lock held on a connection of its own, or, for
an SQLite file, an exclusive ``flock`` on a file beside the database (only processes on
one host can share that file anyway). A database in memory has one process: it leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per database is assumed
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_KEY = 0x5741_5252  # "WARR": the advisory lock every Warroom replica of a database uses
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_PING = text("SELECT 1")


class Leadership:
    """Whether this process delivers effects; ``refresh`` takes the lock or checks it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.held = False
        self._connection: AsyncConnection | None = None  # PostgreSQL: holds the lock
        self._file: IO[bytes] | None = None  # SQLite: holds the flock
        self._path = _lock_file(db)
        self._turn = asyncio.Lock()

    async def refresh(self) -> bool:
        """Take the lock if it is free, or check it is still ours; True while leading."""
        async with self._turn:  # two at once would each take a connection, and one the lock
            was = self.held
            try:
                self.held = await (self._check() if self.held else self._take())
            except Exception:  # the database went away: whoever reaches it next leads
                log.warning("leadership: could not take or check the lock", exc_info=True)
                await self.release()
        if self.held != was:
            log.info(
                "leadership: this replica %s effects",
                "delivers" if self.held else "no longer delivers",
            )
        return self.held

    async def release(self) -> None:
        self.held = False
        if self._connection is not None:
            # Invalidated, not returned to the pool: the lock belongs to the database
            # session, which must end, and a pooled connection's session would live on.
            with contextlib.suppress(Exception):
                await self._connection.invalidate()
            self._connection = None
        if self._file is not None:
            self._file.close()  # closing the file drops its flock
            self._file = None

    async def _take(self) -> bool:
        if not self.db.is_sqlite:
            return await self._take_advisory_lock()
        if self._path is None or fcntl is None:
            return True
        file = self._path.open("ab")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        self._file = file
        return True

    async def _take_advisory_lock(self) -> bool:
        connection = await self.db.engine.connect()
        try:
            taken = await connection.scalar(_TRY_LOCK, {"key": LOCK_KEY})
            await connection.commit()  # the lock is the session's; no transaction stays open
        except Exception:
            await connection.invalidate()  # it may hold the lock: its session must end
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def _check(self) -> bool:
        if self._connection is not None:
            await self._connection.execute(_PING)  # raises once the session is gone
            await self._connection.commit()
        return True


def _lock_file(db: Database) -> Path | None:
    """The file whose flock is the delivery lock of an SQLite database; None in memory."""
    if not db.is_sqlite:
        return None
    database = make_url(db.url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(os.path.abspath(database) + ".leader")
