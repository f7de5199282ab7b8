"""Paging people can trust: escalation policies, hand-offs from the DM, overrides, and no
page after an acknowledgement, even when they race."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from bot import incidents, render, service
from bot.clock import as_utc
from bot.incidents import IncidentRef
from bot.models import Page
from bot.settings import Settings
from tests.conftest import ROOT, FakeClock
from tests.fakes.alertmanager import free_port
from tests.fakes.signing import signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness


def firing(samples: Path, fingerprint: str = "") -> dict[str, Any]:
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    payload["alerts"] = payload["alerts"][:1]
    payload["alerts"][0]["fingerprint"] += fingerprint
    payload["alerts"][0]["labels"]["model"] = f"recsys{fingerprint}"
    return payload


def dms_to(slack: FakeSlackApi, user: str) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.postMessage") if c.params["channel"] == user]


async def pages(bot: Harness) -> list[Page]:
    async with bot.rt.db.transaction() as session:
        return list(await session.scalars(select(Page).order_by(Page.id)))


async def test_escalate_now_pages_the_next_member_at_once(bot: Harness, samples: Path) -> None:
    await bot.post_alerts(firing(samples))
    await bot.settle()
    [first] = await pages(bot)
    assert [b["action_id"] for b in dms_to(bot.slack, "UDS2")[0]["blocks"][-1]["elements"]] == [
        render.ACK_PAGE_ACTION,
        render.ESCALATE_PAGE_ACTION,
        render.REASSIGN_PAGE_ACTION,
    ]
    await bot.click(render.ESCALATE_PAGE_ACTION, str(first.id), user="UDS2")
    await bot.slack.wait_for(lambda calls: dms_to(bot.slack, "UDS1"))
    states = [(p.user_id, p.state) for p in await pages(bot)]
    assert states == [("UDS2", "escalated"), ("UDS1", "pending")]


async def test_reassign_hands_the_page_to_the_person_picked(bot: Harness, samples: Path) -> None:
    await bot.post_alerts(firing(samples))
    await bot.settle()
    [first] = await pages(bot)
    await bot.click(render.REASSIGN_PAGE_ACTION, str(first.id), user="UDS2")
    opened = await bot.slack.wait_for(lambda calls: [c for c in calls if c.method == "views.open"])
    assert opened[0].params["view"]["private_metadata"] == str(first.id)
    values = {"user": {"user": {"type": "users_select", "selected_user": "UHELPER"}}}
    body = await _submit_users_select(bot, str(first.id), values)
    assert body.status_code == 200
    await bot.slack.wait_for(lambda calls: dms_to(bot.slack, "UHELPER"))


async def _submit_users_select(
    bot: Harness, metadata: str, values: dict[str, Any]
) -> httpx.Response:

    payload = {
        "type": "view_submission",
        "team": {"id": "T0G9PQBBK", "domain": "subarachnoid"},
        "user": {"id": "UDS2", "username": "uds2", "team_id": "T0G9PQBBK"},
        "api_app_id": "A0WARROOM1",
        "token": "legacy-verification-token",
        "trigger_id": "1111.2222.abcdef",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": render.REASSIGN_MODAL,
            "private_metadata": metadata,
            "state": {"values": values},
            "team_id": "T0G9PQBBK",
        },
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed_headers(bot.settings.slack_signing_secret or "", body)
    return await bot.client.post("/slack/events", content=body, headers=headers)


async def test_page_another_role_mid_incident(bot: Harness, samples: Path) -> None:
    await bot.post_alerts(firing(samples))
    await bot.settle()
    channel = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    reply = (await bot.slash("page ml-engineer serving looks slow too", "UDS2", channel)).json()
    assert reply["text"] == "Paged <@UML3> as ML engineer."
    await bot.settle()
    assert dms_to(bot.slack, "UML3")
    unknown = (await bot.slash("page chef", "UDS2", channel)).json()["text"]
    assert "no role 'chef'" in unknown


async def test_a_page_dm_reads_less_and_renders_the_same(bot: Harness, samples: Path) -> None:
    # page_snapshot leaves out resolved alerts, steps and most of the timeline: a DM built
    # from it must show exactly what one built from the full snapshot shows.
    first = firing(samples)
    second = json.loads(json.dumps(first))
    alert = second["alerts"][0]
    alert["fingerprint"] += "-b"
    alert["labels"]["feature"] = "f2"  # not a grouping label: the same incident
    await bot.post_alerts(first)
    await bot.post_alerts(second)
    await bot.settle()
    alert["status"] = second["status"] = "resolved"
    alert["endsAt"] = alert["startsAt"]
    await bot.post_alerts(second)
    channel = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    await bot.slash("ack", user="UDS2", channel=channel)
    await bot.slash("page ml-engineer serving looks slow too", "UDS2", channel)
    await bot.settle()
    [incident_id] = {page.incident_id for page in await pages(bot)}
    async with bot.rt.db.read() as session:
        full = await incidents.snapshot(session, bot.rt.config, incident_id)
        part = await incidents.page_snapshot(session, bot.rt.config, incident_id)
    assert len(part.alerts) < len(full.alerts) and len(part.events) < len(full.events)
    assert full.steps and not part.steps
    assert {page.state for page in full.pages} == {"acknowledged", "pending"}
    for page in full.pages:
        assert render.page_message(part, page) == render.page_message(full, page)
    from_full = [(full, page) for page in full.pages]
    from_part = [(part, page) for page in full.pages]
    assert render.pages_message(from_part) == render.pages_message(from_full)


async def test_an_override_takes_the_next_page(bot: Harness, samples: Path) -> None:
    refused = (await bot.slash("override data-scientist <@UCOVER|c> 2h", user="USTRANGER")).json()
    assert "Only admins and the role's own members" in refused["text"]
    ok = (await bot.slash("override data-scientist <@UCOVER|c> 2h", user="UDS1")).json()
    assert "covers Data scientist" in ok["text"]
    await bot.post_alerts(firing(samples))
    await bot.settle()
    assert dms_to(bot.slack, "UCOVER") and not dms_to(bot.slack, "UDS2")
    oncall = (await bot.slash("oncall data-scientist")).json()["text"]
    assert "<@UCOVER> (override)" in oncall


async def test_oncall_shows_now_next_and_mtta(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    await bot.post_alerts(firing(samples))
    await bot.settle()  # moves the clock on: the new channel's messages are paced
    [page] = await pages(bot)
    clock.now = as_utc(page.sent_at) + timedelta(minutes=4)
    channel = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    await bot.slash("ack", user="UDS2", channel=channel)
    text = (await bot.slash("oncall")).json()["text"]
    assert "*Data scientist*" in text and "*ML engineer*" in text and "*AIOps specialist*" in text
    assert "now, primary: <@UDS2>" in text and "next, primary: <@UDS1>" in text
    assert "MTTA (30 days): 4m over 1 page(s)" in text
    assert "(their MTTA: 4m)" in text  # UDS2, now on call, acknowledged in 4 minutes


PLAYBOOK = """
id: serving
title: Serving outage
match: ['alertname="ServingDown"']
page: [ml-engineer]
escalation:
  repeat: 1
  levels:
    - {notify: "user:USRE", wait: 1m}
    - {notify: "layer:primary", wait: 2m}
"""


@pytest.fixture
async def policy_bot(
    request: pytest.FixtureRequest,
    settings: Settings,
    fake_slack: FakeSlackApi,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    """The bot with the serving playbook (or the variant a test passes as its param)."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "serving.yaml").write_text(getattr(request, "param", PLAYBOOK))
    async with Harness.running(
        settings.model_copy(update={"playbooks_dir": folder}), fake_slack, clock
    ) as bot:
        assert bot.rt.config.problems == []
        yield bot


async def serving_down(bot: Harness) -> None:
    """The serving playbook's alert fires; its pages are delivered."""
    alert = {
        "status": "firing",
        "labels": {"alertname": "ServingDown"},
        "annotations": {},
        "startsAt": "2026-11-30T09:59:00Z",
        "fingerprint": "srv",
    }
    await bot.post_alerts({"version": "4", "status": "firing", "alerts": [alert]})
    await bot.settle()


async def test_a_playbook_escalation_policy_runs_level_by_level_then_gives_up_loudly(
    policy_bot: Harness, clock: FakeClock
) -> None:
    bot = policy_bot
    await serving_down(bot)
    assert dms_to(bot.slack, "USRE")
    clock.advance(minutes=1)
    assert await service.escalate_due(bot.rt) == 1
    await bot.settle()
    assert dms_to(bot.slack, "UML3")  # level 2: the primary on call
    clock.advance(minutes=2)
    await service.escalate_due(bot.rt)
    await bot.settle()
    loud = [
        c.params["text"]
        for c in bot.slack.calls("chat.postMessage")
        if "<!here>" in c.params["text"]
    ]
    assert loud, "giving up must wake the channel"
    assert [p.state for p in await pages(bot)] == ["escalated", "exhausted"]


@pytest.mark.parametrize(
    "policy_bot", [PLAYBOOK.replace("[ml-engineer]", "[ml-engineer, ml-engineer]")], indirect=True
)
async def test_a_role_listed_twice_in_a_playbook_is_paged_once(policy_bot: Harness) -> None:
    await serving_down(policy_bot)
    assert [(p.role, p.attempt) for p in await pages(policy_bot)] == [("ml-engineer", 0)]


async def test_no_page_after_an_acknowledgement_when_they_race(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    """An acknowledgement and an escalation tick at the same moment, many times over: the
    incident row lock must make one of them win cleanly (run this on PostgreSQL)."""
    for n in range(12):
        await bot.post_alerts(firing(samples, fingerprint=f"-{n}"))
    await bot.settle()
    clock.advance(hours=1)  # every page is past its deadline
    refs = [IncidentRef(number=n + 1) for n in range(12)]
    await asyncio.gather(
        service.escalate_due(bot.rt),
        *(service.acknowledge(bot.rt, "UDS2", ref) for ref in refs),
    )
    for page in await pages(bot):
        assert page.state in ("acknowledged", "escalated"), (page.id, page.state)
    by_incident: dict[int, list[Page]] = {}
    for page in await pages(bot):
        by_incident.setdefault(page.incident_id, []).append(page)
    for chain in by_incident.values():
        acked = [p for p in chain if p.state == "acknowledged"]
        assert len(acked) == 1  # exactly one page of each incident was acknowledged …
        later = [p for p in chain if p.sent_at > acked[0].acknowledged_at]
        assert later == []  # … and nothing was paged after it


FAST_PLAYBOOK = """
id: fast
title: Fast
match: ['alertname="KillTest"']
page: [data-scientist]
ack_timeout: 3s
"""


async def test_an_escalation_survives_kill_minus_9(
    settings: Settings, fake_slack: FakeSlackApi, tmp_path: Path
) -> None:
    """The real server, killed with SIGKILL after paging; its successor escalates on time."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "fast.yaml").write_text(FAST_PLAYBOOK)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": fake_slack.url,
        "PORT": str(port),
        "WARROOM_WEBHOOK_TOKEN": "kill-token",
        "WARROOM_PLAYBOOKS": str(folder),
        "WARROOM_ONCALL": str(settings.oncall_file),
    }
    alert = {
        "status": "firing",
        "labels": {"alertname": "KillTest"},
        "annotations": {},
        "startsAt": "2026-11-29T09:00:00Z",
        "fingerprint": "kill",
    }
    first = await _start(env, port)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{port}/alerts/alertmanager?token=kill-token",
                json={"version": "4", "status": "firing", "alerts": [alert]},
            )
        assert response.status_code == 200
        paged = await fake_slack.wait_for(
            lambda calls: [
                c
                for c in calls
                if c.method == "chat.postMessage" and c.params["channel"].startswith("UDS")
            ],
            timeout=20,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    first_user = paged[0].params["channel"]
    second = await _start(env, port)
    try:
        others = await fake_slack.wait_for(
            lambda calls: [
                c
                for c in calls
                if c.method == "chat.postMessage"
                and c.params["channel"].startswith("UDS")
                and c.params["channel"] != first_user
            ],
            timeout=30,
        )
        assert others
    finally:
        second.terminate()
        await asyncio.wait_for(second.wait(), 20)


async def _start(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--host",
        "127.0.0.1",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with httpx.AsyncClient() as client:
        for _ in range(300):  # up to ~30 s for migrations and start-up on a busy machine
            if process.returncode is not None:
                raise RuntimeError("warroom serve exited during start-up")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("warroom serve did not become healthy")


async def test_the_daily_handoff_notice_names_who_takes_over(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    with_channel = settings.model_copy(update={"handoff_channel": "CHANDOFF"})
    async with Harness.running(with_channel, fake_slack, clock) as bot:
        await service.housekeeping(bot.rt)  # 10:00 UTC: today's 09:00 notice is due
        await service.housekeeping(bot.rt)  # and only once
        await bot.settle()
    notices = [
        c.params for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == "CHANDOFF"
    ]
    assert len(notices) == 1
    text = json.dumps(notices[0])
    # The daily ml-engineer rotation hands over at 09:00 London tomorrow: UML3 -> UML1.
    assert "ML engineer: <@UML3> \\u2192 <@UML1> at 09:00 Europe/London" in text
