"""Storm control: 10,000 alerts within a minute, with the real Slack client on the wire.

    python -m bench.storm [--alerts 10000] [--seconds 60] [--concurrency 32]
                          [--database-url postgresql://postgres@127.0.0.1:5432/warroom_bench]

Starts ``tests.fakes.slack_api.FakeSlackApi`` on a thread of this process, recording when
each call arrives, and the production app (``bot.app:create_app``) as a subprocess with
``SLACK_BOT_TOKEN`` set and ``SLACK_API_URL`` pointing at the fake, so every effect goes
out through slack_sdk over HTTP as it would to Slack. It then sends ``--alerts`` distinct
firing ``ModelDriftHigh`` alerts (Alertmanager v4, ``--alerts-per-request`` per
notification, spread over ``--groups`` ``model`` values) at an even pace over
``--seconds``, waits until every effect is delivered, stops the server and checks:

- every alert sent is stored, and each group key has exactly one incident;
- each incident got exactly one channel, and its card ends up showing all its alerts;
- no channel receives messages faster than Slack allows (about one a second);
- nothing is left undelivered or dead.

Any failed check gives exit status 1. Alongside, it prints alerts/s, request latency,
Slack calls by method, and the server's memory sampled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.harness import (
    Counts,
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
    start_app,
    stop_server,
    wait_healthy,
)
from bot.db import Database
from bot.effects import REFRESH_INTERVAL
from bot.models import Effect, EffectState, Incident
from bot.settings import async_url
from bot.slack_gateway import CREATE_GAP, UPDATE_GAP
from tests.fakes.slack_api import FakeSlackApi, Response

ROOT = Path(__file__).resolve().parent.parent
INTAKE_PATH = "/alerts/alertmanager"
TAG = "storm"  # model labels are "storm-<run id>-NN"
SAMPLE_EVERY = 1.0  # seconds between RSS samples
POLLER_NAME = "warroom-bench-storm"  # application_name of this script's connections
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update"})
# Slack: "1 per second [per channel]. Short bursts >1 allowed." The check allows a burst
# of BURST messages in any one second, and no more than one a second over any minute.
BURST = 3
SUSTAINED_WINDOW = 60.0
# Slack's documented per-method, per-workspace budgets (the tier's floor, per minute) for
# the methods Warroom calls during a storm. Slack allows bursts above the floor, but
# Warroom books its calls to keep to it (bot/pacing.py), across replicas too (only one
# delivers), so the busiest minute may exceed the floor only by the call whose slot
# lands a few milliseconds late: FLOOR_SLACK.
TIER_PER_MINUTE = {
    "conversations.create": ("Tier 2", 20),
    "conversations.setTopic": ("Tier 2", 20),
    "pins.add": ("Tier 2", 20),
    "conversations.invite": ("Tier 3", 50),
    "chat.update": ("Tier 3", 50),
}
FLOOR_SLACK = 1
CARD_COUNTS = re.compile(rb"(\d+) firing / (\d+) total")
MODEL = re.compile(r'model="([^"]*)"')
TEXT_SHOWN = 60


# --- Slack, with arrival times -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """One Slack call as the fake received it."""

    at: float  # time.monotonic() on arrival, before the fake answered
    method: str
    channel: str | None  # as Slack resolves it: a message to a user lands in a D… channel
    ok: bool
    card: tuple[int, int] | None  # (firing, total) shown, when the message is an incident card
    text: str  # the start of a message's fallback text, to tell messages apart


class TimedSlackApi(FakeSlackApi):
    """``FakeSlackApi`` that also notes when each call arrived and in which channel."""

    def __init__(self) -> None:
        super().__init__()
        self._arrivals_lock = threading.Lock()
        self.arrivals: list[Arrival] = []

    def handle(self, http_method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        at = time.monotonic()
        status, payload, extra = super().handle(http_method, path, headers, body)
        method = path.split("?", 1)[0].lstrip("/")
        ok = status == 200 and (isinstance(payload, str) or bool(payload.get("ok")))
        sent = _json(body)
        counts = CARD_COUNTS.search(body) if method in MESSAGE_METHODS else None
        arrival = Arrival(
            at,
            method,
            _channel_of(payload, sent),
            ok,
            (int(counts[1]), int(counts[2])) if counts else None,
            str(sent.get("text", ""))[:TEXT_SHOWN],
        )
        with self._arrivals_lock:
            self.arrivals.append(arrival)
        return status, payload, extra

    def snapshot(self) -> list[Arrival]:
        with self._arrivals_lock:
            return sorted(self.arrivals, key=lambda a: a.at)


def _json(body: bytes) -> dict[str, Any]:
    """The request's JSON parameters (Warroom's transport sends JSON), else nothing."""
    try:
        sent = json.loads(body) if body else {}
    except ValueError:
        return {}
    return sent if isinstance(sent, dict) else {}


def _channel_of(payload: Any, sent: dict[str, Any]) -> str | None:
    """The channel Slack answered with (a user's DM resolves to D…), else the one sent."""
    if isinstance(payload, dict):
        channel = payload.get("channel")
        if isinstance(channel, dict):
            channel = channel.get("id")
        if isinstance(channel, str) and channel:
            return channel
    channel = sent.get("channel")
    return channel if isinstance(channel, str) else None


# --- the server ----------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic()
    rss: float  # MiB
    connections: int | None  # the server's PostgreSQL connections; None on SQLite


async def server_connections(engine: AsyncEngine) -> int | None:
    """The server's connections to its PostgreSQL database (not this script's)."""
    if engine.dialect.name != "postgresql":
        return None
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name <> :us"
    )
    async with engine.connect() as conn:
        return int(await conn.scalar(query, {"us": POLLER_NAME}) or 0)


async def sample_server(
    pid: int, engine: AsyncEngine, into: list[Sample], stop: asyncio.Event
) -> None:
    """RSS (and database connections) every ``SAMPLE_EVERY`` seconds until ``stop`` is set."""
    while True:
        try:
            into.append(Sample(time.monotonic(), rss_mib(pid), await server_connections(engine)))
        except OSError:  # the server has gone
            return
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
            return
        except TimeoutError:
            pass


def poller_engine(database_url: str) -> AsyncEngine:
    """This script's own engine; on PostgreSQL it names itself, so it is not counted."""
    url = async_url(database_url)
    if make_url(url).get_backend_name() == "postgresql":
        args = {"server_settings": {"application_name": POLLER_NAME}}
        return create_async_engine(url, connect_args=args)
    return create_async_engine(url)


# --- the storm -----------------------------------------------------------------------------


@dataclass
class Storm:
    latencies: list[float]
    lags: list[float]  # how late each request started against the even schedule
    starts: list[float]  # when each request was sent, seconds from the first
    wall: float
    server_cpu: float
    errors: list[str] = field(default_factory=list)

    def percentile_ms(self, p: float) -> float:
        """Nearest rank: an observed latency, never an interpolated one."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


async def send_storm(
    clients: Sequence[httpx.AsyncClient],
    bodies: Sequence[bytes],
    *,
    seconds: float,
    concurrency: int,
    server_pids: Sequence[int],
) -> Storm:
    """Send request i at ``i * seconds / len(bodies)`` (or at once when ``seconds`` is 0).

    At most ``concurrency`` requests are in flight; when the server falls behind, requests
    start late, and the lag says by how much. With several replicas, request i goes to
    replica ``i mod n``, as a round-robin load balancer would send it.
    """
    latencies = [0.0] * len(bodies)
    lags = [0.0] * len(bodies)
    starts = [0.0] * len(bodies)
    errors: list[str] = []
    pending = iter(range(len(bodies)))
    interval = seconds / len(bodies)
    cpu_before = sum(map(cpu_seconds, server_pids))
    started = time.perf_counter()

    async def worker() -> None:
        for i in pending:
            due = started + i * interval
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            sent = time.perf_counter()
            lags[i], starts[i] = max(0.0, sent - due), sent - started
            try:
                client = clients[i % len(clients)]
                response = await client.post(INTAKE_PATH, content=bodies[i])
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies[i] = time.perf_counter() - sent

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu = sum(map(cpu_seconds, server_pids)) - cpu_before
    return Storm(latencies, lags, starts, wall, cpu, errors)


async def settle(engine: AsyncEngine, limit: float) -> tuple[int, float | None]:
    """Wait until no effect is pending, due or not: (how many were, seconds it took).

    Card refreshes are deliberately delayed (``REFRESH_INTERVAL``), so "nothing due" is
    not "done". A plain engine, not ``bot.db.Database``: on SQLite that would take the
    write lock for every poll. None when effects were still pending after ``limit`` s.
    """
    started = time.monotonic()
    first: int | None = None
    query = select(func.count()).select_from(Effect).where(Effect.state == EffectState.PENDING)
    while time.monotonic() - started < limit:
        async with engine.connect() as conn:
            pending = int(await conn.scalar(query) or 0)
        first = pending if first is None else first
        if pending == 0:
            return first, time.monotonic() - started
        await asyncio.sleep(0.1)
    return first or 0, None


# --- the checks ----------------------------------------------------------------------------


def busiest(times: Sequence[float], window: float) -> int:
    """The most of these (sorted) times that fall within any ``window`` seconds."""
    return busiest_window(times, window)[1]


def busiest_window(times: Sequence[float], window: float) -> tuple[int, int]:
    """(index of the first, how many) of the busiest ``window`` seconds of sorted times."""
    best = first = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        if end - start + 1 > best:
            best, first = end - start + 1, start
    return first, best


@dataclass
class ChannelRate:
    channel: str
    messages: int
    per_second: int  # busiest 1-second window
    per_minute: int  # busiest SUSTAINED_WINDOW
    busiest_second: list[Arrival]  # the messages of that second

    @property
    def within_limits(self) -> bool:
        return self.per_second <= BURST and self.per_minute <= SUSTAINED_WINDOW


def channel_rates(arrivals: Sequence[Arrival]) -> list[ChannelRate]:
    """Messages per channel; ``arrivals`` in time order."""
    messages: dict[str, list[Arrival]] = defaultdict(list)
    for a in arrivals:
        if a.method in MESSAGE_METHODS and a.channel:
            messages[a.channel].append(a)
    rates = []
    for channel, sent in messages.items():
        times = [a.at for a in sent]
        first, most = busiest_window(times, 1.0)
        per_minute = busiest(times, SUSTAINED_WINDOW)
        rates.append(ChannelRate(channel, len(sent), most, per_minute, sent[first : first + most]))
    return rates


def card_edit_gaps(arrivals: Sequence[Arrival], card_channels: set[str]) -> list[float]:
    """Seconds between consecutive edits (``chat.update``) of each incident's card."""
    times: dict[str, list[float]] = defaultdict(list)
    for a in arrivals:
        if a.method == "chat.update" and a.card is not None and a.channel in card_channels:
            times[a.channel].append(a.at)
    return sorted(b - a for ts in times.values() for a, b in itertools.pairwise(ts))


@dataclass
class IncidentRow:
    number: int
    group_key: str
    channel_id: str | None
    card_ts: str | None


async def incident_rows(engine: AsyncEngine, run_id: str) -> list[IncidentRow]:
    query = select(
        Incident.number, Incident.group_key, Incident.channel_id, Incident.card_ts
    ).where(Incident.group_key.like(f"%-{run_id}-%"))
    async with engine.connect() as conn:
        return [IncidentRow(*row) for row in (await conn.execute(query)).all()]


async def effect_states(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    query = select(Effect.kind, Effect.state, func.count()).group_by(Effect.kind, Effect.state)
    async with engine.connect() as conn:
        return {(kind, state): n for kind, state, n in (await conn.execute(query)).all()}


# --- the run -------------------------------------------------------------------------------


def build_bodies(
    args: argparse.Namespace, notes: Notifications
) -> tuple[list[bytes], Counter[str]]:
    """The notifications, and how many alerts each ``model`` (group) gets."""
    full, rest = divmod(args.alerts, args.alerts_per_request)
    bodies = notes.batch(full, args.alerts_per_request, groups=args.groups, tag=TAG)
    if rest:
        bodies += notes.batch(1, rest, groups=args.groups, tag=TAG)
    per_group: Counter[str] = Counter()
    for body in bodies:
        payload = json.loads(body)
        per_group[payload["groupLabels"]["model"]] += len(payload["alerts"])
    return bodies, per_group


@dataclass
class Run:
    """Everything measured, for the report."""

    args: argparse.Namespace
    notes: Notifications
    per_group: Counter[str]  # alerts sent per ``model`` label
    storm: Storm
    backlog: int
    settled_in: float | None
    incidents: list[IncidentRow]
    states: dict[tuple[str, str], int]
    counts: Counts
    arrivals: list[Arrival]
    idle_rss: float
    samples: list[Sample]  # from the first request on
    peak_rss: float
    stopped_in: float
    server_status: int | None


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    database_url = args.database_url or f"sqlite:///{workdir / 'storm.db'}"
    if make_url(database_url).get_backend_name() == "postgresql":
        await reset_postgres(database_url)
    notes = Notifications()
    bodies, per_group = build_bodies(args, notes)
    token = secrets.token_urlsafe(24)
    print(
        f"Warroom storm: {notes.sent_alerts} alerts in {len(bodies)} requests "
        f"(up to {args.alerts_per_request} each), {len(per_group)} group keys, "
        f"over {args.seconds:g} s at concurrency {args.concurrency}, "
        f"{args.replicas} replica(s); database {describe(database_url)}"
    )
    print("load average before the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    slack = TimedSlackApi().start()
    ports = [free_port() for _ in range(args.replicas)]
    logs = [workdir / f"server{n}.log" for n in range(args.replicas)]
    procs = [
        start_app(database_url, token, port, slack.url, log)
        for port, log in zip(ports, logs, strict=True)
    ]
    proc = procs[0]  # the one whose memory is sampled
    poller = poller_engine(database_url)
    samples: list[Sample] = []
    try:
        async with contextlib.AsyncExitStack() as clients_open:
            clients = [
                await clients_open.enter_async_context(
                    make_client(p, token, args.concurrency, httpx_pool=False)
                )
                for p in ports
            ]
            for client, replica in zip(clients, procs, strict=True):
                await wait_healthy(client, replica)
            idle_rss = rss_mib(proc.pid)
            stop_sampling = asyncio.Event()
            sampler = asyncio.create_task(sample_server(proc.pid, poller, samples, stop_sampling))
            storm_began, began_at = time.monotonic(), datetime.now(UTC)
            storm = await send_storm(
                clients,
                bodies,
                seconds=args.seconds,
                concurrency=args.concurrency,
                server_pids=[replica.pid for replica in procs],
            )
            backlog, settled_in = await settle(poller, args.settle_timeout)
            stop_sampling.set()
            await sampler
        peak_rss = max(peak_rss_mib(replica.pid) for replica in procs)
        incidents = await incident_rows(poller, notes.run_id)
        states = await effect_states(poller)
    except BaseException:
        for replica, log in zip(procs, logs, strict=True):
            stop_server(replica)
            show_log(log, sys.stderr)
        slack.stop()
        raise
    finally:
        await poller.dispose()
    stopped_in = max(stop_server(replica) for replica in procs)
    slack.stop()
    db = Database(database_url)
    try:
        counts = await count_rows(db, notes.run_id, began_at)
    finally:
        await db.dispose()

    run = Run(
        args=args,
        notes=notes,
        per_group=per_group,
        storm=storm,
        backlog=backlog,
        settled_in=settled_in,
        incidents=incidents,
        states=states,
        counts=counts,
        arrivals=slack.snapshot(),
        idle_rss=idle_rss,
        samples=[sample for sample in samples if sample.at >= storm_began],
        peak_rss=peak_rss,
        stopped_in=stopped_in,
        server_status=next((r.returncode for r in procs if r.returncode), proc.returncode),
    )
    failures = report(run)
    for log in logs:
        show_log(log, sys.stdout)
    for error in storm.errors[:3]:
        print(f"error: {error}", file=sys.stderr)
    for message in failures:
        print(f"FAIL: {message}", file=sys.stderr)
    return 1 if failures else 0


class Checks:
    """Collects failed checks; ``mark`` returns the tag printed in front of the line."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def mark(self, ok: bool, failure: str) -> str:
        if not ok:
            self.failures.append(failure)
        return "ok" if ok else "FAIL"


def report(run: Run) -> list[str]:
    """Print the figures; returns the failed checks."""
    checks = Checks()
    report_intake(run, checks)
    report_database(run, checks)
    report_slack(run, checks)
    report_memory(run)
    if run.server_status not in (0, -signal.SIGTERM):
        checks.failures.append(f"server exited with status {run.server_status}")
    return checks.failures


def report_intake(run: Run, checks: Checks) -> None:
    storm, sent = run.storm, run.notes.sent_alerts
    requests = len(storm.latencies)
    print()
    print(
        f"intake: {requests} requests, {len(storm.errors)} errors, {sent} alerts in "
        f"{storm.wall:.1f} s = {sent / storm.wall:.0f} alerts/s "
        f"({requests / storm.wall:.1f} requests/s)"
    )
    print(
        f"  latency p50 {storm.percentile_ms(50):.1f} ms, p99 {storm.percentile_ms(99):.1f} ms, "
        f"max {max(storm.latencies) * 1000:.0f} ms; requests started up to "
        f"{max(storm.lags):.2f} s behind the even schedule"
    )
    slowest = sorted(range(requests), key=storm.latencies.__getitem__, reverse=True)[:3]
    shown = (
        f"{storm.latencies[i] * 1000:.0f} ms (sent at +{storm.starts[i]:.1f} s)" for i in slowest
    )
    print("  slowest: " + ", ".join(shown))
    checks.mark(not storm.errors, f"{len(storm.errors)} requests failed")
    print(f"  server CPU during the storm: {storm.server_cpu / storm.wall:.0%} of one core")
    settled = f"{run.settled_in:.1f} s" if run.settled_in is not None else "never"
    print(
        f"  effects: {run.backlog} pending when the last request was answered, all delivered "
        f"after {settled} (limit {run.args.settle_timeout:.0f} s)"
    )
    if delays := run.counts.page_delays:
        print(
            f"  pages: {len(delays)} sent, commit to Slack median "
            f"{delays[len(delays) // 2]:.1f} s, max {delays[-1]:.1f} s"
        )


def report_database(run: Run, checks: Checks) -> None:
    counts, sent, groups = run.counts, run.notes.sent_alerts, len(run.per_group)
    print()
    mark = checks.mark(counts.alerts == sent, f"stored {counts.alerts} alerts, sent {sent}")
    print(f"[{mark}] alerts: {counts.alerts} stored of {sent} sent")
    by_group = Counter(_model(i.group_key) for i in run.incidents)
    doubled = sorted(g for g, n in by_group.items() if n > 1)
    mark = checks.mark(
        len(run.incidents) == groups and set(by_group) == set(run.per_group) and not doubled,
        f"{len(run.incidents)} incidents for {groups} group keys"
        + (f" ({len(doubled)} keys have several)" if doubled else ""),
    )
    print(f"[{mark}] incidents: {len(run.incidents)} for {groups} group keys")
    left = counts.effects_pending + counts.effects_dead
    mark = checks.mark(
        left == 0, f"effects left: {counts.effects_pending} pending, {counts.effects_dead} dead"
    )
    print(
        f"[{mark}] effects: {counts.effects_done} delivered, {counts.effects_pending} pending, "
        f"{counts.effects_dead} dead"
    )
    if left:
        stuck = {f"{k}:{s}": n for (k, s), n in run.states.items() if s != EffectState.DONE}
        print(f"       not delivered, by kind: {stuck}")


def report_slack(run: Run, checks: Checks) -> None:
    arrivals, incidents = run.arrivals, run.incidents
    print()
    methods = Counter(a.method for a in arrivals)
    failed = Counter(a.method for a in arrivals if not a.ok)
    print(f"Slack calls: {len(arrivals)} total, {sum(failed.values())} failed")
    for method, n in methods.most_common():
        print(f"  {method:<24} {n:>6}" + (f"  ({failed[method]} failed)" if failed[method] else ""))

    created = [a.channel for a in arrivals if a.method == "conversations.create" and a.ok]
    incident_channels = {i.channel_id for i in incidents if i.channel_id}
    without = [i.number for i in incidents if not (i.channel_id and i.card_ts)]
    mark = checks.mark(
        len(created) == len(set(created)) == len(incidents) and not without,
        f"{len(created)} channels created for {len(incidents)} incidents"
        + (f"; incidents without a channel or card: {without[:10]}" if without else ""),
    )
    print(f"[{mark}] channels created: {len(created)}, one per incident with its card posted")

    last_card: dict[str, tuple[int, int]] = {}
    for a in arrivals:
        if a.card is not None and a.ok and a.channel:
            last_card[a.channel] = a.card
    current = [
        i
        for i in incidents
        if i.channel_id and last_card.get(i.channel_id) == (run.per_group[_model(i.group_key)],) * 2
    ]
    mark = checks.mark(
        len(current) == len(incidents),
        f"{len(incidents) - len(current)} cards do not end up showing all their alerts",
    )
    print(
        f"[{mark}] cards: {len(current)} of {len(incidents)} end up showing every alert of "
        f"their group ('N firing / N total')"
    )
    for i in [i for i in incidents if i not in current][:5]:
        firing, total = last_card.get(i.channel_id or "", (0, 0))
        print(
            f"       incident #{i.number} ({i.channel_id}): last card shows {firing} firing / "
            f"{total} total, {run.per_group[_model(i.group_key)]} alerts were sent"
        )

    rates = channel_rates(arrivals)
    for label, group in (
        ("incident channels", [r for r in rates if r.channel in incident_channels]),
        ("other channels (DMs)", [r for r in rates if r.channel not in incident_channels]),
    ):
        if not group:
            continue
        worst = max(group, key=lambda r: (r.per_second, r.per_minute))
        over = [r for r in group if not r.within_limits]
        mark = checks.mark(
            not over,
            f"{len(over)} {label} over {BURST} messages in a second or "
            f"{SUSTAINED_WINDOW:.0f} in a minute (worst {worst.channel}: {worst.per_second}/s, "
            f"{worst.per_minute}/min)",
        )
        print(
            f"[{mark}] {label}: {len(group)}; busiest second {worst.per_second} messages "
            f"({worst.channel}), busiest minute {max(r.per_minute for r in group)}, "
            f"most in one channel {max(r.messages for r in group)}"
        )
        if over:
            print(f"       {len(over)} over the limit; {worst.channel}'s busiest second:")
            start = worst.busiest_second[0].at
            for a in worst.busiest_second:
                print(f"         +{a.at - start:.2f} s {a.method} {a.text!r}")
    if gaps := card_edit_gaps(arrivals, incident_channels):
        interval = REFRESH_INTERVAL.total_seconds()
        closer = sum(g < interval for g in gaps)
        print(
            f"       card edits: shortest gap between two edits of one card {gaps[0]:.2f} s, "
            f"median {gaps[len(gaps) // 2]:.1f} s; {closer} of {len(gaps)} gaps under "
            f"REFRESH_INTERVAL ({interval:g} s)"
        )
    print("workspace-wide busiest minute per method, against Slack's documented tier:")
    for method, (tier, floor) in TIER_PER_MINUTE.items():
        times = [a.at for a in arrivals if a.method == method]
        if times:
            most = busiest(times, 60.0)
            mark = checks.mark(
                most <= floor + FLOOR_SLACK,
                f"{method}: {most} calls in a minute, over {tier}'s floor of {floor}",
            )
            print(f"  [{mark}] {method:<24} {most:>5}/min  ({tier}: {floor}+/min)")


def report_memory(run: Run) -> None:
    print()
    rss = [sample.rss for sample in run.samples]
    if rss:
        half = run.samples[len(run.samples) // 2 :]
        minutes = (half[-1].at - half[0].at) / 60
        growth = (half[-1].rss - half[0].rss) / minutes if minutes > 0 else 0.0
        print(
            f"server memory: peak RSS (VmHWM) {run.peak_rss:.1f} MiB; idle before the storm "
            f"{run.idle_rss:.1f} MiB; RSS every {SAMPLE_EVERY:g} s ({len(rss)} samples) "
            f"min {min(rss):.1f}, max {max(rss):.1f} MiB; second half from {half[0].rss:.1f} "
            f"to {half[-1].rss:.1f} MiB ({growth:+.1f} MiB/min)"
        )
        step = max(1, round(5 / SAMPLE_EVERY))
        print("  RSS every 5 s (MiB): " + " ".join(f"{r:.0f}" for r in rss[::step]))
        connections = [s.connections for s in run.samples if s.connections is not None]
        if connections:
            shown = " ".join(str(c) for c in connections[::step])
            print(f"  server's PostgreSQL connections every 5 s: {shown}")
    print(f"server stopped in {run.stopped_in:.1f} s")


def _model(group_key: str) -> str:
    found = MODEL.search(group_key)
    return found[1] if found else group_key


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.storm", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--alerts", type=int, default=10_000, help="distinct firing alerts")
    parser.add_argument("--alerts-per-request", type=int, default=20)
    parser.add_argument("--groups", type=int, default=40, help="group keys (model labels)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="spread the requests evenly over this long; 0 sends them as fast as possible",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="servers on the one database, sent requests in turn; only one delivers to Slack",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        help="how long to wait after the storm for every effect to be delivered; default: "
        "a minute plus, per group, one channel creation and two edits at Slack's Tier 2 and "
        "Tier 3 floors, which Warroom keeps to",
    )
    add_database_url(parser)
    args = parser.parse_args(argv)
    if min(args.alerts, args.alerts_per_request, args.groups, args.concurrency, args.replicas) < 1:
        parser.error(
            "--alerts, --alerts-per-request, --groups, --concurrency and --replicas must be >= 1"
        )
    if args.settle_timeout is None:
        per_group = CREATE_GAP + 2 * UPDATE_GAP
        args.settle_timeout = 60.0 + args.groups * per_group.total_seconds()
    if args.seconds < 0 or args.settle_timeout <= 0:
        parser.error("--seconds must be >= 0 and --settle-timeout > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(bench, parse_args(argv), "warroom-storm-")


if __name__ == "__main__":
    sys.exit(main())
