"""Paging: alert-to-first-DM latency, and escalations per second with 10,000 pending.

    python -m bench.paging [--alerts 300] [--concurrency 8 | --serial] [--pending 10000]
                           [--limit 100] [--setup copy|intake] [--only latency|escalation]
                           [--database-url postgresql://postgres@127.0.0.1:5432/warroom_bench]

Two phases, each on a fresh database:

1. Latency. The real app (``uvicorn --factory bot.app:create_app``, scheduler and
   dispatcher running, the real slack_sdk transport) runs as a subprocess pointed at an
   in-process fake Slack Web API (``tests.fakes.slack_api``). Every alert opens its own
   incident (its own ``model`` label), whose playbook pages the data scientist. For each,
   the time from just before the POST to the moment the fake receives the
   ``chat.postMessage`` DM of that incident's page.
2. Escalation. The app in-process with a hand-moved clock, no scheduler, and effect
   delivery switched off (``rt.after_commit`` is a no-op). ``--pending`` incidents, each
   with a pending page: one opened by the real intake route and the rest copied from it
   in bulk (``--setup intake`` opens all of them through intake, in large Alertmanager
   notifications, which takes minutes). The clock then jumps past every deadline and
   ``service.escalate_due`` is called until it escalates nothing more. Every page must
   have escalated exactly once, to a new pending page, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import httpx
from sqlalchemy import func, insert, inspect, select, update
from sqlalchemy.engine import make_url

from bench.harness import (
    Notifications,
    add_database_url,
    cpu_seconds,
    describe,
    free_port,
    make_client,
    reset_postgres,
    run_main,
    show_log,
    start_app,
    stop_server,
    wait_healthy,
)
from bot import service
from bot.app import create_app
from bot.db import Database
from bot.models import Counter, Effect, EffectState, Incident, Page, PageState, TimelineEvent
from bot.render import ACK_PAGE_ACTION
from bot.settings import Settings
from bot.slack_gateway import ConsoleSlack
from tests.fakes.slack_api import FakeSlackApi

ROOT = Path(__file__).resolve().parent.parent
INTAKE_PATH = "/alerts/alertmanager"
WARMUP_ALERTS = 8
DM_TIMEOUT = 120.0  # for the last page DM to reach the fake after the last POST
SETUP_ALERTS_PER_REQUEST = 500  # ~280 kB a body, under the intake's 1 MiB limit
SETUP_CONCURRENCY = 4  # the intake queue commits these together
COPY_BATCH = 1000  # copied incidents per transaction
FAKE_BACKLOG = 128


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped from full listen queues (whole host)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return None


def nearest_rank(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolated one."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _discard(_line: str) -> None:
    """Console-mode output sink for phase 2, where nothing is delivered anyway."""


# --- phase 1: alert to first DM ------------------------------------------------------------


class TimedSlack(FakeSlackApi):
    """The fake Slack, noting when each DM arrived: ``ts`` of the answer -> perf_counter.

    The clock is read as the request reaches the fake's handler, before it is answered.
    A DM is a ``chat.postMessage`` the fake answered with a ``D…`` channel (posted to a
    user). Pages are the only DMs Warroom sends in this run; one DM may show several pages
    to the same person (one Acknowledge button each), so pages are counted, not DMs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._arrivals_lock = threading.Lock()
        self.dm_arrivals: dict[str, float] = {}
        self._pages_shown = 0

    def start(self) -> Self:
        """Start, then deepen the listen backlog from socketserver's 5 to ``FAKE_BACKLOG``.

        Warroom opens a new connection for every Slack call (slack_sdk without a shared
        session) and the dispatcher makes up to 20 at once. With a backlog of 5 the kernel
        drops the surplus SYNs and the client retries them a second later: a delay of the
        fake, which real Slack would not add. ``listen`` again only resizes the queue.
        """
        super().start()
        assert self._server is not None
        self._server.socket.listen(FAKE_BACKLOG)
        return self

    def handle(
        self, http_method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        arrived = time.perf_counter()
        status, payload, extra = super().handle(http_method, path, headers, body)
        is_post = path.split("?", 1)[0].strip("/") == "chat.postMessage"
        answered = isinstance(payload, dict) and bool(payload.get("ok"))
        if is_post and answered and str(payload["channel"]).startswith("D"):
            with self._arrivals_lock:
                self.dm_arrivals[str(payload["ts"])] = arrived
                self._pages_shown += body.count(f'"{ACK_PAGE_ACTION}"'.encode())
        return status, payload, extra

    def pages_shown(self) -> int:
        with self._arrivals_lock:
            return self._pages_shown


@dataclass
class Sent:
    """One alert request: the ``model`` it opens an incident for, and its client times."""

    model: str
    body: bytes
    started: float = 0.0
    answered: float = 0.0
    error: str | None = None


async def send_all(client: httpx.AsyncClient, requests: list[Sent], concurrency: int) -> None:
    """Send every request with ``concurrency`` in flight, noting when each left and returned."""
    pending = iter(requests)

    async def worker() -> None:
        for sent in pending:
            sent.started = time.perf_counter()
            try:
                response = await client.post(INTAKE_PATH, content=sent.body)
                if response.status_code != 200:
                    sent.error = f"HTTP {response.status_code}: {response.text[:300]}"
            except httpx.HTTPError as exc:
                sent.error = repr(exc)
            sent.answered = time.perf_counter()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_for_dms(slack: TimedSlack, expected: int, timeout: float) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while slack.pages_shown() < expected:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def requests_for(notes: Notifications, count: int, tag: str) -> list[Sent]:
    """One alert a request, each of its own group: every request opens an incident."""
    bodies = notes.batch(count, 1, groups=count, tag=tag)
    return [Sent(f"{tag}-{notes.run_id}-{r % count:02d}", body) for r, body in enumerate(bodies)]


@dataclass
class LatencyResult:
    latencies: list[float] = field(default_factory=list)  # POST start to DM arrival, s
    answers: list[float] = field(default_factory=list)  # POST start to HTTP answer, s
    after_answer: list[float] = field(default_factory=list)  # HTTP answer to DM arrival, s
    wall: float = 0.0
    server_cpu: float = 0.0
    last_dm_after_last_answer: float = 0.0
    listen_overflows: int | None = None
    effects: dict[str, int] = field(default_factory=dict)  # delivered, by kind, whole run
    problems: list[str] = field(default_factory=list)


async def latency_phase(args: argparse.Namespace, database_url: str, workdir: Path) -> int:
    notes = Notifications()
    warm = requests_for(notes, WARMUP_ALERTS, "warm")
    measured = requests_for(notes, args.alerts, "lat")
    token = secrets.token_urlsafe(24)
    port = free_port()
    log = workdir / "server.log"
    result = LatencyResult()
    pace = (
        "one at a time, each after the last DM" if args.serial else f"{args.concurrency} in flight"
    )
    print(
        f"\n[1] alert to first DM: {args.alerts} alerts (after {WARMUP_ALERTS} warm-up), one "
        f"incident each, {pace}; app as a subprocess with its scheduler and dispatcher, Slack "
        "faked in this process"
    )
    with TimedSlack() as slack:
        proc = start_app(database_url, token, port, slack.url, log)
        try:
            async with make_client(port, token, args.concurrency, httpx_pool=False) as client:
                await wait_healthy(client, proc)
                await send_all(client, warm, args.concurrency)
                if any(s.error for s in warm):
                    raise RuntimeError(f"warm-up failed: {next(s.error for s in warm if s.error)}")
                if not await wait_for_dms(slack, len(warm), DM_TIMEOUT):
                    raise RuntimeError("warm-up page DMs did not all arrive")
                before = slack.pages_shown()
                overflows = listen_overflows()
                cpu_before = cpu_seconds(proc.pid)
                began = time.perf_counter()
                if args.serial:
                    for n, sent in enumerate(measured, start=1):
                        await send_all(client, [sent], 1)
                        if not await wait_for_dms(slack, before + n, DM_TIMEOUT):
                            break
                else:
                    await send_all(client, measured, args.concurrency)
                all_arrived = await wait_for_dms(slack, before + len(measured), DM_TIMEOUT)
                result.wall = time.perf_counter() - began
                result.server_cpu = cpu_seconds(proc.pid) - cpu_before
                if overflows is not None:
                    result.listen_overflows = (listen_overflows() or 0) - overflows
        except BaseException:
            stop_server(proc)
            show_log(log, sys.stderr)
            raise
        stopped_in = stop_server(proc)
        arrivals = dict(slack.dm_arrivals)
    if not all_arrived:
        result.problems.append(
            f"only {slack.pages_shown() - before} of {len(measured)} pages arrived within "
            f"{DM_TIMEOUT:.0f} s"
        )
    await match_dms(database_url, measured, arrivals, result)
    report_latency(result, len(measured), stopped_in)
    show_log(log, sys.stdout)
    if proc.returncode not in (0, -signal.SIGTERM):
        result.problems.append(f"server exited with status {proc.returncode}")
    for problem in result.problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if result.problems else 0


async def match_dms(
    database_url: str, measured: list[Sent], arrivals: dict[str, float], result: LatencyResult
) -> None:
    """Pair each alert with its incident's first page DM, through the page's stored ``dm_ts``.

    Also checks the run: one incident and one first page per alert, each DM'd exactly once.
    """
    by_model = {s.model: s for s in measured}
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(Incident.labels, Page.attempt, Page.dm_ts).join(
                        Page, Page.incident_id == Incident.id
                    )
                )
            ).all()
            kinds = await session.execute(
                select(Effect.kind, func.count())
                .where(Effect.state == EffectState.DONE)
                .group_by(Effect.kind)
            )
            result.effects = dict(sorted(kinds.all(), key=lambda kv: -kv[1]))
    finally:
        await db.dispose()
    first_pages: dict[str, str | None] = {}
    for labels, attempt, dm_ts in rows:
        model = labels.get("model", "")
        if model in by_model and attempt == 0:
            if model in first_pages:
                result.problems.append(f"incident of {model} has two first pages")
            first_pages[model] = dm_ts
    stored_ts = {ts for ts in first_pages.values() if ts}
    for sent in measured:
        if sent.error:
            result.problems.append(f"alert {sent.model}: {sent.error}")
            continue
        dm_ts = first_pages.get(sent.model)
        if dm_ts is None or dm_ts not in arrivals:
            continue  # counted below
        result.latencies.append(arrivals[dm_ts] - sent.started)
        result.answers.append(sent.answered - sent.started)
        result.after_answer.append(arrivals[dm_ts] - sent.answered)
    missing = len(measured) - len(result.latencies)
    if missing:
        result.problems.append(f"{missing} of {len(measured)} alerts have no delivered page DM")
    # Every DM but the warm-up's should be the one stored on a measured page: an extra one
    # is a page sent twice (say, its dm_ts could not be saved and the effect was retried).
    extra = len(arrivals) - len(stored_ts & arrivals.keys()) - WARMUP_ALERTS
    if extra > 0:
        result.problems.append(f"{extra} DMs the fake received belong to no measured page")
    if measured:
        last_answer = max(s.answered for s in measured)
        result.last_dm_after_last_answer = max(arrivals.values()) - last_answer


def report_latency(result: LatencyResult, sent: int, stopped_in: float) -> None:
    def row(name: str, values: list[float]) -> str:
        if not values:
            return f"  {name:<34} (none)"
        p50, p99 = (nearest_rank(values, p) * 1000 for p in (50, 99))
        top = max(values) * 1000
        return f"  {name:<34} p50 {p50:>8.1f} ms   p99 {p99:>8.1f} ms   max {top:>8.1f} ms"

    print(f"alerts sent {sent}, page DMs measured {len(result.latencies)}")
    print(row("alert POST to first page DM", result.latencies))
    print(row("  of which POST to HTTP 200", result.answers))
    print(row("  of which HTTP 200 to DM", result.after_answer))
    if result.wall:
        print(
            f"wall {result.wall:.1f} s ({sent / result.wall:.0f} alerts/s); server CPU "
            f"{result.server_cpu / result.wall:.0%} of a core; last DM "
            f"{result.last_dm_after_last_answer * 1000:.0f} ms after the last HTTP 200; "
            f"server stopped in {stopped_in:.1f} s"
        )
    if result.effects:
        total = sum(result.effects.values())
        listed = ", ".join(f"{kind} {n}" for kind, n in result.effects.items())
        print(f"effects delivered (warm-up included): {total}: {listed}")
    if result.listen_overflows:
        print(
            f"note: {result.listen_overflows} connections overflowed a listen queue on this "
            "host during the run; each waits about 1 s for its SYN to be retried"
        )


# --- phase 2: escalations per second -------------------------------------------------------


class ManualClock:
    """The app's clock, moved by hand: deadlines pass when the benchmark says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def own_groups(body: bytes) -> bytes:
    """Give each alert of a notification its own ``model`` label, hence its own incident.

    Alertmanager would send these as separate notifications; intake does not mind.
    """
    payload = json.loads(body)
    for alert in payload["alerts"]:
        alert["labels"]["model"] += f"-{alert['fingerprint']}"
    return json.dumps(payload).encode()


async def open_through_intake(client: httpx.AsyncClient, notes: Notifications, count: int) -> None:
    """``count`` incidents through ``/alerts/alertmanager``, in large notifications."""
    sizes = [SETUP_ALERTS_PER_REQUEST] * (count // SETUP_ALERTS_PER_REQUEST)
    sizes += [count % SETUP_ALERTS_PER_REQUEST] if count % SETUP_ALERTS_PER_REQUEST else []
    requests = [Sent("", own_groups(notes.batch(1, n, groups=1, tag="esc")[0])) for n in sizes]
    await send_all(client, requests, SETUP_CONCURRENCY)
    if errors := [s.error for s in requests if s.error]:
        raise RuntimeError(f"setup intake failed: {errors[0]}")


def _columns(row: Any, model: type[Any]) -> dict[str, Any]:
    """Every column of an ORM row but its id, as plain values (JSON ones copied)."""
    values = {a.key: getattr(row, a.key) for a in inspect(model).column_attrs if a.key != "id"}
    return {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}


async def copy_incident(db: Database, count: int) -> None:
    """``count`` copies of the one incident in the database: its row, page and timeline.

    The template was opened by the real intake, so every copy has the same playbook,
    paged person, reason and deadline. Each copy gets its own number, ``model`` label and
    group key. Steps, alerts and effects are not copied: escalation reads none of them
    (it reads pages, the incident, overrides and the card's refresh effects).
    """
    async with db.transaction() as session:
        template = (await session.scalars(select(Incident))).one()
        page = (await session.scalars(select(Page))).one()
        events = list(await session.scalars(select(TimelineEvent).order_by(TimelineEvent.id)))
    incident_values, page_values = _columns(template, Incident), _columns(page, Page)
    event_values = [_columns(e, TimelineEvent) for e in events]
    model = str(template.labels["model"])
    group_key, title = str(template.group_key), template.title
    for start in range(0, count, COPY_BATCH):
        copies = range(start, min(start + COPY_BATCH, count))
        incidents = []
        for i in copies:
            copy_model = f"{model}-copy{i:05d}"
            incidents.append(
                {
                    **incident_values,
                    "number": template.number + 1 + i,
                    "title": title.replace(model, copy_model),
                    "group_key": group_key.replace(model, copy_model),
                    "labels": {**template.labels, "model": copy_model},
                }
            )
        async with db.transaction() as session:
            in_order = {"sort_by_parameter_order": True}
            ids = list(
                await session.scalars(
                    insert(Incident).returning(Incident.id, **in_order), incidents
                )
            )
            pages = [{**page_values, "incident_id": i} for i in ids]
            page_ids = list(
                await session.scalars(insert(Page).returning(Page.id, **in_order), pages)
            )
            timeline = [
                {**values, "incident_id": i, "data": _rewrite(values["data"], group_key, p)}
                for i, p in zip(ids, page_ids, strict=True)
                for values in event_values
            ]
            await session.execute(insert(TimelineEvent), timeline)
    async with db.transaction() as session:
        await session.execute(
            update(Counter).where(Counter.name == "incident").values(value=template.number + count)
        )


def _rewrite(data: dict[str, Any], group_key: str, page_id: int) -> dict[str, Any]:
    data = dict(data)
    if "page_id" in data:
        data["page_id"] = page_id
    if "group_key" in data:
        data["group_key"] = group_key  # close enough: nothing reads it back
    return data


async def page_counts(db: Database) -> dict[tuple[str, int], int]:
    """Pages by (state, attempt)."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Page.state, Page.attempt, func.count()).group_by(Page.state, Page.attempt)
        )
        return {(state, attempt): n for state, attempt, n in rows.all()}


async def effects_written(db: Database, since: datetime) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Effect.kind, func.count())
            .where(Effect.created_at >= since)
            .group_by(Effect.kind)
        )
        return dict(sorted(rows.all()))


async def escalation_phase(args: argparse.Namespace, database_url: str) -> int:
    pending, limit = args.pending, args.limit
    how = (
        "all through the intake route"
        if args.setup == "intake"
        else "1 through the intake route, the rest copied from it in bulk"
    )
    print(
        f"\n[2] escalations with {pending} pending ({how}): app in-process, clock moved by "
        "hand, no scheduler. Effect delivery is OFF (rt.after_commit is a no-op): this times "
        "escalation processing (page, timeline and effect rows), not Slack"
    )
    token = secrets.token_urlsafe(24)
    settings = Settings(
        _env_file=None,
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="",
        WARROOM_WEBHOOK_TOKEN=token,
        WARROOM_PLAYBOOKS=ROOT / "playbooks",
        WARROOM_ONCALL=ROOT / "oncall.example.yaml",
        WARROOM_SOURCES=ROOT / "bench" / "no-sources.yaml",  # absent: built-in parsers only
    )
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    app = create_app(
        settings, clock=clock, transport=ConsoleSlack(write=_discard), run_scheduler=False
    )
    rt = app.state.runtime
    rt.after_commit = lambda: None  # effects are written but never delivered
    notes = Notifications()
    problems: list[str] = []
    async with app.router.lifespan_context(app):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://warroom",
            headers=headers,
            timeout=600,
        ) as client:
            began = time.perf_counter()
            if args.setup == "intake":
                await open_through_intake(client, notes, pending)
            else:
                await open_through_intake(client, notes, 1)
                await copy_incident(rt.db, pending - 1)
            setup = time.perf_counter() - began
        before = await page_counts(rt.db)
        print(f"setup: {sum(before.values())} incidents with a pending page in {setup:.1f} s")
        if before != {(PageState.PENDING, 0): pending}:
            problems.append(f"setup left pages {before}, expected {pending} pending first pages")
        async with rt.db.transaction() as session:
            latest = await session.scalar(select(func.max(Page.ack_deadline)))
        clock.now = latest + timedelta(seconds=1)
        calls: list[tuple[int, float]] = []
        began = time.perf_counter()
        while True:
            started = time.perf_counter()
            done = await service.escalate_due(rt, limit)
            calls.append((done, time.perf_counter() - started))
            if done == 0:
                break
        wall = time.perf_counter() - began
        after = await page_counts(rt.db)
        written = await effects_written(rt.db, clock.now)
    escalated = sum(n for n, _ in calls)
    print(
        f"escalate_due(limit={limit}): {escalated} escalations in {wall:.1f} s = "
        f"{escalated / wall:.0f} escalations/s, {wall / max(escalated, 1) * 1000:.1f} ms each, "
        f"{len(calls)} calls (the last returned 0)"
    )
    report_call_rates(calls)
    print(
        f"pages after: {after.get((PageState.ESCALATED, 0), 0)} first pages escalated, "
        f"{after.get((PageState.PENDING, 1), 0)} new pending pages (attempt 1); "
        f"by (state, attempt): {dict(sorted(after.items()))}"
    )
    print(f"effects written by the escalations (undelivered): {written}")
    expected = {(PageState.ESCALATED, 0): pending, (PageState.PENDING, 1): pending}
    if escalated != pending or after != expected:
        problems.append(
            f"expected {pending} escalated and {pending} new pending pages, got {after} "
            f"({escalated} reported escalated)"
        )
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


def report_call_rates(calls: list[tuple[int, float]]) -> None:
    """Escalations/s per tenth of the run: a rate that falls as rows pile up shows here."""
    working = [(n, t) for n, t in calls if n]
    if len(working) < 10:
        return
    tenth = len(working) // 10
    rates = []
    for i in range(10):
        part = working[i * tenth : (i + 1) * tenth if i < 9 else len(working)]
        rates.append(sum(n for n, _ in part) / sum(t for _, t in part))
    print("  escalations/s by tenth of the run: " + " ".join(f"{r:.0f}" for r in rates))


# --- the run -------------------------------------------------------------------------------


async def fresh_database(args: argparse.Namespace, workdir: Path, name: str) -> str:
    if args.database_url is None:
        return f"sqlite:///{workdir / name}"
    if make_url(args.database_url).get_backend_name() == "postgresql":
        await reset_postgres(args.database_url)
    return str(args.database_url)


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    shown = describe(args.database_url) if args.database_url else "sqlite, a fresh file a phase"
    print(f"Warroom paging, database {shown}")
    print("load average before the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    status = 0
    if args.only in (None, "latency"):
        status |= await latency_phase(args, await fresh_database(args, workdir, "lat.db"), workdir)
    if args.only in (None, "escalation"):
        status |= await escalation_phase(args, await fresh_database(args, workdir, "esc.db"))
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.paging", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--alerts", type=int, default=300, help="alerts (incidents) timed")
    parser.add_argument("--concurrency", type=int, default=8, help="alert requests in flight")
    parser.add_argument(
        "--serial",
        action="store_true",
        help="send each alert only after the previous one's DM arrived: the latency of an "
        "idle bot, with no queue in front of the page",
    )
    parser.add_argument("--pending", type=int, default=10_000, help="pages to escalate")
    parser.add_argument("--limit", type=int, default=100, help="escalate_due's limit per call")
    parser.add_argument("--only", choices=["latency", "escalation"], help="run one phase")
    parser.add_argument(
        "--setup",
        choices=["copy", "intake"],
        default="copy",
        help="how the pending pages are made: one incident through intake copied in bulk "
        "(default, seconds), or every one through intake (minutes)",
    )
    add_database_url(parser, reset="before each phase")
    args = parser.parse_args(argv)
    if min(args.alerts, args.concurrency, args.pending, args.limit) < 1:
        parser.error("--alerts, --concurrency, --pending and --limit must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(bench, parse_args(argv), "warroom-bench-")


if __name__ == "__main__":
    sys.exit(main())
