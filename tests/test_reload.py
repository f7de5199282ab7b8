"""Reloading playbooks and on-call without a restart; a bad edit keeps the last good set."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import ROOT, FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

ADMIN = "UADMIN1"


@pytest.fixture
def editable(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", folder, ignore=shutil.ignore_patterns("*.md"))
    return settings.model_copy(update={"playbooks_dir": folder, "admins": f"{ADMIN}, UOTHER"})


async def test_reload_picks_up_a_new_playbook(
    editable: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with Harness.running(editable, fake_slack, clock) as bot:
        assert bot.rt.config.playbooks.get("vector-db") is None
        (editable.playbooks_dir / "vector-db.yaml").write_text(
            "id: vector-db\ntitle: Vector DB down\nmatch: ['alertname=\"VectorDBDown\"']\n"
            "page: [ml-engineer]\n"
        )
        reply = (await bot.slash("reload", user=ADMIN)).json()["text"]
        assert reply.startswith("Reloaded ")
        assert bot.rt.config.playbooks.get("vector-db") is not None


async def test_a_broken_edit_keeps_the_last_good_version_and_says_why(
    editable: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with Harness.running(editable, fake_slack, clock) as bot:
        before = bot.rt.config.playbooks.get("model-drift")
        assert before is not None
        drift = editable.playbooks_dir / "model-drift.yaml"
        drift.write_text(drift.read_text().replace("severity: sev2", "severity: sev9"))

        reply = (await bot.slash("reload", user=ADMIN)).json()["text"]

        assert "model-drift.yaml" in reply and "severity" in reply
        assert "kept the last good version of playbook 'model-drift'" in reply
        assert bot.rt.config.playbooks.get("model-drift") == before


async def test_only_admins_may_reload(
    editable: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with Harness.running(editable, fake_slack, clock) as bot:
        reply = (await bot.slash("reload", user="USOMEONE")).json()["text"]
        assert "Only Warroom admins" in reply


async def test_sighup_reloads(
    editable: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> None:
    async with Harness.running(editable, fake_slack, clock) as bot:
        (editable.playbooks_dir / "default.yaml").unlink()
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):  # the handler runs on the event loop's next turn
            if bot.rt.config.playbooks.default.source_file is None:
                break
            await asyncio.sleep(0.01)
        assert bot.rt.config.playbooks.default.source_file is None  # the built-in default now
