"""The alert webhook's edge: authentication, bad input, and what a 2xx promises."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.models import Alert, Effect, Incident
from tests.harness import Harness


async def stored(bot: Harness) -> tuple[int, int, int]:
    async with bot.rt.db.transaction() as session:
        return tuple(  # type: ignore[return-value]
            [
                int(await session.scalar(select(func.count()).select_from(model)))
                for model in (Alert, Incident, Effect)
            ]
        )


@pytest.fixture
def firing(samples: Path) -> bytes:
    return (samples / "alertmanager-0.25-firing.json").read_bytes()


async def test_token_in_query_string_is_accepted(bot: Harness, firing: bytes) -> None:
    token = bot.settings.webhook_token
    response = await bot.client.post(f"/alerts/alertmanager?token={token}", content=firing)
    assert response.status_code == 200
    assert response.json()["stored"] == 2


@pytest.mark.parametrize(
    "headers, query",
    [
        ({}, ""),
        ({"Authorization": "Bearer wrong"}, ""),
        ({"Authorization": "Basic dGVzdC13ZWJob29rLXRva2Vu"}, ""),
        ({}, "?token=wrong"),
    ],
)
async def test_wrong_or_missing_token_is_401_and_stores_nothing(
    bot: Harness, firing: bytes, headers: dict[str, str], query: str
) -> None:
    response = await bot.client.post(
        f"/alerts/alertmanager{query}", content=firing, headers=headers
    )
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    assert await stored(bot) == (0, 0, 0)


@pytest.mark.parametrize(
    "body, status, names",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[]", 400, "invalid alertmanager payload"),
        (json.dumps({"version": "4"}).encode(), 400, "alerts"),
        (json.dumps({"version": "3", "alerts": []}).encode(), 400, "version"),
    ],
)
async def test_malformed_payload_is_400_naming_the_problem(
    bot: Harness, body: bytes, status: int, names: str
) -> None:
    response = await bot.post_alerts(body)
    assert response.status_code == status
    assert names in response.json()["error"]
    assert await stored(bot) == (0, 0, 0)


async def test_one_bad_alert_rejects_the_whole_payload(bot: Harness, firing: bytes) -> None:
    payload = json.loads(firing)
    payload["alerts"][1]["startsAt"] = "yesterday"
    response = await bot.post_alerts(payload)
    assert response.status_code == 400
    assert "alerts.1.startsAt" in response.json()["error"]
    assert await stored(bot) == (0, 0, 0)


async def test_body_over_one_mebibyte_is_413(bot: Harness, firing: bytes) -> None:
    payload = json.loads(firing)
    payload["alerts"][0]["annotations"]["description"] = "x" * (1024 * 1024)
    response = await bot.post_alerts(payload)
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert await stored(bot) == (0, 0, 0)


async def test_body_over_limit_without_content_length_is_413(bot: Harness) -> None:
    async def chunks():  # streamed: no Content-Length header to refuse early on
        for _ in range(20):
            yield b" " * 65536

    response = await bot.client.post(
        "/alerts/alertmanager",
        content=chunks(),
        headers={"Authorization": f"Bearer {bot.settings.webhook_token}"},
    )
    assert response.status_code == 413


async def test_unknown_source_is_404_listing_known_ones(bot: Harness, firing: bytes) -> None:
    response = await bot.post_alerts(firing, source="nagios")
    assert response.status_code == 404
    assert "alertmanager" in response.json()["error"]


async def test_unknown_extra_fields_are_ignored(bot: Harness, firing: bytes) -> None:
    payload = json.loads(firing)
    payload["notification_reason"] = "new"  # Alertmanager >= 0.32
    payload["alerts"][0]["routeLabels"] = {"x": "y"}
    response = await bot.post_alerts(payload)
    assert response.status_code == 200


@pytest.fixture
async def database_down(bot: Harness) -> AsyncIterator[None]:
    """Point the running bot at a PostgreSQL port where nothing listens, then restore it."""
    healthy = bot.rt.db
    bot.rt.db = Database("postgresql://postgres@127.0.0.1:9/unreachable")
    yield
    await bot.rt.db.dispose()
    bot.rt.db = healthy


async def test_healthz_reports_the_database(bot: Harness) -> None:
    response = await bot.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "mode": "slack"}


async def test_healthz_is_503_when_the_database_is_down(bot: Harness, database_down: None) -> None:
    response = await bot.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


async def test_intake_is_503_when_the_database_is_down(
    bot: Harness, firing: bytes, database_down: None
) -> None:
    # 5xx, not 4xx: Alertmanager retries 5xx, so the alert arrives once the database is back.
    response = await bot.post_alerts(firing)
    assert response.status_code == 503
    assert "database" in response.json()["error"]
