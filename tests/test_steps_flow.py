"""Working an incident from the playbook's checklist: Done, Skip with a reason, and the
automated check Warroom runs itself against a real (local) HTTP endpoint."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from bot import render
from bot.models import StepProgress, TimelineEvent
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness


class FeatureStore(BaseHTTPRequestHandler):
    """A feature store's freshness endpoint: /freshness/<view> → {"age_seconds": …}."""

    ages: ClassVar[dict[str, int]] = {"user_embeddings": 7200, "item_stats": 60}

    def do_GET(self) -> None:
        view = self.path.rsplit("/", 1)[-1]
        body = json.dumps({"view": view, "age_seconds": self.ages.get(view, 0)}).encode()
        self.send_response(200 if view in self.ages else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feature_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeatureStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PLAYBOOK = """
id: feature-freshness
title: Feature store staleness
incident_title: "Stale features: {{{{ labels.feature_view }}}}"
match: ['alertname="FeatureViewStale"']
severity: {{from_label: severity, map: {{critical: sev1, warning: sev3}}}}
page: [ml-engineer]
group_by: [alertname, feature_view]
links:
  - title: Freshness dashboard
    url: "https://grafana.example/d/fs?var-view={{{{ labels.feature_view }}}}"
steps:
  - title: Check how old the feature view is
    role: ml-engineer
    details: The materialisation job should keep it under an hour old.
    check:
      type: http
      url: "{base}/freshness/{{{{ labels.feature_view }}}}"
      json_path: age_seconds
      below: 3600
  - title: Restart the materialisation job
    role: ml-engineer
  - title: Re-embed the LLM retrieval index
    when: ['model_kind="llm"']
  - title: Tell the model owners
    role: data-scientist
"""


@pytest.fixture
async def bot_with_checks(
    settings: Settings,
    fake_slack: FakeSlackApi,
    clock: FakeClock,
    tmp_path: Path,
    feature_store: str,
) -> AsyncIterator[Harness]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "feature-freshness.yaml").write_text(
        textwrap.dedent(PLAYBOOK.format(base=feature_store))
    )
    custom = settings.model_copy(update={"playbooks_dir": folder})
    async with Harness.running(custom, fake_slack, clock) as bot:
        assert bot.rt.config.problems == []
        yield bot


def stale_alert(view: str = "user_embeddings") -> dict[str, Any]:
    started = datetime(2026, 11, 30, 9, 55, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "{}",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "FeatureViewStale",
                    "feature_view": view,
                    "severity": "critical",
                },
                "annotations": {"summary": f"{view} has not been materialised for 2h"},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"fp-{view}",
            }
        ],
    }


async def steps_of(bot: Harness) -> list[StepProgress]:
    async with bot.rt.db.transaction() as session:
        return list(await session.scalars(select(StepProgress).order_by(StepProgress.position)))


def checklist_updates(slack: FakeSlackApi) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls() if "steps done" in c.params.get("text", "")]


async def test_incident_gets_templated_title_mapped_severity_links_and_its_steps(
    bot_with_checks: Harness,
) -> None:
    bot = bot_with_checks
    assert (await bot.post_alerts(stale_alert())).status_code == 200
    await bot.settle()

    name = bot.slack.calls("conversations.create")[0].params["name"]
    assert name == "inc-1-stale-features-user-embeddings"
    steps = await steps_of(bot)
    assert [s.title for s in steps] == [  # the LLM-only step is left out for this alert
        "Check how old the feature view is",
        "Restart the materialisation job",
        "Tell the model owners",
    ]
    [card] = [
        json.dumps(c.params)
        for c in bot.slack.calls("chat.postMessage")
        if "incident_ack" in json.dumps(c.params)
    ]
    assert "SEV1" in card  # severity=critical mapped to sev1
    assert "var-view=user_embeddings" in card


async def test_check_runs_when_its_step_is_current_and_reports_the_value(
    bot_with_checks: Harness,
) -> None:
    bot = bot_with_checks
    await bot.post_alerts(stale_alert())
    await bot.settle()

    [first, *_] = await steps_of(bot)
    assert first.check_outcome == "fail"
    assert "7200" in (first.check_detail or "")
    async with bot.rt.db.transaction() as session:
        event = await session.scalar(
            select(TimelineEvent).where(TimelineEvent.kind == "check_result")
        )
    assert event is not None and event.data["outcome"] == "fail"
    posted = [c.params["text"] for c in bot.slack.calls("chat.postMessage")]
    assert any("7200" in text for text in posted)


async def test_run_check_button_runs_it_again(bot_with_checks: Harness) -> None:
    bot = bot_with_checks
    await bot.post_alerts(stale_alert())
    await bot.settle()
    FeatureStore.ages["user_embeddings"] = 30  # the job caught up
    try:
        [first, *_] = await steps_of(bot)
        response = await bot.click(render.STEP_CHECK_ACTION, str(first.id), user="UML3")
        assert response.status_code == 200

        async def passed() -> bool:
            return (await steps_of(bot))[0].check_outcome == "pass"

        await bot.wait_until(passed)  # the click is answered before the check runs
        await bot.settle()  # the channel's messages are paced: the clock moves on
        assert any("pass" in c.params.get("text", "") for c in bot.slack.calls())
    finally:
        FeatureStore.ages["user_embeddings"] = 7200


async def test_done_and_skip_move_the_checklist_on(
    bot_with_checks: Harness, clock: FakeClock
) -> None:
    bot = bot_with_checks
    await bot.post_alerts(stale_alert())
    await bot.settle()
    first, second, third = await steps_of(bot)

    await bot.click(render.STEP_DONE_ACTION, str(first.id), user="UML3")
    await bot.slack.wait_for(lambda calls: checklist_updates(bot.slack))
    await bot.click(render.STEP_SKIP_ACTION, str(second.id), user="UML3")
    opened = await bot.slack.wait_for(lambda calls: [c for c in calls if c.method == "views.open"])
    view = opened[0].params["view"]
    assert view["private_metadata"] == str(second.id)

    empty = await bot.submit(render.SKIP_MODAL, str(second.id), {"reason": {"reason": " "}}, "UML3")
    assert empty.json()["response_action"] == "errors"
    reason = "the job restarted itself at 10:02"
    ok = await bot.submit(render.SKIP_MODAL, str(second.id), {"reason": {"reason": reason}}, "UML3")
    assert ok.status_code == 200 and ok.content in (b"", b"{}")
    await bot.settle()
    clock.advance(seconds=3)  # in-place edits are spaced out; the next one is now due
    await bot.settle()

    states = [(s.state, s.done_by, s.note) for s in await steps_of(bot)]
    assert states == [("done", "UML3", None), ("skipped", "UML3", reason), ("pending", None, None)]
    latest = checklist_updates(bot.slack)[-1]
    assert "2 of 3 steps done" in latest["text"]
    buttons = [
        e["value"] for b in latest["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [str(third.id), str(third.id)]  # Done and Skip of the third step only
    async with bot.rt.db.transaction() as session:
        kinds = list(await session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))
    assert "step_done" in kinds and "step_skipped" in kinds


async def test_a_finished_step_cannot_be_finished_twice(bot_with_checks: Harness) -> None:
    bot = bot_with_checks
    await bot.post_alerts(stale_alert())
    await bot.settle()
    first, *_ = await steps_of(bot)
    await bot.click(render.STEP_DONE_ACTION, str(first.id), user="UML3")
    await bot.click(render.STEP_DONE_ACTION, str(first.id), user="UDS1")
    replies = await bot.slack.wait_for(lambda calls: [c for c in calls if c.method == "respond"])
    assert "already done by" in replies[0].params["text"]
    assert (await steps_of(bot))[0].done_by == "UML3"


async def test_steps_command_shows_progress(bot_with_checks: Harness) -> None:
    bot = bot_with_checks
    await bot.post_alerts(stale_alert())
    await bot.settle()
    channel = bot.slack.calls("conversations.create")[0].response["channel"]["id"]
    reply = (await bot.slash("steps", channel=channel)).json()
    assert "0 of 3 steps done" in reply["text"]
    assert "Check how old the feature view is" in json.dumps(reply["blocks"])
