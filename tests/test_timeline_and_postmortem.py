"""A timeline worth reading: capture from Slack, milestones, follow-ups, and a postmortem
whose every citation checks out against the timeline."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from bot import service
from bot.citations import check_citations
from bot.incidents import IncidentRef
from bot.models import Postmortem, TimelineEvent
from bot.settings import Settings
from handlers.slack import ADD_TO_TIMELINE
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness


def firing(samples: Path, started: datetime) -> dict[str, Any]:
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    for alert in payload["alerts"]:
        alert["startsAt"] = started.isoformat().replace("+00:00", "Z")
    return payload


async def open_incident(bot: Harness, samples: Path) -> str:
    await bot.post_alerts(firing(samples, bot.clock() - timedelta(minutes=3)))
    await bot.settle()
    return bot.slack.calls("conversations.create")[0].response["channel"]["id"]


def pin(channel: str, ts: str, user: str = "UDS2") -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": "pushpin",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": "UML3",
        "event_ts": "1796033000.000100",
    }


async def entries(bot: Harness, kind: str) -> list[TimelineEvent]:
    async with bot.rt.db.transaction() as session:
        query = select(TimelineEvent).where(TimelineEvent.kind == kind).order_by(TimelineEvent.id)
        return list(await session.scalars(query))


async def test_a_pinned_message_joins_the_timeline_back_dated_with_author_and_link(
    bot: Harness, samples: Path
) -> None:
    channel = await open_incident(bot, samples)
    written = "1796032500.000200"  # 09:55 UTC, before the pin
    bot.slack.say(channel, "UML3", "rolled back ranker to v41 <!channel>", written)

    assert (await bot.event(pin(channel, written), "Ev01")).status_code == 200
    assert (await bot.event(pin(channel, written), "Ev01", retry=1)).status_code == 200
    await bot.slack.wait_for(lambda calls: [c for c in calls if c.method == "chat.getPermalink"])
    await bot.settle()

    [entry] = await entries(bot, "pinned")
    assert entry.at == datetime.fromtimestamp(1796032500.0002, tz=UTC)
    assert entry.actor == "UML3" and entry.data["added_by"] == "UDS2"
    assert entry.data["permalink"].endswith("/p1796032500000200")
    assert len(bot.slack.calls("conversations.history")) == 1  # the retry did nothing


async def test_the_shortcut_adds_a_message_once(bot: Harness, samples: Path) -> None:
    channel = await open_incident(bot, samples)
    bot.slack.say(channel, "UML3", "GPU node gpu-17 drained", "1796032600.000100")
    await bot.shortcut(ADD_TO_TIMELINE, channel, "1796032600.000100", "UDS2")
    await bot.slack.wait_for(lambda calls: [c for c in calls if c.method == "chat.getPermalink"])
    await bot.settle()
    await bot.event(pin(channel, "1796032600.000100"), "Ev02")  # pinned as well, later
    await bot.settle()
    assert len(await entries(bot, "pinned")) == 1


async def test_pins_outside_incident_channels_are_ignored(bot: Harness, samples: Path) -> None:
    await open_incident(bot, samples)
    bot.slack.say("CRANDOM", "UML3", "lunch?", "1796032600.000100")
    assert (await bot.event(pin("CRANDOM", "1796032600.000100"), "Ev03")).status_code == 200
    await bot.settle()
    assert bot.slack.calls("conversations.history") == []


async def test_an_entry_is_removed_by_its_author_and_the_removal_is_recorded(
    bot: Harness, samples: Path
) -> None:
    channel = await open_incident(bot, samples)
    await bot.slash("note the model owners were told", user="UDS2", channel=channel)
    [note] = await entries(bot, "note")
    refused = (await bot.slash(f"remove {note.id}", user="UML3", channel=channel)).json()
    assert "Only the entry's author" in refused["text"]
    assert (
        "out of the timeline"
        in (await bot.slash(f"remove {note.id}", "UDS2", channel)).json()["text"]
    )
    snap = await service.get_snapshot(bot.rt, IncidentRef(channel_id=channel))
    assert note.id not in {e.id for e in snap.events}
    assert len(await entries(bot, "note")) == 1  # still in the table
    assert len(await entries(bot, "entry_removed")) == 1


async def test_milestones_and_a_postmortem_that_checks_out(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_incident(bot, samples)
    await bot.slash("assign incident-commander <@UML3|maria>", user="UDS2", channel=channel)
    clock.advance(minutes=2)
    await bot.slash("ack", user="UDS2", channel=channel)
    clock.advance(minutes=5)
    assert "SEV1" in (await bot.slash("severity sev1", user="UML3", channel=channel)).json()["text"]
    clock.advance(minutes=8)
    await bot.slash("mitigated rolled back the feature pipeline", user="UML3", channel=channel)
    await bot.slash(
        "followup add a schema check to the pipeline <@UDS2|ana> 2026-12-15", "UML3", channel
    )
    clock.advance(minutes=20)
    await bot.slash("resolve drift gone after rollback", user="UML3", channel=channel)
    await bot.settle()

    markdown = list(bot.slack.uploads.values())[-1].decode()
    snap = await service.get_snapshot(bot.rt, IncidentRef(channel_id=channel))
    assert check_citations(markdown, snap) == []
    assert "add a schema check to the pipeline" in markdown
    assert "incident-commander" in markdown
    invites = [c.params["users"] for c in bot.slack.calls("conversations.invite")]
    assert "UML3" in invites
    summary = [
        c for c in bot.slack.calls("chat.postMessage") if "Postmortem of" in c.params["text"]
    ]
    assert "time to mitigate 18m" in json.dumps(summary[-1].params)  # 3m before open + 2 + 5 + 8


async def test_postmortems_are_kept_as_versions(bot: Harness, samples: Path) -> None:
    channel = await open_incident(bot, samples)
    await bot.slash("resolve done", user="UDS2", channel=channel)
    await bot.settle()
    await bot.slash("postmortem", user="UDS2", channel=channel)
    await bot.settle()
    async with bot.rt.db.transaction() as session:
        versions = list(
            await session.scalars(select(Postmortem.version).order_by(Postmortem.version))
        )
    assert versions == [1, 2]
    names = [c.params.get("filename") for c in bot.slack.calls("files.getUploadURLExternal")]
    assert names == ["postmortem-incident-1-v1.md", "postmortem-incident-1-v2.md"]


async def test_followups_are_listed_done_and_reminded_weekly(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_incident(bot, samples)
    await bot.slash("followup alert on null rate <@UDS2|ana>", user="UML3", channel=channel)
    await bot.slash("followup write the runbook", user="UML3", channel=channel)
    listing = (await bot.slash("followups", user="UDS2", channel="CRANDOM")).json()
    assert "alert on null rate" in json.dumps(listing) and "write the runbook" in json.dumps(
        listing
    )

    clock.now = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)  # the next Monday, 09:00
    await service.housekeeping(bot.rt)
    await service.housekeeping(bot.rt)  # the second tick must not remind again
    await bot.settle()
    reminders = [c for c in bot.slack.calls("chat.postMessage") if c.params["channel"] == "UDS2"]
    reminders = [c for c in reminders if "follow-ups" in c.params["text"]]
    assert len(reminders) == 1 and "alert on null rate" in json.dumps(reminders[0].params)

    followup_id = next(
        e["value"]
        for b in reminders[0].params["blocks"]
        if "accessory" in b
        for e in [b["accessory"]]
    )
    await bot.click("followup_done", followup_id, user="UDS2")
    await bot.slack.wait_for(
        lambda calls: any("is done" in c.params.get("text", "") for c in calls)
    )
    remaining = (await bot.slash("followups")).json()
    assert "alert on null rate" not in json.dumps(remaining)


async def test_stats_from_the_timeline(bot: Harness, samples: Path, clock: FakeClock) -> None:
    channel = await open_incident(bot, samples)
    clock.advance(minutes=4)
    await bot.slash("ack", user="UDS2", channel=channel)
    clock.advance(minutes=30)
    await bot.slash("resolve ok", user="UDS2", channel=channel)
    text = (await bot.slash("stats 30d")).json()["text"]
    assert "sev2" in text.lower()
    assert "7m" in text  # acknowledged 7 minutes after the alerts started
    bad = (await bot.slash("stats forever")).json()["text"]
    assert bad.startswith("Usage")


async def test_similar_past_incidents_are_shown_when_one_opens(
    bot: Harness, samples: Path, clock: FakeClock
) -> None:
    channel = await open_incident(bot, samples)
    await bot.slash("resolve rolled back the feature pipeline", user="UDS2", channel=channel)
    clock.advance(days=2)
    payload = firing(samples, clock.now)
    for alert in payload["alerts"]:
        alert["fingerprint"] += "-again"
    await bot.post_alerts(payload)
    await bot.settle()
    related = [
        c
        for c in bot.slack.calls("chat.postMessage")
        if "Similar past incidents" in c.params["text"]
    ]
    assert len(related) == 1
    text = json.dumps(related[0].params)
    assert "rolled back the feature pipeline" in text and "ModelDriftHigh" in text


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions endpoint that answers from ``answers``."""

    answers: ClassVar[list[tuple[int, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status, content = self.answers.pop(0) if self.answers else (500, "")
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_the_llm_narrative_is_a_cited_draft_and_failures_leave_the_document(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, samples: Path, llm: str
) -> None:
    with_llm = settings.model_copy(update={"llm_url": llm})
    async with Harness.running(with_llm, fake_slack, clock) as bot:
        channel = await open_incident(bot, samples)
        async with bot.rt.db.transaction() as session:
            detected = await session.scalar(select(func.min(TimelineEvent.id)))
        FakeLLM.answers[:] = [(200, f"Drift on recsys-v3 was detected [#{detected}]."), (500, "")]
        await bot.slash("resolve rollback", user="UDS2", channel=channel)
        await bot.settle()
        await bot.slash("postmortem", user="UDS2", channel=channel)  # the endpoint now fails
        await bot.settle()
        first, second = list(bot.slack.uploads.values())[-2:]
        assert "Drift on recsys-v3 was detected" in first.decode()
        assert "Drift on recsys-v3" not in second.decode()
        assert "# Postmortem" in second.decode()
