"""Routing: which playbook takes an alert, and which open incident it joins.

The group key is the playbook id plus the values of the playbook's ``group_by`` labels,
so two alerts with equal values join one open incident, whatever their sender's own
grouping was.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts import NormalizedAlert
from bot.config import Playbook, PlaybookSet


@dataclass(frozen=True, slots=True)
class Route:
    playbook: Playbook
    group_key: str


def group_key(playbook: Playbook, labels: dict[str, str]) -> str:
    parts = ",".join(f'{name}="{labels.get(name, "")}"' for name in sorted(playbook.group_by))
    return f"{playbook.id}:{{{parts}}}"[:500]


def route(playbooks: PlaybookSet, alert: NormalizedAlert) -> Route:
    playbook = playbooks.route(alert.labels)
    return Route(playbook=playbook, group_key=group_key(playbook, alert.labels))
