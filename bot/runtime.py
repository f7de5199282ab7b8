"""The runtime: what every service call needs, built once per process.

Holding the loaded configuration here (not in module globals) lets a reload swap the
whole set at once and lets tests run several bots side by side.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

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

    @classmethod
    def load(cls, settings: Settings) -> LoadedConfig:
        playbooks, playbook_problems = load_playbooks(settings.playbooks_dir)
        oncall, oncall_problems = load_oncall(settings.oncall_file)
        return cls(playbooks, oncall, [*playbook_problems, *oncall_problems])

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

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction; after it commits, the dispatcher is woken to deliver its effects."""
        async with self.db.transaction() as session:
            yield session
        self.after_commit()

    def reload_config(self) -> list[Problem]:
        self.config = LoadedConfig.load(self.settings)
        for problem in self.config.problems:
            log.warning("config: %s", problem)
        return self.config.problems
