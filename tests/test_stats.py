"""MTTA, time to mitigate and MTTR on a constructed set of timelines with known answers."""

from __future__ import annotations

from datetime import timedelta

from bot.snapshot import EventView, IncidentSnapshot
from bot.stats import Agg, compute_stats, incident_figures, render_stats_text
from tests.snapshots import T0, make_event, make_incident, make_page

DAY = 24 * 60  # minutes


def incident(
    number: int,
    day: int,
    *,
    severity: str,
    playbook: str,
    acks: list[tuple[float, str]] = (),  # type: ignore[assignment]
    mitigated: float | None = None,
    resolved: float | None = None,
    declared: bool = False,
) -> IncidentSnapshot:
    """Detected on ``day`` at T0's time; acknowledgements as (minutes after, role)."""
    start = day * DAY
    ids = iter(range(1, 100))
    events: list[EventView] = []
    if declared:
        events.append(make_event(next(ids), "declared", start, actor="UX"))
    else:
        events.append(make_event(next(ids), "detected", start, data={"alert_id": 1}))
        events.append(make_event(next(ids), "opened", start + 1))
    pages = []
    for n, (minutes, role) in enumerate(acks):
        pages.append(make_page(n, role=role))
        events.append(
            make_event(
                next(ids),
                "acknowledged",
                start + minutes,
                actor=f"U{n}",
                data={"page_ids": [70 + n], "roles": [role]},
            )
        )
    if mitigated is not None:
        events.append(make_event(next(ids), "mitigated", start + mitigated, actor="U0"))
    if resolved is not None:
        events.append(make_event(next(ids), "resolved", start + resolved, actor="U0"))
    return IncidentSnapshot(
        incident=make_incident(
            id=number,
            number=number,
            severity=severity,
            playbook_id=playbook,
            # Cached columns that disagree with the timeline: stats must ignore them.
            acknowledged_at=T0,
            resolved_at=T0,
        ),
        alerts=[],
        pages=pages,
        steps=[],
        events=events,
    )


def incidents() -> list[IncidentSnapshot]:
    return [
        incident(
            1,
            1,
            severity="sev1",
            playbook="model-drift",
            acks=[(5, "ml-engineer")],
            mitigated=20,
            resolved=60,
        ),
        incident(
            2,
            2,
            severity="sev1",
            playbook="model-drift",
            acks=[(15, "data-scientist")],
            resolved=120,
        ),
        incident(
            3,
            3,
            severity="sev2",
            playbook="latency",
            acks=[(10, "ml-engineer"), (12, "data-scientist")],
            mitigated=30,
        ),
        incident(4, 4, severity="sev3", playbook="latency", declared=True),
        incident(
            5, 40, severity="sev1", playbook="model-drift", acks=[(1, "ml-engineer")], resolved=2
        ),  # outside the window
    ]


def stats():  # type: ignore[no-untyped-def]
    return compute_stats(incidents(), since=T0, until=T0 + timedelta(days=30))


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def test_overall_figures() -> None:
    s = stats()
    assert s.count == 4
    assert s.overall.tta == Agg(3, minutes(10), minutes(10))  # 5, 15, 10
    assert s.overall.ttm == Agg(2, minutes(25), minutes(25))  # 20, 30
    assert s.overall.ttr == Agg(2, minutes(90), minutes(90))  # 60, 120


def test_by_severity_and_playbook() -> None:
    s = stats()
    assert list(s.by_severity) == ["sev1", "sev2", "sev3"]
    sev1 = s.by_severity["sev1"]
    assert (sev1.count, sev1.tta, sev1.ttm) == (
        2,
        Agg(2, minutes(10), minutes(10)),
        Agg(1, minutes(20), minutes(20)),
    )
    assert s.by_severity["sev3"].tta == Agg(0, None, None)
    latency = s.by_playbook["latency"]
    assert (latency.count, latency.tta.median, latency.ttr.n) == (2, minutes(10), 0)


def test_by_role_measures_each_roles_own_acknowledgement() -> None:
    roles = stats().by_role
    assert list(roles) == ["data-scientist", "ml-engineer"]
    assert roles["ml-engineer"].tta == Agg(2, minutes(7.5), minutes(7.5))  # 5, 10
    assert roles["data-scientist"].tta == Agg(2, minutes(13.5), minutes(13.5))  # 15, 12
    assert roles["data-scientist"].ttr == Agg(1, minutes(120), minutes(120))


def test_median_and_mean_differ_on_skewed_data() -> None:
    snaps = [
        incident(n, n, severity="sev2", playbook="p", acks=[(m, "r")])
        for n, m in enumerate([1, 2, 30], start=1)
    ]
    s = compute_stats(snaps, since=T0, until=T0 + timedelta(days=10))
    assert s.overall.tta == Agg(3, minutes(2), minutes(11))


def test_a_declared_incident_is_measured_from_its_declaration() -> None:
    snap = incident(1, 0, severity="sev2", playbook="p", declared=True, acks=[(4, "r")])
    figures = incident_figures(snap)
    assert figures is not None and figures.tta == minutes(4)


def test_an_incident_with_no_events_is_left_out() -> None:
    snap = incident(1, 1, severity="sev2", playbook="p")
    empty = IncidentSnapshot(snap.incident, [], [], [], [])
    assert incident_figures(empty) is None
    assert compute_stats([empty], since=T0, until=T0 + timedelta(days=9)).count == 0


def test_text_table() -> None:
    text = render_stats_text(stats())
    lines = text.splitlines()
    assert lines[0] == "Incidents detected 2026-11-29 10:00 to 2026-12-29 10:00 UTC: 4"
    header = lines[2]
    assert header.split("  ")[-1].strip() == "MTTR median / mean"
    row = {line.split("  ")[0].strip(): line for line in lines[3:] if line}
    assert "10m / 10m (n=3)" in row["All"] and "25m / 25m (n=2)" in row["All"]
    assert "1h 30m / 1h 30m (n=2)" in row["All"]
    assert row["Severity sev3"].split()[2:] == ["1", "—", "—", "—"]
    assert "7m 30s / 7m 30s" in row["Role ml-engineer"]
    # Columns line up: every figure column starts at the same offset on every row.
    offset = header.index("MTTA")
    assert all(line[offset - 2 : offset] == "  " for line in lines[3:8])


def test_no_incidents() -> None:
    text = render_stats_text(compute_stats([], since=T0, until=T0 + timedelta(days=1)))
    assert text == "No incidents detected 2026-11-29 10:00 to 2026-11-30 10:00 UTC.\n"
