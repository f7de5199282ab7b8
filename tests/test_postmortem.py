"""Postmortem figures come from the timeline; the Markdown carries every section, cites its
events and stays safe with hostile text."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jinja2
import pytest

from bot import postmortem
from bot.citations import check_citations
from bot.narrative import Narrative
from bot.snapshot import IncidentSnapshot
from tests.snapshots import (
    at,
    make_alert,
    make_event,
    make_followup,
    make_incident,
    make_lifecycle_snapshot,
    make_page,
    make_step,
)

SECTIONS = [
    "# Postmortem: Incident #3 — Model drift",
    "## Summary",
    "## Impact",
    "## Detection",
    "## Response figures",
    "## Who was involved",
    "## Playbook steps",
    "## Alerts",
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
        events=[
            make_event(1, "detected", 0, text="ModelDrift1 fired", data={"alert_id": 1}),
            make_event(2, "opened", 1, text="Opened by alert"),
            make_event(3, "alert_fired", 3, text="ModelDrift2 fired", data={"alert_id": 2}),
        ],
    )


def declared_snapshot() -> IncidentSnapshot:
    return IncidentSnapshot(
        incident=make_incident(declared_by="U0123ABCD"),
        alerts=[],
        pages=[],
        steps=[],
        events=[make_event(1, "declared", 1, actor="U0123ABCD", text="Declared: Model drift")],
    )


def section(text: str, heading: str) -> str:
    """The body of one ``## heading`` section."""
    start = text.index(heading) + len(heading)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else None]


# --- Figures ---------------------------------------------------------------------------------


def test_figures_are_measured_between_timeline_events() -> None:
    facts = postmortem.build(make_lifecycle_snapshot())
    assert facts.detected_at == at(0)
    assert facts.first_alert is not None and facts.first_alert.name == "ModelDrift1"
    assert facts.acknowledged_at == at(7)  # the event, not the cached 10:30
    assert facts.resolved_at == at(65)  # the event, not the cached 11:39
    assert facts.mitigated_at == at(30)
    assert facts.time_to_detect.value == timedelta(minutes=1)
    assert facts.time_to_acknowledge == timedelta(minutes=7)
    assert facts.time_to_mitigate == timedelta(minutes=30)
    assert facts.time_to_resolve == timedelta(minutes=65)
    assert (facts.time_to_detect.cites, facts.tta.cites) == ([1, 2], [1, 7])
    assert (facts.ttm.cites, facts.ttr.cites) == ([1, 13], [1, 15])
    assert facts.acknowledged_by == ["U0456EFGH"]
    assert facts.resolved_by == "U0456EFGH"
    assert facts.summary == "Rolled back to v1"
    assert [e.id for e in facts.timeline] == list(range(1, 16))


def test_detection_is_the_earliest_alert_event_even_when_it_joined_later() -> None:
    snap = open_snapshot()
    snap = replace(
        snap, events=[*snap.events, make_event(4, "alert_fired", -5, data={"alert_id": 9})]
    )
    facts = postmortem.build(snap)
    assert facts.detected_at == at(-5)
    assert facts.detection is not None and facts.detection.id == 4
    assert facts.time_to_detect.value == timedelta(minutes=6)


def test_page_facts_come_from_paged_and_acknowledged_events() -> None:
    pages = postmortem.build(make_lifecycle_snapshot()).pages
    assert [(p.user_id, p.acknowledged, p.outcome) for p in pages] == [
        ("U0123ABCD", False, "timed out; escalated"),
        ("U0456EFGH", True, "acknowledged"),
    ]
    assert pages[1].time_to_acknowledge == timedelta(minutes=1)
    assert pages[1].cites == [6, 7]
    assert pages[0].time_to_acknowledge is None and pages[0].cites == [3]


def test_a_page_without_events_has_no_figure() -> None:
    snap = replace(open_snapshot(), pages=[make_page(1, user_id=None, state="exhausted")])
    (page,) = postmortem.build(snap).pages
    assert page.outcome == "nobody on call"
    assert page.time_to_acknowledge is None and page.cites == []


def test_open_incident_has_no_figures_yet() -> None:
    facts = postmortem.build(open_snapshot())
    assert facts.acknowledged_at is None and facts.time_to_acknowledge is None
    assert facts.resolved_at is None and facts.time_to_resolve is None
    assert facts.time_to_mitigate is None
    assert facts.summary is None
    assert facts.impact.ended_by is None
    assert not facts.is_resolved


def test_a_declared_incident_is_detected_when_declared() -> None:
    facts = postmortem.build(declared_snapshot())
    assert facts.detected_at == at(1)
    assert facts.first_alert is None
    assert facts.time_to_detect.value is None
    text = postmortem.render_markdown(declared_snapshot())
    assert (
        "Declared by hand by @U0123ABCD at `2026-11-29 10:01:00 UTC`; no alert fired [#1]."
        in section(text, "## Detection")
    )
    assert check_citations(text, declared_snapshot()) == []


def test_without_a_detection_event_the_alert_start_is_used_but_not_citable() -> None:
    """Hand-made snapshots only: the figure stands, and the checker says it has no source."""
    snap = replace(open_snapshot(), events=[make_event(5, "acknowledged", 7, actor="U0123ABCD")])
    facts = postmortem.build(snap)
    assert facts.time_to_acknowledge == timedelta(minutes=7)
    problems = check_citations(postmortem.render_markdown(snap), snap)
    assert any("'7m' is not the time between" in p for p in problems)


def test_participants_roles_and_activities() -> None:
    people = {p.user_id: p for p in postmortem.build(make_lifecycle_snapshot()).participants}
    assert list(people) == ["U0123ABCD", "U0456EFGH", "U0777DS"]
    lead = people["U0456EFGH"]
    assert [(r.name, r.how, r.events) for r in lead.roles] == [
        ("ML engineer", "paged", [6]),
        ("incident-commander", "assigned", [8]),
    ]
    assert ("acknowledged", [7]) in [(a.label, a.events) for a in lead.activities]
    assert [(a.label, a.events) for a in people["U0777DS"].activities] == [
        ("1 note", [10]),
        ("1 step done", [11]),
    ]


def test_impact_lists_affected_labels_with_their_events() -> None:
    impact = postmortem.build(make_lifecycle_snapshot()).impact
    assert (impact.alerts, impact.firing, impact.alert_events) == (2, 1, [1, 4])
    assert impact.ended_by == "mitigation" and impact.duration.value == timedelta(minutes=30)
    assert [
        (label.key, [(v.value, v.count, v.events) for v in label.values]) for label in impact.labels
    ] == [("model", [("fraud-v2", 2, [1, 4])]), ("env", [("prod", 2, [1, 4])])]


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_has_every_section_in_order() -> None:
    text = postmortem.render_markdown(make_lifecycle_snapshot())
    positions = [text.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Postmortem: Incident #3 — Model drift\n")
    assert "| Severity | SEV1 |" in text
    assert "| Status | Resolved |" in text
    assert section(text, "## Timeline").count("\n- `") == 15


LIFECYCLE_LINES = [
    (
        "## Summary",
        [
            "Detected at `2026-11-29 10:00:00 UTC` when `ModelDrift1` fired [#1].",
            "Acknowledged by @U0456EFGH 7m after detection [#1, #7].",
            "Mitigated by @U0456EFGH 30m after detection [#1, #13].",
            "Severity changed from `SEV2` to `SEV1` by @U0456EFGH [#9].",
            "Resolved by @U0456EFGH 1h 5m after detection [#1, #15].",
            "Resolution summary by @U0456EFGH [#15]:\n\n> Rolled back to v1\n",
        ],
    ),
    (
        "## Impact",
        [
            "2 alerts fired, 1 still firing [#1, #4].",
            "Impact lasted 30m, from detection to mitigation [#1, #13].",
            "- `model`: `fraud-v2` (2 alerts [#1, #4])",
        ],
    ),
    (
        "## Detection",
        [
            "when the alert `ModelDrift1` fired: “PSI above 0.2 for feature f1” [#1].",
            "Opened by Warroom 1m after detection [#1, #2].",
        ],
    ),
    (
        "## Response figures",
        [
            "| Time to detect | 1m | [#1, #2] |",
            "| Time to acknowledge | 7m | [#1, #7] |",
            "| Time to mitigate | 30m | [#1, #13] |",
            "| Time to resolve | 1h 5m | [#1, #15] |",
            "| Resolved at | `2026-11-29 11:05:00 UTC` | [#15] |",
        ],
    ),
    (
        "## Who was involved",
        [
            "| @U0123ABCD | ML engineer | 1 | `2026-11-29 10:01:00 UTC` | timed out; escalated"
            " | — | [#3] |",
            "| acknowledged by @U0456EFGH | 1m | [#6, #7] |",
            "Acknowledged by @U0456EFGH [#7].",
            "- @U0456EFGH — “ML engineer” (paged) [#6]; “incident-commander” (assigned) [#8]"
            " · acknowledged [#7]",
            "- @U0777DS · 1 note [#10] · 1 step done [#11]",
        ],
    ),
    (
        "## Playbook steps",
        [
            "- [x] 1. “Compare features” (`data-scientist`) — done by @U0777DS at"
            " `2026-11-29 10:21:00 UTC` [#11]",
            "- [ ] 2. “Check PSI” (`ml-engineer`) — not done; check fail: “PSI 0.31” [#12]",
        ],
    ),
    (
        "## Alerts",
        [
            "| `ModelDrift2` | resolved | `2026-11-29 10:03:00 UTC` | `2026-11-29 10:40:00 UTC`"
            " | “PSI above 0.2 for feature f2” | [#4, #14] |"
        ],
    ),
    (
        "## Timeline",
        [
            "- `2026-11-29 10:07:00 UTC` · @U0456EFGH · acknowledged · “U0456EFGH acknowledged"
            " the page for ML engineer” [#7]",
            # The note's own "[#99]" is escaped: it is the note's text, not a citation.
            "· note · “Drift in f1 since the 09:55 deploy; took 5m to confirm \\[#99]” [#10]",
        ],
    ),
    (
        "## Follow-up actions",
        [
            "- [ ] “Alert on schema changes upstream” — owner @U0456EFGH, due 2026-12-06",
            "- [x] “Follow-up 2” — no owner, no due date",
        ],
    ),
]


@pytest.mark.parametrize(("heading", "lines"), LIFECYCLE_LINES)
def test_markdown_section_contents(heading: str, lines: list[str]) -> None:
    body = section(postmortem.render_markdown(make_lifecycle_snapshot()), heading)
    for line in lines:
        assert line in body


def test_generated_documents_pass_their_own_citation_check() -> None:
    for snap in (make_lifecycle_snapshot(), open_snapshot(), declared_snapshot()):
        assert check_citations(postmortem.render_markdown(snap), snap) == []


def test_open_markdown_shows_figures_not_reached() -> None:
    text = postmortem.render_markdown(open_snapshot())
    assert [h in text for h in SECTIONS] == [True] * len(SECTIONS)
    assert "| Status | Open" in text
    assert "_No summary was given._" in section(text, "## Summary")
    assert "Not acknowledged yet." in section(text, "## Summary")
    assert "Still open." in section(text, "## Summary")
    assert "Impact is ongoing" in section(text, "## Impact")
    figures = section(text, "## Response figures")
    assert "| Time to acknowledge | — | |" in figures
    assert "| Time to resolve | — | |" in figures
    assert "Nobody acknowledged the incident." in text
    assert "- [ ] _Add follow-up actions here" in section(text, "## Follow-up actions")


def test_a_multi_line_note_stays_inside_its_timeline_entry() -> None:
    snap = make_lifecycle_snapshot()
    note = make_event(20, "note", 50, actor="U0777DS", text="Drift in f1\nsecond line")
    snap = replace(snap, events=[*snap.events, note])
    text = postmortem.render_markdown(snap)
    assert "· @U0777DS · note · “Drift in f1\n  second line” [#20]" in text
    assert check_citations(text, snap) == []


def test_untrusted_text_cannot_inject_html_markdown_structure_or_citations() -> None:
    snap = make_lifecycle_snapshot()
    evil = "<script>alert(1)</script> | cell\n## Fake heading “5m” `x` [#99] 7m"
    snap = replace(
        snap,
        incident=replace(snap.incident, title=evil),
        alerts=[make_alert(1, 0, name=evil, summary=evil)],
        steps=[make_step(1, title=evil, state="skipped", note=evil, done_by="U0777DS")],
        events=[*snap.events, make_event(30, "note", 70, actor="U0456EFGH", text=evil)],
        followups=[make_followup(1, text=evil)],
    )
    text = postmortem.render_markdown(snap)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\n## Fake heading" not in text  # titles and cells stay on one line
    assert text.splitlines()[0].startswith("# Postmortem: Incident #3 — &lt;script&gt;")
    assert "\\| cell" in section(text, "## Alerts")  # pipes cannot open a new table cell
    assert "&#8220;5m&#8221;" in text  # its curly quotes cannot close ours
    assert "\\[#99]" in text and "\\`x\\`" in text
    assert check_citations(text, snap) == []  # its "7m" and "[#99]" are quoted, not claims


def test_template_override(tmp_path: Path) -> None:
    custom = tmp_path / "brief.md.j2"
    custom.write_text(
        "#{{ incident.number }} {{ incident.title | inline }}: "
        "TTA {{ pm.time_to_acknowledge | dur }}{{ pm.tta.cites | cite }}, "
        "TTR {{ pm.time_to_resolve | dur }}{{ pm.ttr.cites | cite }}\n",
        encoding="utf-8",
    )
    snap = make_lifecycle_snapshot()
    text = postmortem.render_markdown(snap, template_path=custom)
    assert text == "#3 Model drift: TTA 7m [#1, #7], TTR 1h 5m [#1, #15]\n"
    assert check_citations(text, snap) == []


def test_a_template_typo_fails_loudly(tmp_path: Path) -> None:
    custom = tmp_path / "typo.md.j2"
    custom.write_text("{{ pm.time_to_acknowlege }}", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError):
        postmortem.render_markdown(open_snapshot(), template_path=custom)


def test_a_narrative_is_shown_as_a_draft_with_its_problems() -> None:
    snap = make_lifecycle_snapshot()
    story = Narrative(
        text="## Not a heading\nThe page was acknowledged 7m after detection [#1, #7].",
        problems=["line 1: cites #99, which is not an event of incident #3"],
    )
    text = postmortem.render_markdown(snap, narrative=story)
    body = section(text, "## Narrative (draft)")
    assert "1 problem found" in body
    assert "\\## Not a heading" in body
    assert "acknowledged 7m after detection [#1, #7]." in body
    assert "- “line 1: cites #99, which is not an event of incident #3”" in body
    assert check_citations(text, snap) == []
    assert "## Narrative" not in postmortem.render_markdown(snap)
