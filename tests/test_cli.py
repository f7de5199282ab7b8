"""The ``warroom`` command line, run as a real process (``python -m bot``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.settings import Settings
from tests.conftest import ROOT
from tests.harness import Harness


def warroom(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "WARROOM_PLAYBOOKS": str(settings.playbooks_dir),
        "WARROOM_ONCALL": str(settings.oncall_file),
    }
    env.pop("SLACK_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_db_upgrade_creates_the_schema_and_is_idempotent(settings: Settings) -> None:
    first = warroom(settings, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    assert warroom(settings, "db", "upgrade").returncode == 0


def test_replicas_starting_together_both_migrate(settings: Settings) -> None:
    """Two replicas deployed at once each migrate a fresh database on start: both succeed,
    one waiting for the other, instead of one failing to create the schema again."""
    upgrade = [sys.executable, "-m", "bot", "db", "upgrade"]
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    replicas = [
        subprocess.Popen(upgrade, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for replica in replicas:
        _, stderr = replica.communicate(timeout=120)
        assert replica.returncode == 0, stderr.decode()


def test_lint_passes_on_the_shipped_playbooks(settings: Settings) -> None:
    result = warroom(settings, "playbooks", "lint")
    assert result.returncode == 0, result.stdout
    assert "0 error(s)" in result.stdout


def test_lint_names_file_line_and_field(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\nmatch: ['alertname=\"X\"']\nseverity: sev9\n"
    )
    result = warroom(settings, "playbooks", "lint", str(folder))
    assert result.returncode == 1
    assert "broken.yaml:4: severity" in result.stdout


def test_route_explains_where_sample_alerts_go(settings: Settings, samples: Path) -> None:
    result = warroom(settings, "route", str(samples / "alertmanager-0.25-firing.json"))
    assert result.returncode == 0, result.stderr
    assert "playbook:  model-drift" in result.stdout
    assert 'group key: model-drift:{alertname="ModelDriftHigh",model="recsys-v3"}' in result.stdout
    assert "data-scientist: UDS" in result.stdout


def test_route_says_so_when_a_payload_holds_no_alerts(settings: Settings, samples: Path) -> None:
    confirmation = samples / "cloudwatch_sns_subscription_confirmation.json"
    result = warroom(settings, "route", str(confirmation), "--source", "cloudwatch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("no alerts in this payload")


def test_route_rejects_a_malformed_file(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "4", "alerts": [{"status": "firing"}]}')
    result = warroom(settings, "route", str(bad))
    assert result.returncode == 1
    assert "alerts.0" in result.stderr


async def test_postmortem_prints_markdown(bot: Harness) -> None:
    await bot.slash("declare Ranking model serving NaNs", user="UX1")
    await bot.slash("resolve rolled back to ranker-v41", user="UX1", channel=await _channel(bot))
    result = await asyncio.to_thread(warroom, bot.settings, "postmortem", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Postmortem: Incident #1")
    assert "rolled back to ranker-v41" in result.stdout
    missing = await asyncio.to_thread(warroom, bot.settings, "postmortem", "7")
    assert missing.returncode == 1
    assert "no incident #7" in missing.stderr


async def _channel(bot: Harness) -> str:
    await bot.settle()
    return bot.slack.calls("conversations.create")[0].response["channel"]["id"]


def test_route_says_why_other_playbooks_did_not_match(settings: Settings, samples: Path) -> None:
    result = warroom(settings, "route", str(samples / "alertmanager-0.25-firing.json"))
    assert "✔ model-drift" in result.stdout
    assert "does not hold (alertname='ModelDriftHigh')" in result.stdout


def test_lint_warns_about_a_shadowed_playbook(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "broad.yaml").write_text(
        "id: broad\ntitle: Any GPU alert\nmatch: ['alertname=~\"GPU.*\"']\npriority: 5\n"
    )
    (folder / "narrow.yaml").write_text(
        "id: narrow\ntitle: GPU XID\nmatch: ['alertname=~\"GPU.*\"', 'xid=\"79\"']\n"
    )
    result = warroom(settings, "playbooks", "lint", str(folder))
    assert result.returncode == 0, result.stdout  # a warning, not an error
    assert "narrow.yaml:3: warning: match: playbook 'narrow' can never be chosen" in result.stdout


async def test_stats_prints_the_figures(bot: Harness) -> None:
    bot.clock.now = datetime.now(UTC) - timedelta(hours=1)  # type: ignore[attr-defined]
    await bot.slash("declare Ranking model serving NaNs", user="UX1")
    result = await asyncio.to_thread(warroom, bot.settings, "stats", "--days", "7")
    assert result.returncode == 0, result.stderr
    assert "sev3" in result.stdout.lower()


def test_serve_strict_refuses_a_broken_playbook(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "broken.yaml").write_text("id: broken\ntitle: Broken\nserverity: sev2\n")
    result = warroom(settings.model_copy(update={"playbooks_dir": folder}), "serve", "--strict")
    assert result.returncode == 1
    assert "broken.yaml:3: serverity" in result.stderr
