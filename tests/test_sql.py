"""IN lists for statements built once, padded to a power of two: the same rows, and a
statement text that repeats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from bot import sql
from bot.db import Database
from bot.models import Silence


async def test_a_padded_in_list_selects_the_same_rows_with_the_same_text(db: Database) -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    async with db.transaction() as session:
        session.add_all(
            Silence(matchers=["a=b"], reason=f"r{n}", created_by="U1", starts_at=at, ends_at=at)
            for n in range(8)
        )
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT"):
            sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    query = select(Silence.reason).where(Silence.reason.in_(sql.in_list("reasons")))
    try:
        found = []
        for wanted in ({"r1", "r2", "r3", "r4", "r5"}, {"r0", "r6", "r7", "x", "y", "z", "w"}):
            async with db.transaction() as session:
                rows = await session.scalars(query, {"reasons": sql.padded(wanted)})
                found.append(set(rows))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)
    assert found == [{"r1", "r2", "r3", "r4", "r5"}, {"r0", "r6", "r7"}]
    assert sent[0] == sent[1]  # five values and seven: both sent as eight


def test_padding_repeats_a_value_up_to_the_next_power_of_two() -> None:
    lengths = {n: len(sql.padded([str(i) for i in range(n)])) for n in (0, 1, 2, 3, 5, 64, 65)}
    assert lengths == {0: 0, 1: 1, 2: 2, 3: 4, 5: 8, 64: 64, 65: 128}
    assert set(sql.padded(["a", "b", "c"])) == {"a", "b", "c"}
