"""SQL helpers: dialect-specific statements both databases support, and IN lists whose
statement text repeats."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that understands ON CONFLICT on SQLite and PostgreSQL alike."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def in_(column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``, the list padded to a power of two by repeating a value.

    Each length of an IN list is another statement text, and the drivers prepare each new
    text (asyncpg: a round trip and a plan; the cache is per connection). Intake's lists
    are as long as a batch, which varies from commit to commit, so half of its lookups
    were prepared afresh. Padded, a batch of up to 64 alerts has seven lengths to cache.
    """
    padded = list(values)
    if padded:
        padded += padded[-1:] * ((1 << (len(padded) - 1).bit_length()) - len(padded))
    return column.in_(padded)
