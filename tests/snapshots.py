"""Hand-made incident snapshots for renderer tests.

The Block Kit and postmortem renderers are pure functions of ``bot.snapshot`` dataclasses,
so their tests build those dataclasses by hand instead of going through the database.
This module is the one way to do that: every builder returns a complete, plausible value
(an open SEV2 "Model drift" incident, #3, starting at ``T0``) and takes ``**changes`` for
the fields a test cares about. Tests that need different facts pass them explicitly.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.snapshot import (
    AlertView,
    EventView,
    IncidentSnapshot,
    IncidentView,
    PageView,
    StepView,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``minutes`` after ``T0``."""
    return T0 + timedelta(minutes=minutes)


def make_incident(**changes: Any) -> IncidentView:
    base = IncidentView(
        id=42,  # deliberately not the number: buttons must carry the id
        number=3,
        title="Model drift",
        severity="sev2",
        status="open",
        playbook_id="model-drift",
        playbook_title="Model drift",
        channel_id="C0INC3",
        channel_name="inc-3-model-drift",
        status_text=None,
        summary=None,
        declared_by=None,
        opened_at=at(1),
        detected_at=at(0),
        acknowledged_at=None,
        resolved_at=None,
    )
    return replace(base, **changes)


def make_alert(n: int, minutes: float = 0, **changes: Any) -> AlertView:
    """Alert ``n``, firing since ``minutes`` after ``T0``."""
    base = AlertView(
        id=n,
        name=f"ModelDrift{n}",
        summary=f"PSI above 0.2 for feature f{n}",
        status="firing",
        severity="warning",
        labels={"alertname": f"ModelDrift{n}", "model": "fraud-v2", "env": "prod"},
        starts_at=at(minutes),
        ends_at=None,
        links={"runbook": "https://runbooks.example/drift?x=1&y=2"},
    )
    return replace(base, **changes)


def make_page(n: int, **changes: Any) -> PageView:
    """A pending first-attempt page with id ``70 + n``, sent at minute 1."""
    base = PageView(
        id=70 + n,
        role="ml-engineer",
        role_name="ML engineer",
        user_id="U0123ABCD",
        attempt=1,
        state="pending",
        sent_at=at(1),
        ack_deadline=at(6),
        acknowledged_at=None,
        acknowledged_by=None,
    )
    return replace(base, **changes)


def make_step(number: int, **changes: Any) -> StepView:
    """Step ``number`` as people count (1, 2, …); stored positions start at 0."""
    base = StepView(
        id=100 + number,
        position=number - 1,
        title=f"Step {number}",
        role="data-scientist",
        details="",
        state="pending",
        done_by=None,
        done_at=None,
    )
    return replace(base, **changes)


def make_event(n: int, kind: str, minutes: float, **changes: Any) -> EventView:
    base = EventView(id=n, at=at(minutes), kind=kind, actor=None, text="", data={})
    return replace(base, **changes)


def make_snapshot(**changes: Any) -> IncidentSnapshot:
    """Open and unacknowledged: 2 of 3 alerts firing, one pending page, one step done."""
    base = IncidentSnapshot(
        incident=make_incident(),
        alerts=[make_alert(1), make_alert(2), make_alert(3, status="resolved", ends_at=at(5))],
        pages=[make_page(7)],
        steps=[make_step(1), make_step(2, state="done", done_by="U0456EFGH", done_at=at(4))],
        events=[make_event(1, "declared", 1)],
    )
    return replace(base, **changes)
