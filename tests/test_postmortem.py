"""Postmortem figures come from the timeline; the Markdown carries every section, safely."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jinja2
import pytest

from bot import postmortem
from bot.snapshot import IncidentSnapshot
from tests.snapshots import at, make_alert, make_event, make_incident, make_page, make_step

SECTIONS = [
    "# Postmortem: Incident #3 — Model drift",
    "## Summary",
    "## Detection",
    "## Response figures",
    "## Who was involved",
    "## Alerts",
    "## Playbook steps",
    "## Timeline",
    "## Follow-up actions",
]


def open_snapshot() -> IncidentSnapshot:
    """Detected 10:00 by the earliest alert (listed last on purpose), not yet acknowledged."""
    return IncidentSnapshot(
        incident=make_incident(
            detected_at=at(1),
            # Cached columns that disagree with the timeline: the figures must ignore them.
            acknowledged_at=at(30),
        ),
        alerts=[
            make_alert(2, 3, summary="PSI above 0.2 on f2"),
            make_alert(1, 0, summary="PSI above 0.2 on f1"),
        ],
        pages=[make_page(1, state="escalated")],
        steps=[
            make_step(2, title="Roll back the model", role="ml-engineer"),
            make_step(
                1, title="Compare feature drift", state="done", done_by="U0456", done_at=at(20)
            ),
        ],
        events=[make_event(1, "declared", 1, text="Opened from ModelDrift1")],
    )


def resolved_snapshot() -> IncidentSnapshot:
    snap = open_snapshot()
    pages = [
        make_page(1, state="escalated"),  # escalated after 5 minutes
        make_page(2, user_id="U0456EFGH", attempt=2, sent_at=at(6), state="acknowledged",
                  acknowledged_at=at(7), acknowledged_by="U0456EFGH"),
        make_page(3, role="aiops-specialist", role_name="AIOps specialist", user_id=None,
                  state="exhausted"),
    ]  # fmt: skip
    events = [
        *snap.events,
        make_event(2, "escalated", 6, text="Escalated to U0456EFGH"),
        make_event(3, "acknowledged", 7, actor="U0456EFGH", text="Acknowledged"),
        make_event(4, "acknowledged", 9, actor="U0999ZZZZ", text="Acknowledged too"),
        make_event(5, "note", 20, actor="U0456EFGH", text="Drift in f1\nsecond line"),
        make_event(6, "resolved", 65, actor="U0456EFGH", text="Rolled back to v1"),
    ]
    return replace(
        snap,
        incident=replace(snap.incident, status="resolved", resolved_at=at(99)),
        pages=pages,
        events=events,
    )


# --- Figures ---------------------------------------------------------------------------------


def test_figures_are_measured_from_detection_using_the_timeline() -> None:
    facts = postmortem.build(resolved_snapshot())
    assert facts.detected_at == at(0)  # earliest alert, not incident.detected_at
    assert facts.first_alert is not None and facts.first_alert.name == "ModelDrift1"
    assert facts.acknowledged_at == at(7)  # first acknowledged event, not the cached 10:30
    assert facts.resolved_at == at(65)  # the resolved event, not the cached 11:39
    assert facts.time_to_acknowledge == timedelta(minutes=7)
    assert facts.time_to_resolve == timedelta(minutes=65)
    assert facts.acknowledged_by == ["U0456EFGH", "U0999ZZZZ"]
    assert facts.resolved_by == "U0456EFGH"
    assert facts.summary == "Rolled back to v1"
    assert [s.position for s in facts.steps] == [0, 1]
    assert [e.id for e in facts.timeline] == [1, 2, 3, 4, 5, 6]


def test_page_facts() -> None:
    pages = postmortem.build(resolved_snapshot()).pages
    assert [(p.user_id, p.role, p.acknowledged) for p in pages] == [
        ("U0123ABCD", "ml-engineer", False),
        (None, "aiops-specialist", False),  # same sent_at as the first: id breaks the tie
        ("U0456EFGH", "ml-engineer", True),
    ]
    assert pages[2].time_to_acknowledge == timedelta(minutes=1)
    assert pages[0].time_to_acknowledge is None
    assert pages[0].outcome == "not acknowledged in time; escalated"
    assert pages[1].outcome == "nobody on call"


def test_open_incident_has_no_figures_yet() -> None:
    facts = postmortem.build(open_snapshot())
    assert facts.acknowledged_at is None and facts.time_to_acknowledge is None
    assert facts.resolved_at is None and facts.time_to_resolve is None
    assert facts.summary is None
    assert not facts.is_resolved


def test_detection_falls_back_to_the_incident_without_alerts() -> None:
    snap = replace(open_snapshot(), alerts=[])
    snap = replace(snap, incident=replace(snap.incident, declared_by="U0123ABCD"))
    facts = postmortem.build(snap)
    assert facts.detected_at == at(1)
    assert facts.first_alert is None
    text = postmortem.render_markdown(snap)
    assert "Declared by hand by @U0123ABCD at 2026-11-29 10:01:00 UTC; no alert fired." in text


# --- Markdown --------------------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """The body of one ``## heading`` section."""
    start = text.index(heading) + len(heading)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else None]


def test_resolved_markdown_has_every_section_in_order() -> None:
    text = postmortem.render_markdown(resolved_snapshot())
    positions = [text.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Postmortem: Incident #3 — Model drift\n")
    assert "| Severity | SEV2 |" in text
    assert "| Status | Resolved |" in text
    assert section(text, "## Summary").strip() == "Rolled back to v1"
    assert section(text, "## Timeline").count("\n- `") == 6


RESOLVED_SECTION_LINES = [
    ("## Detection", ["2026-11-29 10:00:00 UTC", "**ModelDrift1**: PSI above 0.2 on f1"]),
    ("## Response figures", ["| Time to acknowledge | 7m |", "| Time to resolve | 1h 5m |"]),
    (
        "## Who was involved",
        [
            "| @U0456EFGH | ML engineer | 2 | 2026-11-29 10:06:00 UTC | acknowledged by",
            "| _nobody on call_ | AIOps specialist |",
            "Acknowledged by: @U0456EFGH, @U0999ZZZZ.",
        ],
    ),
    (
        "## Playbook steps",
        [
            "- [x] 1. Compare feature drift (data-scientist) — done by @U0456",
            "- [ ] 2. Roll back the model (ml-engineer) — not done",
        ],
    ),
    ("## Timeline", ["- `2026-11-29 10:20:00 UTC` · @U0456EFGH · Drift in f1\n  second line"]),
    ("## Follow-up actions", ["- [ ] "]),
]


@pytest.mark.parametrize(("heading", "lines"), RESOLVED_SECTION_LINES)
def test_resolved_markdown_section_contents(heading: str, lines: list[str]) -> None:
    body = section(postmortem.render_markdown(resolved_snapshot()), heading)
    for line in lines:
        assert line in body


def test_open_markdown_shows_figures_not_reached() -> None:
    text = postmortem.render_markdown(open_snapshot())
    assert [h in text for h in SECTIONS] == [True] * len(SECTIONS)
    assert "| Status | Open" in text
    assert "_No summary was given._" in section(text, "## Summary")
    figures = section(text, "## Response figures")
    assert "| Time to acknowledge | — |" in figures
    assert "| Time to resolve | — |" in figures
    assert "Nobody acknowledged the incident." in text


def test_untrusted_text_cannot_inject_html_or_markdown_structure() -> None:
    snap = resolved_snapshot()
    evil = "<script>alert(1)</script> | cell\n## Fake heading"
    snap = replace(
        snap,
        incident=replace(snap.incident, title=evil),
        alerts=[make_alert(1, 0, name=evil, summary=evil)],
        events=[*snap.events, make_event(9, "note", 70, actor="U0456EFGH", text=evil)],
    )
    text = postmortem.render_markdown(snap)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\n## Fake heading" not in text  # titles and cells stay on one line
    assert text.splitlines()[0].startswith("# Postmortem: Incident #3 — &lt;script&gt;")
    assert "\\| cell" in section(text, "## Alerts")  # pipes cannot open a new table cell


def test_template_override(tmp_path: Path) -> None:
    custom = tmp_path / "brief.md.j2"
    custom.write_text(
        "#{{ incident.number }} {{ incident.title | inline }}: "
        "TTA {{ pm.time_to_acknowledge | dur }}, TTR {{ pm.time_to_resolve | dur }}\n",
        encoding="utf-8",
    )
    text = postmortem.render_markdown(resolved_snapshot(), template_path=custom)
    assert text == "#3 Model drift: TTA 7m, TTR 1h 5m\n"


def test_a_template_typo_fails_loudly(tmp_path: Path) -> None:
    custom = tmp_path / "typo.md.j2"
    custom.write_text("{{ pm.time_to_acknowlege }}", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError):
        postmortem.render_markdown(open_snapshot(), template_path=custom)
