"""The citation checker passes every generated postmortem and catches tampered ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import service
from bot.citations import Sentence, check_citations, claims, figures, supported
from bot.mrkdwn import duration
from bot.postmortem import build, render_markdown
from bot.snapshot import EventView, IncidentSnapshot
from tests.harness import Harness
from tests.snapshots import (
    T0,
    at,
    make_alert,
    make_event,
    make_followup,
    make_incident,
    make_lifecycle_snapshot,
    make_page,
    make_step,
)

# --- Hand-made snapshots ---------------------------------------------------------------------


def declared() -> IncidentSnapshot:
    return IncidentSnapshot(
        incident=make_incident(declared_by="U0123ABCD"),
        alerts=[],
        pages=[],
        steps=[],
        events=[make_event(1, "declared", 1, actor="U0123ABCD", text="Declared")],
    )


def variants() -> dict[str, IncidentSnapshot]:
    """Many shapes of incident; each must give a document that passes its own check."""
    full = make_lifecycle_snapshot()
    events = full.events
    return {
        "lifecycle": full,
        "declared only": declared(),
        "declared, acked and resolved by hand": replace(
            declared(),
            events=[
                *declared().events,
                make_event(2, "acknowledged", 4, actor="U0456EFGH"),
                make_event(3, "resolved", 200, actor="U0123ABCD", text="Fixed"),
            ],
        ),
        "open, nothing acknowledged": replace(
            full, events=events[:6], incident=replace(full.incident, status="open")
        ),
        "resolved by Warroom": replace(
            full, events=[*events[:-1], make_event(15, "resolved", 65, text="All clear")]
        ),
        "acknowledged before the alert started (bad clocks)": replace(
            full, events=[*events, make_event(16, "acknowledged", -3, actor="U0999ZZZZ")]
        ),
        "everything at the same second": replace(full, events=[replace(e, at=T0) for e in events]),
        "days long": replace(
            full,
            events=[*events[:-1], replace(events[-1], at=at(3 * 24 * 60 + 75))],
        ),
        "second acknowledgement by someone else": replace(
            full, events=[*events, make_event(16, "acknowledged", 8, actor="U0999ZZZZ")]
        ),
        "ids not in time order": replace(full, events=[replace(e, id=100 - e.id) for e in events]),
        "follow-ups recorded on the timeline": replace(
            full,
            events=[
                *events,
                make_event(16, "followup_added", 70, actor="U0456EFGH", data={"followup_id": 1}),
            ],
            followups=[make_followup(1)],
        ),
        "no pages, no steps, no follow-ups": replace(full, pages=[], steps=[], followups=[]),
        "hostile text everywhere": replace(
            full,
            events=[
                *events,
                make_event(
                    16,
                    "note",
                    70,
                    actor="U0777DS",
                    text="@U0123ABCD acknowledged 9m after [#1, #2]. “quote` 1h 5m",
                ),
            ],
            alerts=[make_alert(1, 0, name="Lag 5m [#7]", summary="p99 above 2s for 5m")],
            steps=[
                make_step(
                    1,
                    title="Wait 5m, then resolved by @U0123ABCD",
                    state="done",
                    done_by="U0777DS",
                    done_at=at(21),
                    id=101,
                )
            ],
        ),
    }


@pytest.mark.parametrize("name", list(variants()))
def test_generated_documents_pass(name: str) -> None:
    snap = variants()[name]
    document = render_markdown(snap)
    assert check_citations(document, snap) == []


# --- Tampering -------------------------------------------------------------------------------


def tamper(document: str, old: str, new: str) -> str:
    assert old in document, old
    return document.replace(old, new, 1)


TAMPERINGS = [
    # (what, old text, new text, a phrase the problem must contain)
    ("wrong id", "detection [#1, #7].", "detection [#1, #70].", "cites #70, which is not"),
    ("wrong figure", "@U0456EFGH 7m after", "@U0456EFGH 8m after", "'8m' is not the time"),
    ("wrong two-unit figure", "| 1h 5m |", "| 1h 4m |", "'1h 4m' is not the time"),
    ("wrong person", "Acknowledged by @U0456EFGH 7m", "Acknowledged by @U0123ABCD 7m",
     "says @U0123ABCD acknowledged"),
    ("wrong resolver", "Resolved by @U0456EFGH 1h 5m", "Resolved by @U0123ABCD 1h 5m",
     "says @U0123ABCD resolved"),
    ("wrong citation for a figure", "| 30m | [#1, #13] |", "| 30m | [#1, #7] |",
     "'30m' is not the time"),
    ("page acknowledged by someone else", "acknowledged by @U0456EFGH | 1m",
     "acknowledged by @U0777DS | 1m", "says @U0777DS acknowledged"),
    ("timeline actor swapped", "· @U0456EFGH · resolved ·", "· @U0123ABCD · resolved ·",
     "says @U0123ABCD resolved"),
    ("citation removed from a figure", "| 7m | [#1, #7] |", "| 7m | |", "'7m' cites no events"),
    ("person claim without citation", "Resolved by @U0456EFGH [#15].", "Resolved by @U0777DS.",
     "says @U0777DS resolved"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "expected"), [t[1:] for t in TAMPERINGS], ids=[t[0] for t in TAMPERINGS]
)
def test_tampered_documents_fail(old: str, new: str, expected: str) -> None:
    snap = make_lifecycle_snapshot()
    problems = check_citations(tamper(render_markdown(snap), old, new), snap)
    assert any(expected in p for p in problems), problems


def test_problems_name_the_line() -> None:
    snap = make_lifecycle_snapshot()
    document = tamper(render_markdown(snap), "[#1, #15].", "[#1, #99].")
    line = next(n for n, text in enumerate(document.splitlines(), 1) if "[#1, #99]" in text)
    assert f"line {line}: cites #99, which is not an event of incident #3" in check_citations(
        document, snap
    )


def test_line_numbers_survive_multi_line_quotes() -> None:
    """A problem names the line its entry starts on, and lines after a quoted multi-line
    note keep their numbers."""
    snap = make_lifecycle_snapshot()
    note = make_event(16, "note", 70, actor="U0777DS", text="one\ntwo\nthree")
    snap = replace(snap, events=[*snap.events, note])
    document = tamper(render_markdown(snap), "three” [#16]", "three” [#16, #404]")
    document = tamper(document, "owner @U0456EFGH, due 2026-12-06", "[#505]")
    lines = document.splitlines()
    note_line = next(n for n, text in enumerate(lines, 1) if "“one" in text)
    later = next(n for n, text in enumerate(lines, 1) if "#505" in text)
    problems = check_citations(document, snap)
    assert any(p.startswith(f"line {note_line}: cites #404") for p in problems), problems
    assert any(p.startswith(f"line {later}: cites #505") for p in problems), problems


def test_a_document_for_another_incident_fails() -> None:
    snap = make_lifecycle_snapshot()
    other = replace(snap, events=[replace(e, id=e.id + 500) for e in snap.events])
    assert check_citations(render_markdown(other), make_lifecycle_snapshot())


# --- The pieces ------------------------------------------------------------------------------


def test_figures_in_prose_and_in_table_cells() -> None:
    prose = Sentence(1, "Resolved 1h 5m after detection, 7m after @U5m acked [#1, #2].", False)
    assert figures(prose) == ["1h 5m", "7m"]
    row = Sentence(1, "| Time to resolve | 1h 5m | [#1, #2] |", True)
    assert figures(row) == ["1h 5m"]
    assert figures(Sentence(1, "| ModelDrift 5m window | firing |", True)) == []
    assert figures(Sentence(1, "At 10:05:00 on 2026-11-29, sev2, 500ms, v1.5m", False)) == []


def test_claims_find_the_person_and_skip_negations() -> None:
    assert claims("Acknowledged by @U1 7m after detection") == [("U1", "acknowledged")]
    assert claims("@U2 · resolved ·") == [("U2", "resolved")]
    assert claims("Resolved by Warroom") == [(None, "resolved")]
    assert claims("| @U1 | ML engineer | acknowledged by @U3 |") == [("U3", "acknowledged")]
    assert claims("@U1 was not acknowledged in time") == []
    assert claims("Nobody acknowledged the incident.") == []
    assert claims("| Acknowledged at | 10:07 |") == []


def test_supported_spans_follow_citation_order() -> None:
    t = [T0, T0 + timedelta(minutes=7)]
    assert supported("7m", t) and not supported("7m", t[::-1])  # cited as start, then end
    assert supported("0s", t[::-1])  # an end stamped before its start: clamped, as printed
    assert not supported("0s", t)
    assert not supported("7m", t[:1])


# --- Random timelines ------------------------------------------------------------------------

USERS = ["U0123ABCD", "U0456EFGH", "U0777DS", None]
TRICKY = [
    "",
    "took 5m",
    "1h 5m later",
    "[#999]",
    "@U0123ABCD acknowledged",
    "resolved by @U0456EFGH",
    "“quoted” text",
    "a `tick",
    "line one\nline two",
    "<!channel> & <b>",
    "| pipe |",
    "## heading",
    "back\\slash",
]
LATER_KINDS = [
    "acknowledged",
    "mitigated",
    "resolved",
    "note",
    "status",
    "severity_changed",
    "role_assigned",
    "escalated",
    "check_result",
    "pinned",
]
seconds = st.integers(min_value=-2 * 3600, max_value=4 * 86_400)
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40))


@st.composite
def timelines(draw: st.DrawFn) -> IncidentSnapshot:
    """A plausible incident: alert events for its alerts, page events for its pages, then
    any mix of later events, with times in any order and ids shuffled."""
    events: list[tuple[str, int, str | None, str, dict[str, object]]] = []
    n_alerts = draw(st.integers(0, 4))
    alerts = []
    for n in range(1, n_alerts + 1):
        start = draw(seconds)
        alerts.append(
            make_alert(
                n,
                start / 60,
                summary=draw(texts),
                name=draw(st.sampled_from(["ModelDrift", "Lag 5m", "x`y", "Queue[#3]"])),
            )
        )
        kind = "detected" if n == 1 else "alert_fired"
        events.append((kind, start, None, draw(texts), {"alert_id": n}))
    opener = draw(st.sampled_from(USERS)) if not alerts else None
    events.append(("declared" if opener else "opened", draw(seconds), opener, "", {}))
    pages = []
    for n in range(draw(st.integers(0, 3))):
        user, sent = draw(st.sampled_from(USERS[:3])), draw(seconds)
        page_id = 70 + n
        events.append(
            (
                "paged",
                sent,
                None,
                f"Paged {user}",
                {"page_id": page_id, "user_id": user, "role": "ml-engineer"},
            )
        )
        acked_by = draw(st.sampled_from(USERS))
        if acked_by:
            acked = draw(seconds)
            events.append(("acknowledged", acked, acked_by, "", {"page_ids": [page_id]}))
        pages.append(
            make_page(
                n,
                id=page_id,
                user_id=user,
                sent_at=T0 + timedelta(seconds=sent),
                state="acknowledged" if acked_by else "escalated",
                acknowledged_at=T0 + timedelta(seconds=acked) if acked_by else None,
                acknowledged_by=acked_by,
            )
        )
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(LATER_KINDS))
        data: dict[str, object] = {}
        if kind == "role_assigned":
            data = {
                "role": draw(st.sampled_from(["incident-commander", "scribe 5m"])),
                "user": draw(st.sampled_from(USERS[:3])),
            }
        elif kind == "severity_changed":
            data = {"from": "sev3", "to": draw(st.sampled_from(["sev1", "1h", "x [#4]"]))}
        events.append((kind, draw(seconds), draw(st.sampled_from(USERS)), draw(texts), data))
    ids = draw(st.permutations(range(1, len(events) + 1)))
    return IncidentSnapshot(
        incident=make_incident(title=draw(texts) or "t"),
        alerts=alerts,
        pages=pages,
        steps=[],
        events=[
            EventView(id=i, at=T0 + timedelta(seconds=s), kind=k, actor=a, text=t, data=d)
            for i, (k, s, a, t, d) in zip(ids, events, strict=True)
        ],
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_random_timelines_pass_and_their_figures_are_right(snap: IncidentSnapshot) -> None:
    document = render_markdown(snap)
    assert check_citations(document, snap) == []
    facts = build(snap)
    acks = sorted((e for e in snap.events if e.kind == "acknowledged"), key=lambda e: (e.at, e.id))
    if acks and facts.detected_at:
        expected = duration(acks[0].at - facts.detected_at)
        assert f"| Time to acknowledge | {expected} |" in document


@settings(max_examples=100, deadline=None)
@given(timelines(), st.integers(min_value=1, max_value=9))
def test_random_timelines_with_a_shifted_figure_fail(snap: IncidentSnapshot, shift: int) -> None:
    facts = build(snap)
    if facts.time_to_acknowledge is None:
        return
    true = duration(facts.time_to_acknowledge)
    false = duration(facts.time_to_acknowledge + timedelta(days=shift))
    document = tamper(
        render_markdown(snap),
        f"| Time to acknowledge | {true} |",
        f"| Time to acknowledge | {false} |",
    )
    assert any("is not the time between" in p for p in check_citations(document, snap))


# --- End to end ------------------------------------------------------------------------------


async def test_a_real_incident_postmortem_passes(bot: Harness, samples: Path) -> None:
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    started = (bot.clock() - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    for alert in payload["alerts"]:
        alert["startsAt"] = started
    assert (await bot.post_alerts(payload)).status_code == 200
    channel = await bot.first_channel()  # not settle: the ack comes 2m after detection
    await bot.slash("ack", user="UDS2", channel=channel)
    await bot.slash("note took 5m to spot [#1]", "UDS2", channel)
    await bot.slash("resolve rolled back the feature pipeline", "UDS2", channel)
    await bot.settle()

    snap = await service.get_snapshot(bot.rt, service.IncidentRef(number=1))
    document = render_markdown(snap)
    assert check_citations(document, snap) == []
    assert "| Time to acknowledge | 2m |" in document
    assert "Acknowledged by @UDS2 2m after detection [#" in document
