"""Intake's own cost, without HTTP or Slack: batches of alerts through ``IntakeQueue``.

    python -m bench.intake_batch [--batches 30] [--requests 32] [--alerts-per-request 2]
                                 [--database-url postgresql://postgres@127.0.0.1:5432/warroom_bench]

``bench.ingest`` measures the whole server, where HTTP, parsing and the dispatcher's Slack
work share the CPU with intake. This script measures only what intake adds: the same
Alertmanager notifications, already parsed, submitted ``--requests`` at a time to the
production ``IntakeQueue`` (which commits each group of concurrent requests together) on
a fresh database, with the dispatcher asleep. The first batch opens the 40 groups'
incidents and is not counted; the rest are new alerts joining them, as in a storm. It
prints alerts/s and CPU microseconds per alert, and checks every alert was stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from bench.harness import Notifications, add_database_url, describe, reset_postgres
from bot.alerts import NormalizedAlert
from bot.db import Database
from bot.intake_queue import IntakeQueue
from bot.models import Alert
from bot.runtime import LoadedConfig, Runtime
from bot.settings import Settings
from handlers.parsers import alertmanager

GROUPS = 40


async def bench(args: argparse.Namespace, url: str) -> int:
    settings = Settings(
        _env_file=None,
        DATABASE_URL=url,
        WARROOM_PLAYBOOKS="./playbooks",
        WARROOM_ONCALL="./oncall.example.yaml",
    )
    db = Database(url)
    await db.upgrade()
    queue = IntakeQueue(Runtime(settings, db, LoadedConfig.load(settings)))
    notes = Notifications()  # the same run id, hence the same 40 groups, for every batch
    batches = [parse(args, notes) for _ in range(args.batches + 1)]
    try:
        await submit(queue, batches[0])  # opens every group's incident
        started, cpu = time.perf_counter(), time.process_time()
        for batch in batches[1:]:
            await submit(queue, batch)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with db.transaction() as session:
            stored = await session.scalar(select(func.count()).select_from(Alert))
    finally:
        await db.dispose()
    measured = args.batches * args.requests * args.alerts_per_request
    sent = measured + args.requests * args.alerts_per_request
    print(
        f"Warroom intake batches: {args.batches} x {args.requests} requests x "
        f"{args.alerts_per_request} alerts, {GROUPS} groups, database {describe(url)}"
    )
    print(
        f"{measured} alerts in {wall:.2f} s: {measured / wall:,.0f} alerts/s, "
        f"{cpu / measured * 1e6:,.0f} us of CPU per alert (this process, database client "
        "included)"
    )
    print(f"stored {stored} of {sent} sent")
    return 0 if stored == sent else 1


def parse(args: argparse.Namespace, notes: Notifications) -> list[list[NormalizedAlert]]:
    """One batch of new alerts, spread over the same groups as every other batch."""
    bodies = notes.batch(args.requests, args.alerts_per_request, groups=GROUPS, tag="intake")
    return [alertmanager.parse(json.loads(body)) for body in bodies]


async def submit(queue: IntakeQueue, batch: list[list[NormalizedAlert]]) -> None:
    """All requests of the batch at once, as concurrent webhook requests would arrive."""
    await asyncio.gather(*(queue.submit(alerts) for alerts in batch))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake_batch", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batches", type=int, default=30, help="measured batches")
    parser.add_argument("--requests", type=int, default=32, help="concurrent requests a batch")
    parser.add_argument("--alerts-per-request", type=int, default=2)
    add_database_url(parser)
    args = parser.parse_args(argv)
    if min(args.batches, args.requests, args.alerts_per_request) < 1:
        parser.error("--batches, --requests and --alerts-per-request must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="warroom-intake-") as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'intake.db'}"
        if args.database_url:
            asyncio.run(reset_postgres(url))
        return asyncio.run(bench(args, url))


if __name__ == "__main__":
    sys.exit(main())
