"""The runtime: what every service call needs, built once per process.

Holding the loaded configuration here (not in module globals) lets a reload swap the
whole set at once and lets tests run several bots side by side.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects
from bot.clock import Clock, utcnow
from bot.config import OncallConfig, PlaybookSet, Problem, load_oncall, load_playbooks
from bot.db import Database
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class LoadedConfig:
    playbooks: PlaybookSet
    oncall: OncallConfig
    problems: list[Problem] = field(default_factory=list)
    oncall_file: Path = Path("oncall.yaml")

    @classmethod
    def load(cls, settings: Settings) -> LoadedConfig:
        playbooks, playbook_problems = load_playbooks(settings.playbooks_dir)
        oncall, oncall_problems = load_oncall(settings.oncall_file)
        problems = [*playbook_problems, *oncall_problems]
        return cls(playbooks, oncall, problems, settings.oncall_file)

    def keeping_good_parts_of(self, previous: LoadedConfig) -> LoadedConfig:
        """This config, with the last good version of whatever a bad edit broke.

        A file that fails to load would otherwise drop its playbook (or role) from a
        running bot, and alerts would fall through to the default playbook.
        """
        broken = {p.file for p in self.problems if p.level == "error"}
        loaded = [p for p in self.playbooks if p.source_file]
        kept = [
            p
            for p in previous.playbooks
            if p.source_file in broken and self.playbooks.get(p.id) is None
        ]
        broken_roles = {
            p.field.split(".")[1]
            for p in self.problems
            if p.level == "error" and p.field.startswith("roles.")
        }
        roles = dict(self.oncall.roles)
        for name in broken_roles - roles.keys():
            if name in previous.oncall.roles:
                roles[name] = previous.oncall.roles[name]
        notes = [
            Problem(
                p.source_file or "",
                None,
                "",
                f"kept the last good version of playbook {p.id!r}",
                "warning",
            )
            for p in kept
        ] + [
            Problem(
                str(self.oncall_file),
                None,
                f"roles.{name}",
                "kept the last good version of this role",
                "warning",
            )
            for name in sorted(
                broken_roles & previous.oncall.roles.keys() - self.oncall.roles.keys()
            )
        ]
        return LoadedConfig(
            PlaybookSet([*loaded, *kept]),
            OncallConfig(roles=roles),
            [*self.problems, *notes],
            self.oncall_file,
        )

    def role_name(self, role_id: str) -> str:
        role = self.oncall.roles.get(role_id)
        return role.name if role else role_id


@dataclass
class Runtime:
    settings: Settings
    db: Database
    config: LoadedConfig
    clock: Clock = utcnow
    after_commit: Callable[[], None] = lambda: None  # wakes the dispatcher
    # Edges that hold configuration of their own (alert sources) reload with the core.
    reload_hooks: list[Callable[[], list[Problem]]] = field(default_factory=list)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction; if it queued effects, the dispatcher is woken after the commit.

        Only then: during an alert storm most intake commits only join alerts to incidents
        whose card edit is already waiting, and a wake-up would cost the dispatcher a claim
        (on SQLite a write) that finds nothing. Deferred effects wake it themselves.
        """
        async with self.db.transaction() as session:
            yield session
        if effects.queued(session):
            self.after_commit()

    def reload_config(self) -> list[Problem]:
        """Re-read playbooks and on-call (SIGHUP, ``/incident reload``); swap in one step."""
        self.config = LoadedConfig.load(self.settings).keeping_good_parts_of(self.config)
        problems = [*self.config.problems, *(p for hook in self.reload_hooks for p in hook())]
        for problem in problems:
            log.warning("config: %s", problem)
        return problems
