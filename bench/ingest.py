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
import math
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.harness import (
    Notifications,
    add_database_url,
    count_rows,
    cpu_seconds,
    describe,
    free_port,
    make_client,
    peak_rss_mib,
    reset_postgres,
    run_main,
    show_log,
    start_server,
    stop_server,
    wait_healthy,
)
from bench.server import NOOP_PATH
from bot.db import Database
from bot.models import Effect, EffectState
from bot.settings import async_url

ROOT = Path(__file__).resolve().parent.parent
INTAKE_PATH = "/alerts/alertmanager"
GROUPS = 40  # distinct `model` labels, hence incidents, in the measured run
WARMUP_GROUPS = 4
SETTLE_TIMEOUT = 30.0  # for the warm-up's Slack effects to be delivered
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

    proc = start_server(
        ["bench.server:app"],
        port,
        log,
        {"DATABASE_URL": database_url, "WARROOM_WEBHOOK_TOKEN": token},
    )
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
        show_log(log, sys.stderr)
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
    # Steadier than the ratio from run to run: the ceiling is often the client's, not ours.
    print(
        "server CPU per alert: "
        + ", ".join(
            f"{r.endpoint} {r.server_cpu / max(r.ok_alerts, 1) * 1e6:.0f} us" for r in results
        )
    )
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

    show_log(log, sys.stdout)
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--alerts-per-request", type=int, default=2)
    add_database_url(parser)
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
    return run_main(bench, parse_args(argv), "warroom-bench-")


if __name__ == "__main__":
    sys.exit(main())
