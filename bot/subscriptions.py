"""Confirms Amazon SNS subscriptions (the GET that SNS asks for before it sends alarms).

The URL was checked at the edge to be https on SNS's own regional host, so following it
cannot be turned into a request to an arbitrary (internal) address.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.dispatcher import PermanentError

log = logging.getLogger(__name__)


async def confirm(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    response = await client.get(payload["url"], timeout=10.0, follow_redirects=False)
    if response.is_success:
        log.info("confirmed the SNS subscription to %s", payload["topic"])
        return
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentError(f"SNS refused the confirmation: HTTP {response.status_code}")
    response.raise_for_status()  # 5xx, 408, 429: retried with backoff
