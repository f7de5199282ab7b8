"""What the benchmarks share: the load they send, the server process, and its figures.

``bench.ingest``, ``bench.storm`` and ``bench.paging`` each start the real app as a
subprocess, send it Alertmanager notifications and read what it stored; the pieces that
do so are here, so that the three measure the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import Database
from bot.models import Alert, Effect, EffectState, Incident
from bot.settings import async_url

ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-bench"
STARTUP_TIMEOUT = 30.0  # migrations on a fresh database included


STOP_TIMEOUT = 30.0  # shutdown waits for the dispatcher to deliver what is pending


REQUEST_TIMEOUT = 60.0


@dataclass
class Notifications:
    """Makes Alertmanager notifications whose alerts never repeat within or across runs.

    The run id is in every fingerprint and ``model`` label, so the final count only sees
    this run's rows even in a database that was used before. One notification carries
    alerts of one group, as Alertmanager sends them.
    """

    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))
    sent_alerts: int = 0
    groups: set[str] = field(default_factory=set)

    def batch(self, count: int, per_request: int, *, groups: int, tag: str) -> list[bytes]:
        return [
            self._one(per_request, f"{tag}-{self.run_id}-{r % groups:02d}") for r in range(count)
        ]

    def _one(self, per_request: int, model: str) -> bytes:
        alerts = []
        for _ in range(per_request):
            n = self.sent_alerts
            self.sent_alerts += 1
            starts = self.base + timedelta(milliseconds=n)
            labels = {
                "alertname": "ModelDriftHigh",
                "model": model,
                "feature": f"f{n}",
                "severity": "critical",
                "team": "ml",
            }
            alerts.append(
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"PSI 0.41 on feature f{n} exceeds 0.2"},
                    "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=psi",
                    "fingerprint": f"{self.run_id}{n:08x}",
                }
            )
        self.groups.add(model)
        group = {"alertname": "ModelDriftHigh", "model": model}
        payload = {
            "receiver": "warroom",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": group,
            "commonLabels": {**group, "severity": "critical", "team": "ml"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "version": "4",
            "groupKey": f'{{}}:{{alertname="ModelDriftHigh", model="{model}"}}',
            "truncatedAlerts": 0,
        }
        return json.dumps(payload).encode()


class OneConnectionEach(httpx.AsyncBaseTransport):
    """``connections`` single-connection transports, each request taking an idle one.

    httpcore's pool rescans every connection (with a readability check on each) for
    every queued request, so one pool of 32 connections costs the client ~3 ms of CPU
    per request: measured here, one ``AsyncClient`` with ``max_connections=32`` reached
    ~310 requests/s on ``/bench/noop`` with the server 80 % idle, 32 one-connection pools
    ~1,200. The benchmark would have measured httpx, not Warroom. This keeps one client
    and one connection per request in flight while making the pool trivial.
    """

    def __init__(self, connections: int) -> None:
        self._all = [
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1))
            for _ in range(connections)
        ]
        self._idle: asyncio.LifoQueue[httpx.AsyncHTTPTransport] = asyncio.LifoQueue()
        for transport in self._all:
            self._idle.put_nowait(transport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = await self._idle.get()
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            self._idle.put_nowait(transport)
            raise
        stream = _Releasing(response.stream, lambda: self._idle.put_nowait(transport))
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for transport in self._all:
            await transport.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its connection back once the client has closed it."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


def make_client(port: int, token: str, connections: int, *, httpx_pool: bool) -> httpx.AsyncClient:
    """One client for the whole run; ``httpx_pool`` uses httpx's own pool, for comparison."""
    transport = None if httpx_pool else OneConnectionEach(connections)
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
        timeout=REQUEST_TIMEOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    app: list[str], port: int, log: Path, settings: dict[str, str]
) -> subprocess.Popen[bytes]:
    """``uvicorn <app>`` as its own process, so its CPU and memory are its own to measure.

    Every setting a ``.env`` file in the working directory could fill in is given, blank
    where unused (blank counts as unset), so a run never depends on where it starts.
    """
    env = {
        **os.environ,
        "WARROOM_PLAYBOOKS": "./playbooks",
        "WARROOM_ONCALL": "./oncall.example.yaml",
        "WARROOM_SOURCES": str(log.parent / "no-sources.yaml"),
        "SLACK_BOT_TOKEN": "",
        "SLACK_API_URL": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
        "WARROOM_GRAFANA_SECRET": "",
        "WARROOM_GRAFANA_SIGNATURE_HEADER": "",
        "WARROOM_GRAFANA_TIMESTAMP_HEADER": "",
        "WARROOM_SNS_VERIFY_SIGNATURES": "false",
        "WARROOM_ANNOUNCE_CHANNEL": "",
        "WARROOM_HANDOFF_CHANNEL": "",
        "WARROOM_LLM_URL": "",
        "PORT": str(port),
        **settings,
    }
    command = [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_app(
    database_url: str, token: str, port: int, slack_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """``bot.app:create_app`` as production builds it, talking to a fake Slack over HTTP."""
    settings = {
        "DATABASE_URL": database_url,
        "WARROOM_WEBHOOK_TOKEN": token,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack_url,
    }
    return start_server(["--factory", "bot.app:create_app"], port, log, settings)


def stop_server(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM (uvicorn's graceful stop), then SIGKILL if it hangs; returns seconds taken."""
    started = time.perf_counter()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"server did not stop within {STOP_TIMEOUT:.0f} s; killing it", file=sys.stderr)
            proc.kill()
            proc.wait()
    return time.perf_counter() - started


async def wait_healthy(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} during start-up")
        try:
            response = await client.get("/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT:.0f} s ({last})")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process from /proc/<pid>/stat (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def add_database_url(parser: argparse.ArgumentParser, reset: str = "") -> None:
    """The ``--database-url`` option every benchmark takes; ``reset`` says when it is wiped."""
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file in a temporary directory; a PostgreSQL URL "
        "(database name containing 'bench') has its public schema dropped and recreated"
        + (f" {reset}" if reset else ""),
    )


async def reset_postgres(url: str) -> None:
    """Create the database if missing, then drop and recreate its public schema.

    Refuses a database whose name lacks "bench": dropping a schema is not something a
    mistyped URL should be able to do to real data.
    """
    target = make_url(async_url(url))
    name = target.database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to reset database {name!r}: its name must contain 'bench'")
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if await conn.scalar(query, {"name": name}) is None:
                quoted = admin.dialect.identifier_preparer.quote(name)
                await conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        await admin.dispose()
    engine = create_async_engine(target, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@dataclass
class Counts:
    alerts: int
    incidents: int
    effects_done: int
    effects_pending: int
    effects_dead: int
    page_delays: list[float]  # seconds from a page's commit to its delivery, measured run


async def count_rows(db: Database, run_id: str, since: datetime) -> Counts:
    """This run's rows only: its run id is in every fingerprint and group key.

    Page delays are those of pages created since the measured intake began: how long a
    responder would have waited for Slack while the storm was going on.
    """
    async with db.transaction() as session:
        alerts = await session.scalar(
            select(func.count()).select_from(Alert).where(Alert.fingerprint.like(f"{run_id}%"))
        )
        incidents = await session.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.group_key.like(f"%-{run_id}-%"))
        )
        states = dict(
            (await session.execute(select(Effect.state, func.count()).group_by(Effect.state))).all()
        )
        pages = await session.execute(
            select(Effect.created_at, Effect.delivered_at).where(
                Effect.kind == "send_page",
                Effect.state == EffectState.DONE,
                Effect.created_at >= since,
            )
        )
        delays = sorted((done - made).total_seconds() for made, done in pages.all() if done)
    return Counts(
        alerts=alerts or 0,
        incidents=incidents or 0,
        effects_done=states.get(EffectState.DONE, 0),
        effects_pending=states.get(EffectState.PENDING, 0),
        effects_dead=states.get(EffectState.DEAD, 0),
        page_delays=delays,
    )


def describe(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.get_backend_name()} {parsed.render_as_string(hide_password=True)}"


def show_log(log: Path, out: TextIO) -> None:
    """Surface what the server logged (warnings and up): a failing dispatcher shows here.

    Tracebacks are folded to their unindented lines (header, log message, exception), and
    lines that differ only in numbers (ids, times) count as one, so a repeated failure
    stays one line with its count and first example.
    """
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    if not lines:
        return
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for line in lines:
        if line and not line[0].isspace() and line != "Traceback (most recent call last):":
            key = re.sub(r"\d+", "#", line)
            counts[key] += 1
            example.setdefault(key, line)
    print(f"server log: {len(lines)} lines, {len(counts)} distinct messages:", file=out)
    for key, count in counts.most_common(15):
        print(f"  {count:>4} x {example[key][:220]}", file=out)


def run_main(
    bench: Callable[[argparse.Namespace, Path], Awaitable[int]],
    args: argparse.Namespace,
    prefix: str,
) -> int:
    """Run one benchmark in a scratch folder; its exit status, or 130 when interrupted."""
    # A CI timeout sends SIGTERM: turn it into KeyboardInterrupt so the server is stopped
    # on the way out instead of being left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(bench(args, workdir))
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
