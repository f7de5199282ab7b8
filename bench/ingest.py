"""Alert intake throughput: Alertmanager webhooks at N concurrent connections.

    python -m bench.ingest [--requests 2000] [--concurrency 32] [--alerts-per-request 2]
                           [--database-url postgresql://postgres@127.0.0.1:5432/warroom_bench]

Starts ``bench.server`` (the real app in console mode) as a subprocess on a free loopback
port, then sends the same Alertmanager notifications first to ``/bench/noop`` (token,
body, JSON and parser, no database: the ceiling) and then to ``/alerts/alertmanager``
(the real intake). Every alert is distinct (its own fingerprint and startsAt) and the
notifications are spread over 40 groups, so the run measures storing alerts and
opening/joining incidents, not the cheap duplicate path. It also reports how long the
Slack effects of the storm (channels, pages, card edits) waited for the dispatcher. After
the server has stopped, the database is counted: every alert sent must be stored, and
each group must have exactly one incident, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.server import NOOP_PATH
from bot.db import Database
from bot.models import Alert, Effect, EffectState, Incident
from bot.settings import async_url

ROOT = Path(__file__).resolve().parent.parent
INTAKE_PATH = "/alerts/alertmanager"
GROUPS = 40  # distinct `model` labels, hence incidents, in the measured run
WARMUP_GROUPS = 4
STARTUP_TIMEOUT = 30.0  # migrations on a fresh database included
SETTLE_TIMEOUT = 30.0  # for the warm-up's Slack effects to be delivered
STOP_TIMEOUT = 30.0  # shutdown waits for the dispatcher to deliver what is pending
REQUEST_TIMEOUT = 60.0
CLIENT_BOUND = 0.9  # client CPU share above which the ceiling is the client's


@dataclass
class PhaseResult:
    """One endpoint's figures; latencies are per request, in seconds, errors included."""

    endpoint: str
    alerts_per_request: int
    latencies: list[float]
    wall: float
    server_cpu: float
    client_cpu: float
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def ok_alerts(self) -> int:
        return (self.requests - len(self.errors)) * self.alerts_per_request

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile: an observed latency, never an interpolated one."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


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


# --- the client ----------------------------------------------------------------------------


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


# --- the server process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, token: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The server as its own process, so its CPU and memory are its own to measure.

    The Slack variables are set empty rather than removed: a ``.env`` file in the
    working directory would otherwise fill them in and leave console mode.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WARROOM_WEBHOOK_TOKEN": token,
        "WARROOM_PLAYBOOKS": "./playbooks",
        "WARROOM_ONCALL": "./oncall.example.yaml",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
        "PORT": str(port),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.server:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


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


# --- the load ------------------------------------------------------------------------------


async def run_phase(
    client: httpx.AsyncClient,
    path: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    alerts_per_request: int,
    server_pid: int,
) -> PhaseResult:
    """Send every body with ``concurrency`` requests in flight, timing each request.

    A fixed set of workers pulls from one shared index, so exactly ``concurrency``
    requests are outstanding until the queue runs dry, with no task per request.
    """
    latencies = [0.0] * len(bodies)
    errors: list[str] = []
    pending = iter(range(len(bodies)))

    async def worker() -> None:
        for i in pending:
            started = time.perf_counter()
            try:
                response = await client.post(path, content=bodies[i])
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies[i] = time.perf_counter() - started

    cpu_before, client_before = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return PhaseResult(
        endpoint=path,
        alerts_per_request=alerts_per_request,
        latencies=latencies,
        wall=wall,
        server_cpu=cpu_seconds(server_pid) - cpu_before,
        client_cpu=time.process_time() - client_before,
        errors=errors,
    )


# --- the database --------------------------------------------------------------------------


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


async def drain_effects(engine: AsyncEngine) -> tuple[int, float | None]:
    """Wait until no effect is due and undelivered: (how many were, seconds it took).

    An alert storm queues Slack calls (new channels, pages, card refreshes) behind the
    intake transactions; this is how long the last of them waited after intake stopped.
    ``engine`` is a plain one, not ``bot.db.Database``: on SQLite that would take the write
    lock (BEGIN IMMEDIATE) for every poll and queue with the very work being measured.
    None when they were still not delivered after ``SETTLE_TIMEOUT``.
    """
    started = time.monotonic()
    first: int | None = None
    while time.monotonic() - started < SETTLE_TIMEOUT:
        query = (
            select(func.count())
            .select_from(Effect)
            .where(Effect.state == EffectState.PENDING, Effect.due_at <= datetime.now(UTC))
        )
        async with engine.connect() as conn:
            due = int(await conn.scalar(query) or 0)
        first = due if first is None else first
        if due == 0:
            return first, time.monotonic() - started
        await asyncio.sleep(0.05)
    return first or 0, None


# --- the report ----------------------------------------------------------------------------


def print_table(results: list[PhaseResult]) -> None:
    header = (
        f"{'endpoint':<22} {'requests':>8} {'errors':>6} {'alerts/s':>9} {'requests/s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'server CPU':>10} {'client CPU':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.endpoint:<22} {r.requests:>8} {len(r.errors):>6} {r.ok_alerts / r.wall:>9.0f} "
            f"{r.requests / r.wall:>10.0f} {r.percentile_ms(50):>7.1f} {r.percentile_ms(99):>7.1f} "
            f"{r.server_cpu / r.wall:>10.0%} {r.client_cpu / r.wall:>10.0%}"
        )


def describe(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.get_backend_name()} {parsed.render_as_string(hide_password=True)}"


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if make_url(database_url).get_backend_name() == "postgresql":
        await reset_postgres(database_url)
    token = secrets.token_urlsafe(24)
    port = free_port()
    log = workdir / "server.log"
    notes = Notifications()
    n, c, k = args.requests, args.concurrency, args.alerts_per_request
    print(
        f"Warroom ingest: {n} requests x {k} alerts, concurrency {c}, {GROUPS} groups, "
        f"database {describe(database_url)}"
    )
    # Client and server share the machine with anything else running: say how busy it was.
    print("load average before the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    warm_noop = notes.batch(c, k, groups=WARMUP_GROUPS, tag="warm-noop")
    warm_intake = notes.batch(c, k, groups=WARMUP_GROUPS, tag="warm")
    measured = notes.batch(n, k, groups=GROUPS, tag="bench")
    # The noop route stores nothing: its alerts are not expected in the database.
    expected_alerts = notes.sent_alerts - len(warm_noop) * k
    expected_incidents = len({m for m in notes.groups if not m.startswith("warm-noop")})

    proc = start_server(database_url, token, port, log)
    db = Database(database_url)
    poller = create_async_engine(async_url(database_url))
    results: list[PhaseResult] = []
    try:
        async with make_client(port, token, c, httpx_pool=args.httpx_pool) as client:
            await wait_healthy(client, proc)
            common = {"concurrency": c, "alerts_per_request": k, "server_pid": proc.pid}
            for path, bodies in ((NOOP_PATH, warm_noop), (INTAKE_PATH, warm_intake)):
                warm = await run_phase(client, path, bodies, **common)
                if warm.errors:
                    raise RuntimeError(f"warm-up of {path} failed: {warm.errors[0]}")
            # The ceiling is measured with the dispatcher idle, not busy with the warm-up.
            if (await drain_effects(poller))[1] is None:
                print("warning: warm-up effects still undelivered; the ceiling may be low")
            results.append(await run_phase(client, NOOP_PATH, measured, **common))
            intake_began = datetime.now(UTC)
            results.append(await run_phase(client, INTAKE_PATH, measured, **common))
            backlog, drained_in = await drain_effects(poller)
        rss = peak_rss_mib(proc.pid)
    except BaseException:
        stop_server(proc)
        _show_log(log, sys.stderr)
        raise
    finally:
        await poller.dispose()
    stopped_in = stop_server(proc)
    try:
        counts = await count_rows(db, notes.run_id, intake_began)
    finally:
        await db.dispose()

    print()
    print_table(results)
    ceiling, intake = results
    ratio = (intake.ok_alerts / intake.wall) / (ceiling.ok_alerts / ceiling.wall)
    print(f"\nintake / ceiling alerts/s: {ratio:.2f}")
    if ceiling.client_cpu / ceiling.wall > CLIENT_BOUND:
        # Client and server share the cores: a saturated client caps the ceiling row.
        per_core = ceiling.ok_alerts / ceiling.server_cpu
        print(
            f"note: the client was CPU-bound on {NOOP_PATH} "
            f"({ceiling.client_cpu / ceiling.wall:.0%}); the server used "
            f"{ceiling.server_cpu / ceiling.wall:.0%} of a core, so its own ceiling is nearer "
            f"{per_core:.0f} alerts/s (extrapolated to one full core; "
            f"intake / that: {intake.ok_alerts / intake.wall / per_core:.2f})"
        )
    drained = f"{drained_in:.1f} s" if drained_in is not None else f"over {SETTLE_TIMEOUT:.0f} s"
    print(
        f"effects due but undelivered when intake ended: {backlog}, all delivered after {drained}"
    )
    if delays := counts.page_delays:
        print(
            f"pages opened during intake: {len(delays)}, commit to delivery "
            f"median {delays[len(delays) // 2]:.1f} s, max {delays[-1]:.1f} s"
        )
    print(f"server peak RSS (VmHWM): {rss:.1f} MiB; stopped in {stopped_in:.1f} s")
    print(
        f"database: {counts.alerts} alerts stored of {expected_alerts} sent, "
        f"{counts.incidents} incidents for {expected_incidents} groups; effects "
        f"{counts.effects_done} delivered, {counts.effects_pending} pending, "
        f"{counts.effects_dead} dead"
    )

    _show_log(log, sys.stdout)
    if proc.returncode not in (0, -signal.SIGTERM):
        print(f"FAIL: server exited with status {proc.returncode}", file=sys.stderr)
    failed = proc.returncode not in (0, -signal.SIGTERM)
    for r in results:
        for error in r.errors[:3]:
            print(f"error on {r.endpoint}: {error}", file=sys.stderr)
        failed |= bool(r.errors)
    if counts.alerts != expected_alerts:
        print(f"FAIL: stored {counts.alerts} alerts, sent {expected_alerts}", file=sys.stderr)
        failed = True
    if counts.incidents != expected_incidents:
        print(
            f"FAIL: {counts.incidents} incidents for {expected_incidents} groups "
            "(expected one per group)",
            file=sys.stderr,
        )
        failed = True
    return 1 if failed else 0


def _show_log(log: Path, out: TextIO) -> None:
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--alerts-per-request", type=int, default=2)
    parser.add_argument(
        "--database-url",
        help="default: a fresh SQLite file in a temporary directory; a PostgreSQL URL "
        "(database name containing 'bench') has its public schema dropped and recreated",
    )
    parser.add_argument(
        "--httpx-pool",
        action="store_true",
        help="send through one httpx pool of --concurrency connections instead of one pool per "
        "connection (shows how much the client's pool costs)",
    )
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.alerts_per_request) < 1:
        parser.error("--requests, --concurrency and --alerts-per-request must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A CI timeout sends SIGTERM: turn it into KeyboardInterrupt so the server is stopped
    # on the way out instead of being left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    try:
        return asyncio.run(bench(args, workdir))
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
