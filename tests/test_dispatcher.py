"""The dispatcher's promises: pages first, one incident's messages in order, retries."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import as_utc, utcnow
from bot.db import Database
from bot.dispatcher import Claimed, Deferred, Dispatcher
from bot.models import Effect, EffectState
from tests.conftest import FakeClock
from tests.harness import Harness


async def test_pages_are_delivered_before_cards_and_channel_messages(
    bot: Harness, samples: Path
) -> None:
    bot.rt.after_commit = lambda: None  # let the effects pile up, as during a storm
    for n in range(3):
        payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
        for alert in payload["alerts"]:
            alert["fingerprint"] += f"-{n}"
            alert["labels"]["model"] = f"model-{n}"
        await bot.post_alerts(payload)

    claimed = await bot.dispatcher.claim()

    kinds = [effect.kind for effect in claimed]
    # All three page UDS2: one DM at a time, and the pages waiting go out in one DM.
    assert kinds[0] == "send_page" and kinds.count("send_page") == 1, kinds
    assert kinds.count("open_channel") == 3  # the channels come next, one per incident


async def test_one_incidents_effects_go_out_in_order(bot: Harness, samples: Path) -> None:
    bot.rt.after_commit = lambda: None
    await bot.post_alerts(json.loads((samples / "alertmanager-0.25-firing.json").read_text()))
    first = {e.kind for e in await bot.dispatcher.claim()}
    assert "open_channel" in first and "post_card" not in first  # the card waits its turn


async def _add_effect(db: Database, now: datetime, key: str = "incident:1") -> int:
    async with db.transaction() as session:
        effect = Effect(kind="post_event", ordering_key=key, payload={}, due_at=now)
        effect.created_at = now
        session.add(effect)
        await session.flush()
        return effect.id


async def _effect(db: Database, effect_id: int) -> Effect:
    async with db.transaction() as session:
        return await session.get_one(Effect, effect_id)


async def test_a_deferred_effect_waits_without_counting_an_attempt(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    until = clock.now + timedelta(seconds=5)
    tries: list[int] = []

    async def not_yet(effect: Claimed) -> None:
        tries.append(effect.id)
        raise Deferred(until)

    dispatcher = Dispatcher(db, not_yet, clock=clock)
    effect_id = await _add_effect(db, clock.now)
    assert await dispatcher.drain() == 1
    dispatcher.close()

    row = await _effect(db, effect_id)
    assert (row.state, row.attempts, row.last_error) == (EffectState.PENDING, 0, None)
    assert row.claimed_until is None and as_utc(row.due_at) == until
    assert await dispatcher.claim() == []  # not due before its slot
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    clock.advance(seconds=5)
    assert [e.id for e in await dispatcher.claim()] == [effect_id]


async def test_the_dispatcher_wakes_itself_when_a_deferral_is_due(db: Database) -> None:
    """No scheduler tick here: only the dispatcher's own alarm can deliver it again."""
    deferred: list[int] = []
    delivered: list[int] = []
    done = asyncio.Event()

    async def later_once(effect: Claimed) -> None:
        if not deferred:
            deferred.append(effect.id)
            raise Deferred(utcnow() + timedelta(milliseconds=200))
        delivered.append(effect.id)
        done.set()

    dispatcher = Dispatcher(db, later_once)
    effect_id = await _add_effect(db, utcnow())
    await dispatcher.drain()
    assert delivered == []
    async with asyncio.timeout(5):
        await done.wait()
    await dispatcher.idle()
    dispatcher.close()
    assert delivered == [effect_id]
    assert (await _effect(db, effect_id)).state == EffectState.DONE


async def test_a_batchs_outcomes_are_written_each_to_its_own_effect(
    db: Database, clock: FakeClock
) -> None:
    """A deferral or retry must not revive an effect that was finished meanwhile (as a
    combined page marks the sends it showed), and the others are written as they ended."""
    ids = [await _add_effect(db, clock.now, f"incident:{n}") for n in range(5)]
    finished_meanwhile = {ids[0], ids[2]}

    async def deliver(effect: Claimed) -> None:
        if effect.id in finished_meanwhile:
            async with db.transaction() as session:
                row = await session.get_one(Effect, effect.id)
                row.state, row.delivered_at = EffectState.DONE, clock.now
        if effect.id in (ids[0], ids[1]):
            raise Deferred(clock.now + timedelta(seconds=5))
        if effect.id in (ids[2], ids[3]):
            raise RuntimeError("Slack is down")

    dispatcher = Dispatcher(db, deliver, clock=clock)
    await dispatcher.drain()
    dispatcher.close()

    rows = [await _effect(db, effect_id) for effect_id in ids]
    assert [(row.state, row.attempts) for row in rows] == [
        (EffectState.DONE, 0),  # finished meanwhile, then deferred: stays done
        (EffectState.PENDING, 0),  # deferred
        (EffectState.DONE, 0),  # finished meanwhile, then failed: stays done
        (EffectState.PENDING, 1),  # failed: retried later
        (EffectState.DONE, 1),  # delivered
    ]
    assert rows[3].last_error == "RuntimeError('Slack is down')"
    assert as_utc(rows[1].due_at) == clock.now + timedelta(seconds=5)
