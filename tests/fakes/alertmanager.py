"""Run a real Alertmanager for end-to-end tests of alert intake.

The webhook payload, its retries and its grouping are Alertmanager's behaviour, not ours;
the only honest test of intake is the real binary delivering to the real bot. Debian
packages it (``apt-get install prometheus-alertmanager``, 0.25 on bookworm).

    async with run_alertmanager(webhook_url, "token", tmp_path) as am:
        await am.post_alerts([{"labels": {"alertname": "ModelDriftHigh", "model": "m"}}])
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BINARY = "prometheus-alertmanager"
DEFAULT_BINARY_PATH = "/usr/bin/prometheus-alertmanager"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


@dataclass(slots=True)
class AlertmanagerProcess:
    """A running Alertmanager: its URL, process and log, and a way to inject alerts."""

    url: str  # e.g. http://127.0.0.1:40123
    process: asyncio.subprocess.Process
    log_path: Path
    config_path: Path

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Push alerts as Prometheus does (``POST /api/v2/alerts``).

        Each alert is ``{labels, annotations?, startsAt?, endsAt?, generatorURL?}``;
        an ``endsAt`` in the past resolves it. Datetimes may be given as RFC 3339 strings.
        """
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.post(f"{self.url}/api/v2/alerts", json=alerts)
        response.raise_for_status()

    async def alerts(self) -> list[dict[str, Any]]:
        """What Alertmanager currently holds (``GET /api/v2/alerts``), to debug a test."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.url}/api/v2/alerts")
        response.raise_for_status()
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def alertmanager_binary() -> str:
    """Locate the binary, failing loudly: a missing binary must fail tests, not skip them."""
    found = shutil.which(BINARY) or (
        DEFAULT_BINARY_PATH if Path(DEFAULT_BINARY_PATH).exists() else None
    )
    if found is None:
        raise RuntimeError(
            f"{BINARY} not found; install it with `apt-get install prometheus-alertmanager` "
            "(the end-to-end tests need a real Alertmanager)"
        )
    return found


def write_config(path: Path, webhook_url: str, bearer_token: str) -> None:
    """Write alertmanager.yml. JSON is valid YAML, so no quoting pitfalls with odd tokens.

    Timers are short so a test sees a notification in about a second and a resolve
    within a few; the real defaults (30 s / 5 m) would make tests crawl.
    """
    config = {
        "route": {
            "receiver": "warroom",
            "group_by": ["alertname", "model"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "warroom",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": bearer_token}
                        },
                    }
                ],
            }
        ],
    }
    path.write_text(json.dumps(config, indent=2))


def free_port() -> int:
    """Ask the OS for a free port (a tiny race with other processes is acceptable here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def run_alertmanager(
    webhook_url: str, bearer_token: str, tmp_path: Path
) -> AsyncIterator[AlertmanagerProcess]:
    """Start Alertmanager delivering to ``webhook_url``; stop it on exit."""
    binary = alertmanager_binary()
    workdir = Path(tmp_path) / "alertmanager"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    write_config(config_path, webhook_url, bearer_token)
    log_path = workdir / "alertmanager.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip listener on 0.0.0.0:9094
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    am = AlertmanagerProcess(f"http://127.0.0.1:{port}", process, log_path, config_path)
    try:
        await _wait_ready(am)
        yield am
    finally:
        await _stop(process)


async def _wait_ready(am: AlertmanagerProcess) -> None:
    """Poll ``/-/ready`` until 200; fail with Alertmanager's own log if it never comes."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if am.process.returncode is not None:
                raise RuntimeError(f"alertmanager exited early:\n{am.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{am.url}/-/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"alertmanager not ready after {READY_TIMEOUT}s:\n{am.log()}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Terminate politely, then kill: a stuck child must not outlive the test run."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
