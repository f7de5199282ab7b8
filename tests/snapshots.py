"""Hand-made incident snapshots for renderer tests.

The Block Kit and postmortem renderers are pure functions of ``bot.snapshot`` dataclasses,
so their tests build those dataclasses by hand instead of going through the database.
This module is the one way to do that: every builder returns a complete, plausible value
(an open SEV2 "Model drift" incident, #3, starting at ``T0``) and takes ``**changes`` for
the fields a test cares about. Tests that need different facts pass them explicitly.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.snapshot import (
    AlertView,
    EventView,
    FollowupView,
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


def make_followup(n: int, **changes: Any) -> FollowupView:
    """An open follow-up with id ``n``, owned by U0456EFGH, due a week after ``T0``."""
    base = FollowupView(
        id=n,
        text=f"Follow-up {n}",
        owner="U0456EFGH",
        due=date(2026, 12, 6),
        done=False,
    )
    return replace(base, **changes)


def make_lifecycle_snapshot(**changes: Any) -> IncidentSnapshot:
    """A resolved incident whose timeline holds every milestone, as the services record it.

    Detected at minute 0 (ModelDrift1), opened at 1, first page escalated at 6, the second
    acknowledged at 7 by U0456EFGH (who becomes incident commander and raises the severity),
    mitigated at 30, resolved at 65. Figures from detection: TTD 1m, TTA 7m, TTM 30m,
    TTR 1h 5m; the second page took 1m to acknowledge.
    """
    events = [
        make_event(1, "detected", 0, text="ModelDrift1 fired: PSI above 0.2 for feature f1",
                   data={"alert_id": 1}),
        make_event(2, "opened", 1, text="Opened by alert, playbook model-drift",
                   data={"playbook": "model-drift"}),
        make_event(3, "paged", 1, text="Paged U0123ABCD as ML engineer",
                   data={"role": "ml-engineer", "user_id": "U0123ABCD", "attempt": 0,
                         "page_id": 71}),
        make_event(4, "alert_fired", 3, text="ModelDrift2 fired: PSI above 0.2 for feature f2",
                   data={"alert_id": 2}),
        make_event(5, "escalated", 6, text="U0123ABCD did not acknowledge within 0:05:00",
                   data={"role": "ml-engineer", "from_user": "U0123ABCD",
                         "to_user": "U0456EFGH"}),
        make_event(6, "paged", 6, text="Paged U0456EFGH as ML engineer",
                   data={"role": "ml-engineer", "user_id": "U0456EFGH", "attempt": 1,
                         "page_id": 72}),
        make_event(7, "acknowledged", 7, actor="U0456EFGH",
                   text="U0456EFGH acknowledged the page for ML engineer",
                   data={"roles": ["ml-engineer"], "page_ids": [72]}),
        make_event(8, "role_assigned", 8, actor="U0456EFGH",
                   text="U0456EFGH is incident commander",
                   data={"role": "incident-commander", "user": "U0456EFGH"}),
        make_event(9, "severity_changed", 9, actor="U0456EFGH", text="Severity SEV2 → SEV1",
                   data={"from": "sev2", "to": "sev1"}),
        make_event(10, "note", 20, actor="U0777DS",
                   text="Drift in f1 since the 09:55 deploy; took 5m to confirm [#99]"),
        make_event(11, "step_done", 21, actor="U0777DS", text="Step 1 done: Compare features",
                   data={"step_id": 101}),
        make_event(12, "check_result", 22, text="Check for step 2: fail — PSI 0.31",
                   data={"step_id": 102, "outcome": "fail"}),
        make_event(13, "mitigated", 30, actor="U0456EFGH", text="Traffic shifted to v1"),
        make_event(14, "alert_resolved", 40, text="ModelDrift2 resolved: PSI back to 0.05",
                   data={"alert_id": 2, "firing": 1}),
        make_event(15, "resolved", 65, actor="U0456EFGH", text="Rolled back to v1"),
    ]  # fmt: skip
    pages = [
        make_page(1, state="escalated"),
        make_page(2, user_id="U0456EFGH", attempt=1, sent_at=at(6), state="acknowledged",
                  ack_deadline=at(11), acknowledged_at=at(7), acknowledged_by="U0456EFGH"),
    ]  # fmt: skip
    steps = [
        make_step(1, title="Compare features", state="done", done_by="U0777DS", done_at=at(21)),
        make_step(2, title="Check PSI", role="ml-engineer", check="PSI of f1 below 0.2",
                  check_outcome="fail", check_detail="PSI 0.31"),
    ]  # fmt: skip
    base = IncidentSnapshot(
        incident=make_incident(
            severity="sev1", status="resolved", summary="Rolled back to v1",
            # Cached columns that disagree with the timeline: figures must ignore them.
            acknowledged_at=at(30), resolved_at=at(99),
        ),
        alerts=[
            make_alert(1, 0),
            make_alert(2, 3, status="resolved", ends_at=at(40),
                       labels={"alertname": "ModelDrift2", "model": "fraud-v2",
                               "env": "prod"}),
        ],
        pages=pages,
        steps=steps,
        events=events,
        followups=[make_followup(1, text="Alert on schema changes upstream"),
                   make_followup(2, owner=None, due=None, done=True)],
    )  # fmt: skip
    return replace(base, **changes)
