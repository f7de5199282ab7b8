"""Postmortem speed on a huge incident: 10,000 timeline events and 5,000 alerts.

    python -m bench.postmortem [--events 10000] [--alerts 5000] [--runs 5]

Builds one snapshot in memory (no database: the renderer is a pure function of it), then
times building the facts + rendering the Markdown, and checking every citation of the
result, and prints the median (and fastest/slowest) of ``--runs`` runs of each. The issue's
target is "well under a second" for build + render.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.citations import check_citations
from bot.postmortem import build, render_markdown
from bot.snapshot import (
    AlertView,
    EventView,
    IncidentSnapshot,
    IncidentView,
    PageView,
    StepView,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
USERS = [f"U0{n:03d}ABC" for n in range(12)]
MODELS = [f"model-{n}" for n in range(40)]


def huge_snapshot(n_events: int, n_alerts: int) -> IncidentSnapshot:
    """An alert storm: every alert fired on the timeline, pages with escalations, and the
    rest notes, status updates, step and check events, mitigation and resolution."""
    alerts = [
        AlertView(
            id=n,
            name=f"ModelDrift{n % 7}",
            summary=f"PSI above 0.2 for feature f{n} on {MODELS[n % 40]}",
            status="firing" if n % 3 else "resolved",
            severity="warning",
            labels={
                "alertname": f"ModelDrift{n % 7}",
                "model": MODELS[n % 40],
                "env": "prod",
                "feature": f"f{n}",
            },
            starts_at=T0 + timedelta(seconds=n),
            ends_at=None if n % 3 else T0 + timedelta(hours=2),
        )
        for n in range(1, n_alerts + 1)
    ]
    events: list[EventView] = []

    def add(kind: str, seconds: float, actor: str | None = None, text: str = "", **data: object):
        events.append(
            EventView(len(events) + 1, T0 + timedelta(seconds=seconds), kind, actor, text, data)
        )

    for alert in alerts:
        kind = "detected" if alert.id == 1 else "alert_fired"
        add(kind, alert.id, text=f"{alert.name} fired: {alert.summary}", alert_id=alert.id)
    add("opened", 30, text="Opened by alert, playbook model-drift")
    pages = []
    for n in range(10):
        user = USERS[n]
        add(
            "paged",
            30 + n * 300,
            text=f"Paged {user}",
            role="ml-engineer",
            user_id=user,
            page_id=1000 + n,
        )
        pages.append(
            PageView(
                1000 + n,
                "ml-engineer",
                "ML engineer",
                user,
                n,
                "escalated",
                T0 + timedelta(seconds=30 + n * 300),
                T0 + timedelta(seconds=330 + n * 300),
                None,
                None,
            )
        )
    add("acknowledged", 3100, USERS[9], "ack", page_ids=[1009], roles=["ml-engineer"])
    steps = [
        StepView(
            n,
            f"Step {n + 1}",
            "data-scientist",
            "",
            "done",
            USERS[n % 12],
            T0 + timedelta(seconds=4000 + n),
            id=500 + n,
            check="PSI below 0.2",
            check_outcome="pass",
            check_detail="PSI 0.1",
        )
        for n in range(20)
    ]
    for step in steps:
        add(
            "step_done",
            4000 + step.position,
            step.done_by,
            f"Step done: {step.title}",
            step_id=step.id,
        )
        add(
            "check_result",
            4001 + step.position,
            None,
            "pass — PSI 0.1",
            step_id=step.id,
            outcome="pass",
        )
    add("mitigated", 6000, USERS[9], "Traffic shifted to v1")
    n = 0
    while len(events) < n_events - 1:
        n += 1
        kind = "note" if n % 5 else "status"
        add(kind, 6000 + n, USERS[n % 12], f"Observation {n}: PSI on f{n} is 0.{n % 9}\nsee dash")
    add("resolved", 6000 + n + 60, USERS[9], "Rolled back to v1")
    incident = IncidentView(
        id=1,
        number=7,
        title="Model drift storm",
        severity="sev1",
        status="resolved",
        playbook_id="model-drift",
        playbook_title="Model drift",
        channel_id="C1",
        channel_name="inc-7",
        status_text=None,
        summary=None,
        declared_by=None,
        opened_at=T0,
        detected_at=T0,
        acknowledged_at=None,
        resolved_at=None,
    )
    return IncidentSnapshot(incident, alerts, pages, steps, events)


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    snap = huge_snapshot(args.events, args.alerts)
    render_markdown(snap)  # warm-up: Jinja compiles the template once per process
    build_times, _ = timed(lambda: build(snap), args.runs)
    render_times, markdown = timed(lambda: render_markdown(snap), args.runs)
    check_times, problems = timed(lambda: check_citations(str(markdown), snap), args.runs)

    print(f"snapshot: {len(snap.events):,} events, {len(snap.alerts):,} alerts")
    print(f"document: {len(str(markdown)):,} characters, {str(markdown).count(chr(10)):,} lines")
    print(f"{'':<26}{'median':>10}{'min':>10}{'max':>10}")
    for label, times in (
        ("build facts", build_times),
        ("build + render Markdown", render_times),
        ("check citations", check_times),
    ):
        print(
            f"{label:<26}{statistics.median(times) * 1000:>8.0f}ms"
            f"{min(times) * 1000:>8.0f}ms{max(times) * 1000:>8.0f}ms"
        )
    print(f"citation problems: {len(problems)}")  # type: ignore[arg-type]
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
