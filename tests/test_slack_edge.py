"""Requests to /slack/events: signatures, and answers within Slack's three seconds."""

from __future__ import annotations

import time

from tests.fakes.signing import signed_headers, slash_command_body
from tests.harness import Harness


async def test_unsigned_request_is_401(bot: Harness) -> None:
    body = slash_command_body("list")
    response = await bot.client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 401


async def test_request_signed_with_another_secret_is_401(bot: Harness) -> None:
    body = slash_command_body("declare should not happen")
    response = await bot.client.post(
        "/slack/events", content=body, headers=signed_headers("not-the-secret", body)
    )
    assert response.status_code == 401
    assert (await bot.slash("list")).json()["text"].startswith("No open incidents")


async def test_stale_request_is_401(bot: Harness) -> None:
    body = slash_command_body("declare replayed")
    secret = bot.settings.slack_signing_secret or ""
    stale = int(time.time()) - 6 * 60  # Slack's SDK accepts five minutes of skew
    response = await bot.client.post(
        "/slack/events", content=body, headers=signed_headers(secret, body, timestamp=stale)
    )
    assert response.status_code == 401


async def test_tampered_body_is_401(bot: Harness) -> None:
    body = slash_command_body("list")
    headers = signed_headers(bot.settings.slack_signing_secret or "", body)
    tampered = slash_command_body("declare injected")
    response = await bot.client.post("/slack/events", content=tampered, headers=headers)
    assert response.status_code == 401


async def test_command_is_answered_before_slack_is_called(bot: Harness) -> None:
    """The reply comes from the database alone; channel creation waits for the dispatcher."""
    bot.rt.after_commit = lambda: None  # hold delivery back: nothing wakes the dispatcher
    response = await bot.slash("declare Embedding service down", user="UX1")
    assert response.status_code == 200
    assert "Declared incident #1" in response.json()["text"]
    assert bot.slack.calls("conversations.create") == []
    await bot.dispatcher.drain()
    assert len(bot.slack.calls("conversations.create")) == 1
