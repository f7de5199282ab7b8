"""Shared fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL),
a fake Slack Web API over real HTTP, and the bot's real ASGI app wired to both."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import Database
from bot.settings import Settings, async_url
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"  # copies of ../shared/samples, kept with the tests


def load_sample(name: str) -> dict[str, Any]:
    """One of the sample payloads, parsed: a fresh copy each time, for a test to change."""
    payload: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return payload


SIGNING_SECRET = "test-signing-secret"
WEBHOOK_TOKEN = "test-webhook-token"

ONCALL_YAML = """
roles:
  data-scientist:
    name: Data scientist
    members: [UDS1, UDS2]
    rotation: 1w
    start: 2026-01-05T09:00:00
    timezone: Europe/London
    ack_timeout: 5m
  ml-engineer:
    name: ML engineer
    members: [UML1, UML2, UML3]
    rotation: 1d
    start: 2026-01-05T09:00:00
    timezone: Europe/London
    ack_timeout: 5m
  aiops-specialist:
    name: AIOps specialist
    members: [UOPS1, UOPS2]
    rotation: 1w
    start: 2026-01-05T09:00:00
    timezone: America/New_York
    ack_timeout: 10m
"""


class FakeClock:
    """A clock the test moves by hand: escalations are driven by it, not by sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for each test; migrations are applied by the app itself."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'warroom.db'}"
        return
    engine = create_async_engine(async_url(url))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The database alone, migrated, for tests that need no running bot."""
    database = Database(database_url)
    await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as slack:
        yield slack


@pytest.fixture
def oncall_file(tmp_path: Path) -> Path:
    path = tmp_path / "oncall.yaml"
    path.write_text(ONCALL_YAML)
    return path


@pytest.fixture
def clock() -> FakeClock:
    # Monday 2026-11-30 10:00 London, 329 days after the rotations began: UDS2 (week 47)
    # and UML3 (day 329) are on call; see ONCALL_YAML.
    return FakeClock(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlackApi, oncall_file: Path) -> Settings:
    return Settings(
        _env_file=None,
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.url,
        WARROOM_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        WARROOM_PLAYBOOKS=ROOT / "playbooks",
        WARROOM_ONCALL=oncall_file,
    )


@pytest.fixture
async def bot(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> AsyncIterator[Harness]:
    async with Harness.running(settings, fake_slack, clock) as harness:
        yield harness
