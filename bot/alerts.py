"""The normalised alert: what every source parser produces and intake consumes.

Each sender (Alertmanager, Grafana, Datadog, …) has its own payload; parsers in
``handlers/parsers/`` turn them into this one shape so that routing, grouping and
de-duplication never need to know where an alert came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_FINGERPRINT = 255  # the alerts.fingerprint column
MAX_SEVERITY = 40  # the alerts.severity column


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    # The sender says a person has it (PagerDuty "acknowledge"): recorded, pages stop.
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class NormalizedAlert:
    """One alert instance as Warroom sees it.

    ``(source, fingerprint, starts_at)`` identifies an alert instance: a sender that
    re-delivers the same notification produces the same triple, which the database
    keeps unique. Senders whose "resolve" or "acknowledge" messages carry no start time
    (PagerDuty, Datadog recoveries, CloudWatch OK) leave ``starts_at`` None: such an alert
    applies to the latest alert of that fingerprint.
    """

    source: str
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None  # timezone-aware, UTC; None: "the latest one" (see above)
    ends_at: datetime | None = None  # None while firing
    summary: str = ""
    severity: str | None = None  # the sender's word (critical, warning, …), not a sev level
    links: dict[str, str] = field(default_factory=dict)  # name -> URL (generator, runbook, …)
    # The alert's own part of the payload, as parsed: it shares objects with the request's
    # body rather than copying them, which is safe because nothing changes either afterwards.
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every sender's values must fit the alerts table whatever the sender sent: a value
        # that fails the insert would fail the webhook, and the sender would retry forever.
        if len(self.fingerprint) > MAX_FINGERPRINT:
            digest = hashlib.sha256(self.fingerprint.encode()).hexdigest()
            object.__setattr__(self, "fingerprint", digest)
        if self.severity is not None and len(self.severity) > MAX_SEVERITY:
            object.__setattr__(self, "severity", self.severity[:MAX_SEVERITY])

    @property
    def name(self) -> str:
        return self.labels.get("alertname", self.summary or self.fingerprint)
