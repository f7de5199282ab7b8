"""The ``warroom`` command line (also ``python -m bot``), as DESIGN.md's contract lists it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Routine chatter (every scheduler tick, every Alembic plugin) would bury what matters.
    for chatty in ("apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args.func(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warroom", description="Incident response for AI systems")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate the database and run the bot")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--strict", action="store_true", help="refuse to start on a config error")
    serve.set_defaults(func=_serve)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="apply migrations and exit").set_defaults(func=_db_upgrade)

    playbooks = sub.add_parser("playbooks", help="playbook tooling").add_subparsers(
        required=True, metavar="ACTION"
    )
    lint = playbooks.add_parser("lint", help="validate playbooks and the on-call file")
    lint.add_argument("dir", nargs="?", type=Path)
    lint.set_defaults(func=_lint)

    route = sub.add_parser("route", help="dry run: where would these alerts go?")
    route.add_argument("file", type=Path)
    route.add_argument("--source", default="alertmanager")
    route.set_defaults(func=_route)

    stats = sub.add_parser("stats", help="incident count, MTTA and MTTR from the timeline")
    stats.add_argument("--days", type=int, default=30)
    stats.set_defaults(func=_stats)

    postmortem = sub.add_parser("postmortem", help="print an incident's postmortem as Markdown")
    postmortem.add_argument("incident", type=int)
    postmortem.set_defaults(func=_postmortem)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.runtime import LoadedConfig

    settings = Settings()
    problems = LoadedConfig.load(settings).problems
    if args.strict and any(p.level == "error" for p in problems):
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    if settings.console_mode:
        print("Console mode: no SLACK_BOT_TOKEN, so Slack messages are printed here.")
    uvicorn.run(create_app(settings), host=args.host, port=settings.port, log_level="info")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import Database

    async def upgrade() -> None:
        db = Database(Settings().database_url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(upgrade())
    print("database is up to date")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from bot.config import lint

    settings = Settings()
    problems = lint(args.dir or settings.playbooks_dir, settings.oncall_file)
    for problem in problems:
        print(f"{problem.level}: {problem}")
    errors = sum(p.level == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


def _route(args: argparse.Namespace) -> int:
    from bot.dryrun import explain
    from bot.runtime import LoadedConfig
    from handlers.parsers import PARSERS, PayloadError

    parser = PARSERS.get(args.source)
    if parser is None:
        print(
            f"unknown source {args.source!r}; known: {', '.join(sorted(PARSERS))}", file=sys.stderr
        )
        return 2
    try:
        alerts = parser(json.loads(args.file.read_text()))
    except (OSError, json.JSONDecodeError, PayloadError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    print(explain(LoadedConfig.load(Settings()), alerts))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from bot import service

    print(asyncio.run(_with_runtime(lambda rt: service.stats(rt, args.days))))
    return 0


async def _with_runtime(work: Any) -> Any:
    """Run one service call against the configured database, outside the server."""
    from bot.app import create_app

    rt = create_app(Settings(), run_scheduler=False).state.runtime
    try:
        return await work(rt)
    finally:
        await rt.db.dispose()


def _postmortem(args: argparse.Namespace) -> int:
    from bot import service
    from bot.errors import UserError
    from bot.incidents import IncidentRef

    ref = IncidentRef(number=args.incident)
    try:
        print(asyncio.run(_with_runtime(lambda rt: service.postmortem(rt, ref))))
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
