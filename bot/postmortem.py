"""The postmortem: figures computed from the timeline, rendered to Markdown with Jinja2.

DESIGN rule 2 makes the timeline the source of truth for MTTA/MTTR, so every figure here
is the span between two timeline events, never a cached column that could disagree with
what actually happened. Each fact keeps the events it comes from, so the document can cite
them (``[#14]``) and ``bot.citations`` can check every figure against the log. The template
stays free of logic: it only lays out the ``Postmortem`` facts, so teams can swap in their
own layout safely.

Untrusted text is quoted in a way the citation checker can recognise: prose in curly quotes
(“…”), identifiers in code spans, long text in blockquotes. ``md`` encodes curly quotes,
backticks and brackets found in untrusted text, so a note saying “took 5m” or “[#99]” can
never pass for a generated figure or citation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2

from bot.clock import as_utc
from bot.mrkdwn import duration
from bot.snapshot import (
    AlertView,
    EventView,
    FollowupView,
    IncidentSnapshot,
    IncidentView,
    PageView,
    StepView,
)

if TYPE_CHECKING:
    from bot.narrative import Narrative

K = TypeVar("K")

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "postmortem.md.j2"
NOT_REACHED = "—"
CITE_LIMIT = 3  # ids cited inline for a list of events; the rest are counted

DETECTION_KINDS = frozenset({"detected", "alert_fired"})  # back-dated to the alert's start
OPENING_KINDS = frozenset({"opened", "declared"})
ALERT_KINDS = DETECTION_KINDS | {"alert_resolved"}
PAGE_KINDS = frozenset({"paged", "unroutable"})
STEP_KINDS = frozenset({"step_done", "step_skipped"})
# Labels that name the alert rather than what it hit; the alerts table shows them anyway.
IDENTITY_LABELS = frozenset({"alertname", "severity", "alertstate"})
PRIORITY_LABELS = ("model", "service", "endpoint", "deployment", "env", "namespace", "cluster")
LABEL_KEYS, LABEL_VALUES = 8, 5

_PAGE_OUTCOMES = {
    "pending": "waiting",
    "escalated": "timed out; escalated",
    "exhausted": "timed out; nobody left to page",
    "cancelled": "cancelled",
}
_ACTIVITY = {  # kind → (singular, plural) of what a person did
    "declared": ("declared the incident", "declared the incident"),
    "acknowledged": ("acknowledged", "acknowledged"),
    "mitigated": ("mitigated", "mitigated"),
    "resolved": ("resolved", "resolved"),
    "note": ("note", "notes"),
    "status": ("status update", "status updates"),
    "step_done": ("step done", "steps done"),
    "step_skipped": ("step skipped", "steps skipped"),
    "severity_changed": ("severity change", "severity changes"),
    "role_assigned": ("role assignment", "role assignments"),
}
_COUNTED = frozenset({"note", "status", "step_done", "step_skipped", "severity_changed"})


# --- Facts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A span from detection (or another event) to an event: the value and its sources.

    ``start_at`` is the start event's time; it is set without a ``start`` event only when a
    hand-made snapshot has alerts but no detection event, and then the citation checker
    rightly reports the figure as unsupported.
    """

    start_at: datetime | None
    start: EventView | None
    end: EventView | None

    @property
    def value(self) -> timedelta | None:
        """Clamped at zero: an alert stamped late must not give a negative MTTA."""
        if self.start_at is None or self.end is None:
            return None
        return max(timedelta(0), as_utc(self.end.at) - self.start_at)

    @property
    def cites(self) -> list[int]:
        """Start first, then end: the order the checker measures in."""
        if self.end is None:
            return []
        return [e.id for e in (self.start, self.end) if e is not None]


@dataclass(frozen=True, slots=True)
class Milestones:
    """The lifecycle moments every figure is measured between, read from the timeline."""

    detection: EventView | None  # first alert start, else the opening
    detected_at: datetime | None
    opening: EventView | None
    acknowledgements: list[EventView]
    mitigation: EventView | None
    resolution: EventView | None  # the last one: the resolution that stuck

    def since_detection(self, end: EventView | None) -> Figure:
        return Figure(self.detected_at, self.detection, end)

    @property
    def first_ack(self) -> EventView | None:
        return self.acknowledgements[0] if self.acknowledgements else None


@dataclass(frozen=True, slots=True)
class PageFact:
    """One page as the postmortem reports it: who, for which role, and how it ended."""

    user_id: str | None  # None: nobody was on call for the role
    role: str
    role_name: str
    attempt: int
    state: str
    sent_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    paged: EventView | None
    ack: EventView | None
    figure: Figure  # paged event → acknowledgement event

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.figure.value

    @property
    def acknowledged(self) -> bool:
        """Only an acknowledgement on the timeline counts; the page's own state may lag."""
        return self.ack is not None

    @property
    def outcome(self) -> str:
        """How the page ended, in words a reviewer understands without the state machine."""
        if self.acknowledged:
            return "acknowledged"
        if self.user_id is None:
            return "nobody on call"
        if self.state == "acknowledged":
            return "no acknowledgement on the timeline"
        return _PAGE_OUTCOMES.get(self.state, self.state)

    @property
    def cites(self) -> list[int]:
        return [e.id for e in (self.paged, self.ack) if e is not None]


@dataclass(frozen=True, slots=True)
class Activity:
    """Something a person did or was, with the events that show it."""

    label: str
    events: list[int]


@dataclass(frozen=True, slots=True)
class RoleFact:
    """A role someone held: ``name`` is untrusted (config or command input), ``how`` is ours."""

    name: str
    how: str  # paged | assigned
    events: list[int]


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: str
    roles: list[RoleFact]
    activities: list[Activity]


@dataclass(frozen=True, slots=True)
class StepFact:
    step: StepView
    event: EventView | None  # step_done / step_skipped
    check: EventView | None  # the last check_result

    @property
    def done_by(self) -> str | None:
        return self.event.actor if self.event else self.step.done_by

    @property
    def done_at(self) -> datetime | None:
        return as_utc(self.event.at) if self.event else self.step.done_at

    @property
    def check_outcome(self) -> str | None:
        """The outcome the check_result event recorded, else the step's own column."""
        recorded = self.check.data.get("outcome") if self.check else None
        return _str(recorded) or self.step.check_outcome

    @property
    def cites(self) -> list[int]:
        return [e.id for e in (self.event, self.check) if e is not None]


@dataclass(frozen=True, slots=True)
class AlertFact:
    alert: AlertView
    fired: EventView | None
    resolved: EventView | None

    @property
    def cites(self) -> list[int]:
        return [e.id for e in (self.fired, self.resolved) if e is not None]


@dataclass(frozen=True, slots=True)
class LabelValue:
    value: str
    count: int
    events: list[int]


@dataclass(frozen=True, slots=True)
class LabelImpact:
    key: str
    values: list[LabelValue]
    more: int  # further values not listed


@dataclass(frozen=True, slots=True)
class Impact:
    alerts: int
    firing: int
    alert_events: list[int]
    duration: Figure  # detection → mitigation, else resolution
    ended_by: str | None  # "mitigation" | "resolution" | None while ongoing
    labels: list[LabelImpact]


@dataclass(frozen=True, slots=True)
class SeverityChange:
    event: EventView
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class FollowupFact:
    followup: FollowupView
    event: EventView | None  # the event that recorded it, when there is one

    @property
    def cites(self) -> list[int]:
        return [self.event.id] if self.event else []


@dataclass(frozen=True, slots=True)
class Postmortem:
    """Computed facts about one incident; the template only formats these."""

    incident: IncidentView
    milestones: Milestones
    first_alert: AlertView | None
    declared_by: str | None  # who declared it by hand, when no alert opened it
    time_to_detect: Figure  # first alert start → opened/declared
    tta: Figure
    ttm: Figure
    ttr: Figure
    acknowledged_by: list[str]
    summary: str | None
    impact: Impact
    severity_changes: list[SeverityChange]
    pages: list[PageFact]
    participants: list[Participant]
    alerts: list[AlertFact]
    steps: list[StepFact]
    timeline: list[EventView]
    followups: list[FollowupFact]

    @property
    def detected_at(self) -> datetime | None:
        return self.milestones.detected_at

    @property
    def detected_by_alert(self) -> bool:
        """True when an alert event marks detection (not a person declaring it)."""
        detection = self.milestones.detection
        return detection is not None and detection.kind in DETECTION_KINDS

    @property
    def first_acks(self) -> list[EventView]:
        """Each acknowledger's first acknowledgement, in order."""
        seen: dict[str | None, EventView] = {}
        for event in self.milestones.acknowledgements:
            seen.setdefault(event.actor, event)
        return list(seen.values())

    @property
    def detection(self) -> EventView | None:
        return self.milestones.detection

    @property
    def opening(self) -> EventView | None:
        return self.milestones.opening

    @property
    def mitigation(self) -> EventView | None:
        return self.milestones.mitigation

    @property
    def resolution(self) -> EventView | None:
        return self.milestones.resolution

    @property
    def acknowledged_at(self) -> datetime | None:
        ack = self.milestones.first_ack
        return as_utc(ack.at) if ack else None

    @property
    def mitigated_at(self) -> datetime | None:
        return as_utc(self.mitigation.at) if self.mitigation else None

    @property
    def resolved_at(self) -> datetime | None:
        return as_utc(self.resolution.at) if self.resolution else None

    @property
    def resolved_by(self) -> str | None:
        return self.resolution.actor if self.resolution else None

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.tta.value

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self.ttm.value

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.ttr.value

    @property
    def is_resolved(self) -> bool:
        return self.resolution is not None


# --- Building the facts ---------------------------------------------------------------------


def sorted_timeline(events: Iterable[EventView]) -> list[EventView]:
    """Time order, id breaking ties: the order things happened in, not were recorded in."""
    return sorted(events, key=lambda e: (as_utc(e.at), e.id))


def milestones(snap: IncidentSnapshot, timeline: Sequence[EventView] | None = None) -> Milestones:
    """Detection, opening, acknowledgements, mitigation and resolution from the timeline.

    Detection is the earliest alert start on the timeline (``detected`` and joining
    ``alert_fired`` events are back-dated to it); an incident declared by hand is detected
    when it was declared. Shared with ``bot.stats`` so both report the same figures.
    """
    timeline = timeline if timeline is not None else sorted_timeline(snap.events)
    detection = opening = mitigation = resolution = None
    acks: list[EventView] = []
    for event in timeline:
        kind = event.kind
        if kind in DETECTION_KINDS:
            detection = detection or event
        elif kind in OPENING_KINDS:
            opening = opening or event
        elif kind == "acknowledged":
            acks.append(event)
        elif kind == "mitigated":
            mitigation = mitigation or event
        elif kind == "resolved":
            resolution = event
    if detection is not None:
        detected_at: datetime | None = as_utc(detection.at)
    elif snap.alerts:  # hand-made snapshots only: the checker flags the uncited start
        detected_at = min(as_utc(a.starts_at) for a in snap.alerts)
    else:
        detection = opening
        detected_at = as_utc(opening.at) if opening else None
    return Milestones(detection, detected_at, opening, acks, mitigation, resolution)


def build(snap: IncidentSnapshot) -> Postmortem:
    """Compute the postmortem facts from the snapshot's timeline, pages and alerts."""
    timeline = sorted_timeline(snap.events)
    marks = milestones(snap, timeline)
    alerts = sorted(snap.alerts, key=lambda a: (as_utc(a.starts_at), a.id))
    alert_facts = _alert_facts(alerts, timeline)
    opening = marks.opening
    impact_end = marks.mitigation or marks.resolution
    return Postmortem(
        incident=snap.incident,
        milestones=marks,
        first_alert=_first_alert(marks.detection, alerts),
        declared_by=opening.actor if opening and opening.kind == "declared" else None,
        time_to_detect=(
            Figure(None, None, None)  # declared by hand: detected when declared
            if opening is not None and marks.detection is opening
            else marks.since_detection(opening)
        ),
        tta=marks.since_detection(marks.first_ack),
        ttm=marks.since_detection(marks.mitigation),
        ttr=marks.since_detection(marks.resolution),
        acknowledged_by=_unique(e.actor for e in marks.acknowledgements if e.actor),
        summary=_summary(snap, marks.resolution),
        impact=Impact(
            alerts=len(alerts),
            firing=sum(1 for a in alerts if a.status == "firing"),
            alert_events=[f.fired.id for f in alert_facts if f.fired],
            duration=marks.since_detection(impact_end),
            ended_by=_ended_by(marks),
            labels=_label_impact(alert_facts),
        ),
        severity_changes=[
            SeverityChange(e, _str(e.data.get("from")), _str(e.data.get("to")))
            for e in timeline
            if e.kind == "severity_changed"
        ],
        pages=_page_facts(snap.pages, timeline),
        participants=_participants(snap.pages, timeline),
        alerts=alert_facts,
        steps=_step_facts(snap.steps, timeline),
        timeline=timeline,
        followups=_followup_facts(snap.followups, timeline),
    )


def _ended_by(marks: Milestones) -> str | None:
    if marks.mitigation:
        return "mitigation"
    return "resolution" if marks.resolution else None


def _first_alert(detection: EventView | None, alerts: list[AlertView]) -> AlertView | None:
    """The alert the detection event names, else the earliest one."""
    alert_id = _int(detection.data.get("alert_id")) if detection else None
    named = next((a for a in alerts if a.id == alert_id), None) if alert_id is not None else None
    return named or (alerts[0] if alerts else None)


def _unique(values: Iterable[str]) -> list[str]:
    """First-seen order: the first person to acknowledge is listed first."""
    return list(dict.fromkeys(values))


def _int(value: Any) -> int | None:
    """Event data is JSON: ids may come back as ints or strings."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _summary(snap: IncidentSnapshot, resolution: EventView | None) -> str | None:
    """The resolution summary as recorded on the timeline, else the incident's own."""
    text = resolution.text.strip() if resolution else ""
    if text in ("", "Resolved"):  # the default text says nothing
        text = (snap.incident.summary or "").strip() or text
    return text or None


def _by_data(
    timeline: Iterable[EventView], kinds: frozenset[str], key: str
) -> dict[int, list[EventView]]:
    """Events of ``kinds`` grouped by the id stored under ``data[key]``, in time order."""
    found: dict[int, list[EventView]] = {}
    for event in timeline:
        if event.kind in kinds:
            ref = _int(event.data.get(key))
            if ref is not None:
                found.setdefault(ref, []).append(event)
    return found


def _alert_facts(alerts: list[AlertView], timeline: list[EventView]) -> list[AlertFact]:
    events = _by_data(timeline, ALERT_KINDS, "alert_id")
    facts = []
    for alert in alerts:
        own = events.get(alert.id, [])
        fired = next((e for e in own if e.kind in DETECTION_KINDS), None)
        resolved = next((e for e in reversed(own) if e.kind == "alert_resolved"), None)
        facts.append(AlertFact(alert, fired, resolved))
    return facts


def _label_impact(facts: list[AlertFact]) -> list[LabelImpact]:
    """What the alerts hit (model, service, …): the most common values of each label."""
    counts: Counter[tuple[str, str]] = Counter()
    cites: dict[tuple[str, str], list[int]] = {}
    for fact in facts:
        fired = fact.fired.id if fact.fired else None
        for pair in fact.alert.labels.items():
            counts[pair] += 1
            if fired is not None:
                ids = cites.get(pair)
                if ids is None:
                    cites[pair] = [fired]
                elif len(ids) < CITE_LIMIT:
                    ids.append(fired)
    by_key: dict[str, Counter[str]] = {}
    for (key, value), count in counts.items():
        if key not in IDENTITY_LABELS and not key.startswith("__"):
            by_key.setdefault(key, Counter())[value] = count
    rank = {key: n for n, key in enumerate(PRIORITY_LABELS)}
    keys = sorted(by_key, key=lambda k: (rank.get(k, len(rank)), k))[:LABEL_KEYS]
    impact = []
    for key in keys:
        common = by_key[key].most_common(LABEL_VALUES)
        values = [LabelValue(v, n, cites.get((key, v), [])) for v, n in common]
        impact.append(LabelImpact(key, values, len(by_key[key]) - len(values)))
    return impact


def _page_facts(pages: list[PageView], timeline: list[EventView]) -> list[PageFact]:
    sent = _by_data(timeline, PAGE_KINDS, "page_id")
    acks: dict[int, EventView] = {}
    for event in timeline:
        if event.kind == "acknowledged":
            for ref in event.data.get("page_ids") or []:
                page_id = _int(ref)
                if page_id is not None:
                    acks.setdefault(page_id, event)
    ordered = sorted(pages, key=lambda p: (as_utc(p.sent_at), p.id))
    return [_page_fact(p, sent.get(p.id, [None])[0], acks.get(p.id), timeline) for p in ordered]


def _page_fact(
    page: PageView, paged: EventView | None, ack: EventView | None, timeline: list[EventView]
) -> PageFact:
    if ack is None and page.acknowledged_by:  # events recorded before page_ids existed
        ack = next(
            (e for e in timeline if e.kind == "acknowledged" and e.actor == page.acknowledged_by),
            None,
        )
    return PageFact(
        user_id=page.user_id,
        role=page.role,
        role_name=page.role_name,
        attempt=page.attempt,
        state=page.state,
        sent_at=as_utc(paged.at if paged else page.sent_at),
        acknowledged_at=as_utc(ack.at) if ack else None,
        acknowledged_by=ack.actor if ack else None,
        paged=paged,
        ack=ack,
        figure=Figure(as_utc(paged.at), paged, ack) if paged else Figure(None, None, None),
    )


def _participants(pages: list[PageView], timeline: list[EventView]) -> list[Participant]:
    """Everyone who was paged, given a role or did something, in order of first appearance."""
    role_names = {p.role: p.role_name for p in pages}
    roles: dict[str, dict[tuple[str, str], list[int]]] = {}
    done: dict[str, dict[str, list[int]]] = {}
    for event in timeline:
        data = event.data
        if event.kind == "paged" and data.get("user_id"):
            role = str(data.get("role") or "on call")
            _add(roles, str(data["user_id"]), (role_names.get(role, role), "paged"), event.id)
        elif event.kind == "role_assigned" and data.get("user"):
            role = str(data.get("role") or "a role")
            _add(roles, str(data["user"]), (role_names.get(role, role), "assigned"), event.id)
        if event.actor:
            _add(done, event.actor, event.kind, event.id)
    for page in pages:  # pages whose event is missing still show who was paged
        if page.user_id and page.user_id not in roles:
            _add(roles, page.user_id, (page.role_name, "paged"), None)
    people = _unique([*roles, *done])
    return [
        Participant(
            user_id=user,
            roles=[RoleFact(name, how, ids) for (name, how), ids in roles.get(user, {}).items()],
            activities=[_activity(kind, ids) for kind, ids in done.get(user, {}).items()],
        )
        for user in people
    ]


def _add(table: dict[str, dict[K, list[int]]], user: str, key: K, event: int | None) -> None:
    ids = table.setdefault(user, {}).setdefault(key, [])
    if event is not None:
        ids.append(event)


def _activity(kind: str, ids: list[int]) -> Activity:
    one, many = _ACTIVITY.get(kind, (f"{kind} event", f"{kind} events"))
    if kind in _COUNTED or kind not in _ACTIVITY:
        return Activity(f"{len(ids)} {one if len(ids) == 1 else many}", ids)
    return Activity(one, ids)


def _step_facts(steps: list[StepView], timeline: list[EventView]) -> list[StepFact]:
    marked = _by_data(timeline, STEP_KINDS, "step_id")
    checked = _by_data(timeline, frozenset({"check_result"}), "step_id")
    return [
        StepFact(s, _last(marked.get(s.id)), _last(checked.get(s.id)))
        for s in sorted(steps, key=lambda s: s.position)
    ]


def _last(events: list[EventView] | None) -> EventView | None:
    return events[-1] if events else None


def _followup_facts(followups: list[FollowupView], timeline: list[EventView]) -> list[FollowupFact]:
    """Follow-ups cite the first event whose data names them (``followup_id``), if any."""
    recorded: dict[int, EventView] = {}
    for event in timeline:
        ref = _int(event.data.get("followup_id"))
        if ref is not None:
            recorded.setdefault(ref, event)
    return [FollowupFact(f, recorded.get(f.id)) for f in followups]


# --- Markdown rendering -------------------------------------------------------------------

_MD = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\\": "\\\\",
        "`": "\\`",
        "[": "\\[",
        "“": "&#8220;",
        "”": "&#8221;",
    }
)
_SPACE = re.compile(r"\s+")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")  # what bot.citations reads
_IDENTIFIER = re.compile(r"[\w.:/=@+%#,~ -]+")
_LINE_START = re.compile(r"^(\s*)([#>])", re.MULTILINE)


def md(text: object) -> str:
    """Neutralise HTML and the delimiters the citation checker relies on, invisibly.

    Markdown shows ``\\[``, ``\\``` and ``&#8220;`` exactly as the user typed them, so the
    rendered text is unchanged while the source can no longer open a code span, a quote or
    a citation of its own.
    """
    return str(text).translate(_MD)


def inline(text: object) -> str:
    """Untrusted text on one line (titles, list items): no smuggled headings or rows."""
    return _SPACE.sub(" ", md(text)).strip()


def cell(text: object) -> str:
    """Untrusted text inside a Markdown table cell."""
    return inline(text).replace("|", "\\|")


def quote(text: object) -> str:
    """Untrusted prose on one line, in curly quotes: the checker reads nothing inside."""
    return f"“{cell(text)}”"


def quote_block(text: object, indent: int = 2) -> str:
    """Untrusted prose that may span lines, kept inside a list item by indenting it."""
    body = md(str(text).strip()).replace("\n", "\n" + " " * indent)
    return f"“{body}”"


def blockquote(text: object) -> str:
    """Long untrusted text as a Markdown blockquote, one ``>`` per line."""
    return "\n".join(f"> {line}".rstrip() for line in md(str(text).strip()).splitlines())


def code(text: object) -> str:
    """An identifier (alert name, label, playbook id) as a code span.

    Code spans show their content literally, so anything that is not a plain identifier
    (angle brackets, backticks, pipes) is quoted as prose instead, where ``md`` applies.
    """
    value = _SPACE.sub(" ", str(text)).strip()
    return f"`{value}`" if _IDENTIFIER.fullmatch(value) else quote(value)


def narrative_md(text: object) -> str:
    """LLM-drafted prose: HTML neutralised, curly quotes and backticks made plain, no
    headings, but its ``[#id]`` citations kept so the checker reads them."""
    plain = str(text).strip().replace("“", '"').replace("”", '"').replace("`", "'")
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LINE_START.sub(r"\1\\\2", plain)


def utc(value: datetime | None) -> str:
    """``2026-11-29 10:00:00 UTC``; isoformat is the fastest way there (20,000 per document)."""
    return as_utc(value).isoformat(" ")[:19] + " UTC" if value else NOT_REACHED


def when(value: datetime | None) -> str:
    """A time as a code span, so its digits never read as a figure."""
    return f"`{utc(value)}`" if value else NOT_REACHED


def dur(value: timedelta | None) -> str:
    return duration(value) if value is not None else NOT_REACHED


def who(user_id: str | None) -> str:
    """A person in the document; ``None`` is Warroom itself acting."""
    if not user_id:
        return "Warroom"
    return f"@{user_id}" if _PLAIN_ID.fullmatch(user_id) else f"@{quote(user_id)}"


def cite(refs: Iterable[int | EventView | None] | int | EventView | None) -> str:
    """`` [#3, #9]`` (with a leading space) for the events a statement comes from; empty
    when there are none, so ``after detection{{ ids | cite }}.`` reads well either way."""
    if refs is None or isinstance(refs, int | EventView):
        refs = [refs]
    ids = [r.id if isinstance(r, EventView) else r for r in refs if r is not None]
    return " [" + ", ".join(f"#{i}" for i in ids) + "]" if ids else ""


def cite_some(ids: Sequence[int], limit: int = CITE_LIMIT) -> str:
    """The first few citations of a long list, and how many more there are."""
    shown = cite(ids[:limit])
    return f"{shown} (+{len(ids) - limit} more)" if len(ids) > limit else shown


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=False,  # Markdown, not HTML; untrusted text goes through md/inline/cell
        undefined=jinja2.StrictUndefined,  # a typo in a custom template fails loudly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md,
        inline=inline,
        cell=cell,
        quote=quote,
        quote_block=quote_block,
        blockquote=blockquote,
        code=code,
        narrative_md=narrative_md,
        utc=utc,
        when=when,
        dur=dur,
        who=who,
        cite=cite,
        cite_some=cite_some,
        plural=plural,
    )
    return env


_ENVIRONMENTS: dict[Path, jinja2.Environment] = {}


def _template(path: Path) -> jinja2.Template:
    """Environments are cached per folder: Jinja then compiles each template once."""
    folder = path.parent.resolve()
    env = _ENVIRONMENTS.get(folder)
    if env is None:
        env = _ENVIRONMENTS[folder] = _environment(folder)
    return env.get_template(path.name)


def render_markdown(
    snap: IncidentSnapshot,
    template_path: Path | None = None,
    *,
    narrative: Narrative | None = None,
) -> str:
    """The postmortem document as Markdown; ``template_path`` swaps in a team's own layout.

    ``narrative`` adds an LLM-drafted story (``bot.narrative``), clearly marked as a draft
    with the problems its citation check found.
    """
    path = Path(template_path) if template_path else DEFAULT_TEMPLATE
    return _template(path).render(
        pm=build(snap), incident=snap.incident, snap=snap, narrative=narrative
    )
