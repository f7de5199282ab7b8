"""Related incidents: past incidents with the most similar alerts, labels and titles.

When an incident opens, responders want to know "have we seen this before, and what fixed
it?". A lexical similarity answers that well enough and explains itself: each incident
becomes a bag of terms (``alertname=ModelDriftHigh``, ``model=recsys-v3``, title words),
weighted by TF-IDF over the past incidents, and compared by cosine. Terms every past
incident shares (``env=prod``) weigh almost nothing; a rare shared alert name weighs a lot.
The shared terms that weigh most become the reasons shown to people.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import as_utc
from bot.postmortem import milestones
from bot.snapshot import IncidentSnapshot, IncidentView

MIN_SCORE = 0.05  # below this, the overlap is noise (a shared env=prod and little else)
REASONS = 3
SKIPPED_LABELS = frozenset({"alertname", "severity", "alertstate", "instance", "job"})
STOPWORDS = frozenset(
    {"the", "and", "for", "with", "from", "into", "over", "under", "not", "are", "was"}
    | {"were", "has", "have", "high", "low"}
)
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")
_TITLE = "title:"


@dataclass(frozen=True, slots=True)
class Related:
    incident: IncidentView
    score: float  # cosine similarity, 0 … 1
    reasons: list[str]  # "same alertname ModelDriftHigh", "same model=recsys-v3", …
    resolution: str | None  # how it was resolved, from its timeline
    time_to_resolve: timedelta | None


def terms(snap: IncidentSnapshot) -> Counter[str]:
    """The incident as a bag of terms: alert names, label pairs and title words."""
    bag: Counter[str] = Counter()
    for alert in snap.alerts:
        bag[f"alertname={alert.name}"] += 1
        for key, value in alert.labels.items():
            if key not in SKIPPED_LABELS and not key.startswith("__"):
                bag[f"{key}={value}"] += 1
    for word in _WORD.findall(snap.incident.title.lower()):
        if len(word) > 2 and word not in STOPWORDS:
            bag[_TITLE + word] += 1
    return bag


def related_incidents(
    current: IncidentSnapshot, past: list[IncidentSnapshot], limit: int = 3
) -> list[Related]:
    """Up to ``limit`` past incidents most like ``current``, best first; none below
    ``MIN_SCORE`` (an incident sharing nothing scores 0 and is never listed)."""
    others = [p for p in past if p.incident.id != current.incident.id]
    bags = [terms(p) for p in others]
    idf = _idf(bags)
    # A term no past incident has is as rare as can be: it cannot match, but it keeps a
    # query whose only common ground is env=prod from looking like a perfect match.
    query = _weights(terms(current), idf, unseen=math.log(len(bags) + 1))
    ranked = []
    for snap, bag in zip(others, bags, strict=True):
        doc = _weights(bag, idf)
        shared = {t: query[t] * doc[t] for t in query.keys() & doc.keys()}
        score = sum(shared.values())
        if score >= MIN_SCORE:
            ranked.append((score, snap, shared))
    ranked.sort(key=lambda r: (-r[0], -r[1].incident.number))
    return [_related(score, snap, shared) for score, snap, shared in ranked[:limit]]


def _idf(bags: list[Counter[str]]) -> dict[str, float]:
    """ln((N + 1) / df): a term in every past incident weighs ~1/N, a unique one ln(N + 1)."""
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    total = len(bags) + 1
    return {term: math.log(total / count) for term, count in df.items()}


def _tf(bag: Counter[str]) -> dict[str, float]:
    """Sublinear term frequency, shared among the values of one label key: 500 copies of
    an alert, or 500 pod names, must not drown the rest of the incident."""
    values: Counter[str] = Counter(t.partition("=")[0] for t in bag if "=" in t)
    return {
        t: (1 + math.log(n)) / (values[t.partition("=")[0]] if "=" in t else 1)
        for t, n in bag.items()
    }


def _weights(bag: Counter[str], idf: dict[str, float], unseen: float = 0.0) -> dict[str, float]:
    """Unit-length TF-IDF vector."""
    weights = {t: tf * idf.get(t, unseen) for t, tf in _tf(bag).items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {t: w / norm for t, w in weights.items()} if norm else {}


def _related(score: float, snap: IncidentSnapshot, shared: dict[str, float]) -> Related:
    marks = milestones(snap)
    resolution = marks.resolution
    text = resolution.text.strip() if resolution else ""
    if text in ("", "Resolved"):
        text = (snap.incident.summary or "").strip()
    ttr = None
    if resolution and marks.detected_at:
        ttr = max(timedelta(0), as_utc(resolution.at) - marks.detected_at)
    return Related(
        incident=snap.incident,
        score=round(score, 4),
        reasons=reasons(shared),
        resolution=text or None,
        time_to_resolve=ttr,
    )


def reasons(shared: dict[str, float]) -> list[str]:
    """The heaviest shared terms in words; shared title words make one reason."""
    ordered = sorted(shared, key=lambda t: (-round(shared[t], 9), t))  # ties: by name
    words = [t.removeprefix(_TITLE) for t in ordered if t.startswith(_TITLE)]
    found = []
    for term in ordered:
        if term.startswith(_TITLE):
            if words:
                found.append("similar title: " + ", ".join(words))
                words = []
        elif term.startswith("alertname="):
            found.append("same alertname " + term.removeprefix("alertname="))
        else:
            found.append("same " + term)
    return found[:REASONS]
