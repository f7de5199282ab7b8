"""SQLite for the async engine: aiosqlite, with one trip to its thread per statement.

aiosqlite runs each SQLite call in its own thread, so the event loop never waits on the
disk or on a lock. SQLAlchemy's adapter makes four such trips per statement (open a
cursor, execute, fetch, close); each trip is a thread hand-off and a loop wake-up, and
together they cost over twenty times what SQLite takes to run a small statement
(``python -m bench.sqlite_statement``). Here the whole statement runs in one trip.
``create_async_engine(..., module=DBAPI)`` plugs it in (a documented parameter: the
dialect's DBAPI module), so the URL stays ``sqlite+aiosqlite`` and everything else is
SQLAlchemy's own adapter.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)

Description = tuple[tuple[Any, ...], ...] | None
Outcome = tuple[Description, list[Any], int | None, int]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """One statement from start to finish, in aiosqlite's thread."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._finish(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._finish(operation, seq_of_parameters, many=True)

    def _finish(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection
        try:
            outcome = self.await_(
                connection._execute(_run, connection._conn, operation, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, rows, self.lastrowid, self.rowcount = outcome
        self._rows = deque(rows)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        # A server-side cursor fetches as it goes: that one keeps SQLAlchemy's trips.
        return AsyncAdapt_aiosqlite_ss_cursor(self) if server_side else _Cursor(self)


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


DBAPI = _DBAPI(aiosqlite, sqlite3)
