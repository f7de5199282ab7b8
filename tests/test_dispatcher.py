"""The dispatcher's promises: pages first, one incident's messages in order, retries."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert kinds[:3] == ["send_page"] * 3, kinds
    assert "open_channel" in kinds[3:]  # the channels come next, one per incident


async def test_one_incidents_effects_go_out_in_order(bot: Harness, samples: Path) -> None:
    bot.rt.after_commit = lambda: None
    await bot.post_alerts(json.loads((samples / "alertmanager-0.25-firing.json").read_text()))
    first = {e.kind for e in await bot.dispatcher.claim()}
    assert "open_channel" in first and "post_card" not in first  # the card waits its turn
