"""The normalised alert: what every source parser produces and intake consumes.

Each sender (Alertmanager, Grafana, Datadog, …) has its own payload; parsers in
``handlers/parsers/`` turn them into this one shape so that routing, grouping and
de-duplication never need to know where an alert came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class NormalizedAlert:
    """One alert instance as Warroom sees it.

    ``(source, fingerprint, starts_at)`` identifies an alert instance: a sender that
    re-delivers the same notification produces the same triple, which the database
    keeps unique.
    """

    source: str
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime  # timezone-aware, UTC
    ends_at: datetime | None = None  # None while firing
    summary: str = ""
    severity: str | None = None  # the sender's word (critical, warning, …), not a sev level
    links: dict[str, str] = field(default_factory=dict)  # name -> URL (generator, runbook, …)
    raw: dict[str, Any] = field(default_factory=dict)  # the alert's own part of the payload

    @property
    def name(self) -> str:
        return self.labels.get("alertname", self.summary or self.fingerprint)
