"""Related incidents: the one with the same alert and model ranks first, with reasons;
incidents that share nothing are never listed."""

from __future__ import annotations

from datetime import timedelta

from bot.related import MIN_SCORE, related_incidents, terms
from bot.snapshot import AlertView, IncidentSnapshot
from tests.snapshots import make_alert, make_event, make_incident


def alert(name: str, **labels: str) -> AlertView:
    return make_alert(1, 0, name=name, labels={"alertname": name, "env": "prod", **labels})


def incident(
    number: int, title: str, alerts: list[AlertView], resolution: str | None = None
) -> IncidentSnapshot:
    events = [make_event(1, "detected", 0, data={"alert_id": 1})]
    if resolution:
        events.append(make_event(2, "resolved", 65, actor="U1", text=resolution))
    return IncidentSnapshot(
        incident=make_incident(id=100 + number, number=number, title=title),
        alerts=alerts,
        pages=[],
        steps=[],
        events=events,
    )


def past() -> list[IncidentSnapshot]:
    return [
        incident(
            1,
            "GPU memory pressure on inference pool",
            [alert("GPUMemoryHigh", pool="a")],
            "Scaled the pool",
        ),
        incident(
            2,
            "Model drift: recsys-v3",
            [alert("ModelDriftHigh", model="recsys-v3")],
            "Retrained recsys-v3 on last week's data",
        ),
        incident(
            3,
            "Model drift: fraud-v2",
            [alert("ModelDriftHigh", model="fraud-v2")],
            "Rolled back fraud-v2",
        ),
        incident(
            4,
            "Feature store latency",
            [alert("FeatureStoreLatency", service="feast")],
            "Restarted feast",
        ),
        incident(
            5,
            "Billing export failed",
            [make_alert(1, 0, name="BillingExport", labels={"team": "finance"})],
        ),
    ]


def current() -> IncidentSnapshot:
    return incident(
        9, "Model drift: recsys-v3", [alert("ModelDriftHigh", model="recsys-v3", feature="f1")]
    )


def test_the_same_alert_on_the_same_model_ranks_first_with_reasons() -> None:
    found = related_incidents(current(), past())
    assert [r.incident.number for r in found] == [2, 3]
    best = found[0]
    assert best.reasons == [
        "same model=recsys-v3",
        "similar title: recsys-v3, drift, model",
        "same alertname ModelDriftHigh",
    ]
    assert found[1].reasons[:2] == ["same alertname ModelDriftHigh", "similar title: drift, model"]
    assert best.resolution == "Retrained recsys-v3 on last week's data"
    assert best.time_to_resolve == timedelta(minutes=65)
    assert 0 < found[1].score < best.score <= 1


def test_unrelated_incidents_are_excluded() -> None:
    found = {r.incident.number for r in related_incidents(current(), past(), limit=10)}
    assert found == {2, 3}  # GPU, feature store (env=prod only) and billing share too little


def test_sharing_only_a_ubiquitous_label_scores_below_the_threshold() -> None:
    lonely = incident(9, "Something else", [alert("DiskFull", host="db1")])
    scores = [r.score for r in related_incidents(lonely, past(), limit=10)]
    assert all(score >= MIN_SCORE for score in scores)
    assert scores == []


def test_nothing_in_common_scores_zero() -> None:
    other = incident(9, "Quantum flux", [make_alert(1, 0, name="Flux", labels={"x": "y"})])
    assert related_incidents(other, past()) == []
    assert related_incidents(current(), []) == []


def test_the_incident_itself_is_skipped_and_the_limit_holds() -> None:
    found = related_incidents(current(), [*past(), current()], limit=1)
    assert [r.incident.number for r in found] == [2]


def test_terms() -> None:
    bag = terms(current())
    assert bag["alertname=ModelDriftHigh"] == 1
    assert bag["model=recsys-v3"] == 1 and bag["env=prod"] == 1
    assert bag["title:drift"] == 1 and bag["title:recsys-v3"] == 1
    assert "title:model" in bag and "severity=warning" not in bag


def test_many_copies_of_one_alert_do_not_drown_the_title() -> None:
    storm = incident(
        9, "Feature store latency", [alert("Unrelated", shard=str(n)) for n in range(500)]
    )
    found = related_incidents(storm, past())
    assert [r.incident.number for r in found] == [4]
    assert found[0].reasons[0] == "similar title: feature, latency, store"
    assert found[0].score > 0.15
