"""The Alertmanager parser against real captured payloads and the ways senders get it wrong."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers import PARSERS, PayloadError
from handlers.parsers.alertmanager import SOURCE, fingerprint_of, parse

SAMPLES = Path(__file__).resolve().parent / "samples"


def load(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def minimal(**alert: Any) -> dict[str, Any]:
    """The smallest valid notification, with one alert overridable field by field."""
    base = {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-01-01T00:00:00Z"}
    return {"version": "4", "alerts": [{**base, **alert}]}


def test_registry_has_alertmanager() -> None:
    assert PARSERS["alertmanager"] is parse
    assert SOURCE == "alertmanager"


def test_documented_sample() -> None:
    firing, resolved = parse(load("alertmanager.json"))

    assert firing == NormalizedAlert(
        source="alertmanager",
        fingerprint="1a30ba71cca2921f",
        status=AlertStatus.FIRING,
        labels=firing.labels,
        annotations=firing.annotations,
        starts_at=datetime(2026, 3, 4, 9, 12, 45, 828000, tzinfo=UTC),
        ends_at=None,
        summary="High HTTP 5xx ratio on checkout-api",
        severity="critical",
        links={
            "source": firing.raw["generatorURL"],
            "runbook": "https://runbooks.example.com/checkout-api/high-error-rate",
        },
        raw=firing.raw,
    )
    assert firing.labels["instance"] == "10.42.3.17:8080"
    assert "&" in firing.links["source"]  # Go's \u0026 escaping decoded by the JSON parser
    assert ">" in firing.annotations["description"]
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.ends_at == datetime(2026, 3, 4, 9, 10, 45, 828000, tzinfo=UTC)


def test_captured_0_25_firing_truncates_nanoseconds() -> None:
    alerts = parse(load("alertmanager-0.25-firing.json"))

    assert [a.fingerprint for a in alerts] == ["8bfa4ff2dbff0faa", "f896c8675e067584"]
    first = alerts[0]
    assert first.starts_at == datetime(2026, 11, 29, 13, 33, 49, 807878, tzinfo=UTC)
    assert first.starts_at.tzinfo is UTC
    assert all(a.ends_at is None and a.status is AlertStatus.FIRING for a in alerts)
    assert first.links == {"runbook": "https://runbooks.example/drift"}  # empty generatorURL
    assert alerts[1].links == {}
    assert first.name == "ModelDriftHigh"


def test_captured_0_25_partly_resolved() -> None:
    resolved, firing = parse(load("alertmanager-0.25-partly-resolved.json"))

    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.ends_at == datetime(2026, 11, 29, 13, 33, 55, tzinfo=UTC)
    assert firing.status is AlertStatus.FIRING
    assert firing.ends_at is None
    # The same alert instance as in the firing capture: same identity triple.
    before = parse(load("alertmanager-0.25-firing.json"))[0]
    assert (resolved.fingerprint, resolved.starts_at) == (before.fingerprint, before.starts_at)


def test_raw_keeps_alert_and_group_identity() -> None:
    payload = load("alertmanager-0.25-firing.json")
    alert = parse(payload)[0]

    assert alert.raw["groupKey"] == payload["groupKey"]
    assert alert.raw["externalURL"] == "http://alertmanager.example:9093"
    assert alert.raw["startsAt"] == "2026-11-29T13:33:49.807878511Z"
    assert alert.raw["fingerprint"] == "8bfa4ff2dbff0faa"
    json.dumps(alert.raw)  # storable as JSON


def test_unknown_keys_from_newer_versions_are_ignored() -> None:
    payload = load("alertmanager-0.25-firing.json")
    payload["notification_reason"] = "new_alerts"
    payload["routeLabels"] = {"team": "ml"}
    payload["alerts"][0]["silencedBy"] = []

    assert len(parse(payload)) == 2


def test_fingerprint_derived_from_labels_when_missing() -> None:
    one = minimal(labels={"alertname": "X", "model": "m"})
    reordered = minimal(labels={"model": "m", "alertname": "X"})

    fingerprint = parse(one)[0].fingerprint
    assert fingerprint == parse(reordered)[0].fingerprint
    assert fingerprint == fingerprint_of({"alertname": "X", "model": "m"})
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint != parse(minimal(labels={"alertname": "Y", "model": "m"}))[0].fingerprint


def test_fingerprint_canonical_form_separates_lookalike_label_sets() -> None:
    assert fingerprint_of({"a": "b,c=d"}) != fingerprint_of({"a": "b", "c": "d"})


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"summary": "S", "description": "D"}, "S"),
        ({"description": "D"}, "D"),
        ({}, "X"),
    ],
)
def test_summary_falls_back(annotations: dict[str, str], expected: str) -> None:
    assert parse(minimal(annotations=annotations))[0].summary == expected


def test_links() -> None:
    payload = minimal(
        generatorURL="http://prom/graph",
        annotations={
            "runbook_url": "https://rb",
            "dashboardURL": "https://grafana/d/1",
        },
    )
    assert parse(payload)[0].links == {
        "source": "http://prom/graph",
        "runbook": "https://rb",
        "dashboard": "https://grafana/d/1",
    }
    snake = minimal(annotations={"dashboard_url": "https://grafana/d/2"})
    assert parse(snake)[0].links == {"dashboard": "https://grafana/d/2"}


def test_non_web_links_are_dropped() -> None:
    payload = minimal(annotations={"runbook_url": "javascript:alert(1)"}, generatorURL="ftp://x")
    assert parse(payload)[0].links == {}


def test_firing_alert_never_carries_ends_at() -> None:
    alert = parse(minimal(endsAt="2099-01-01T00:00:00Z"))[0]
    assert alert.ends_at is None


def test_offsets_are_converted_to_utc() -> None:
    alert = parse(minimal(startsAt="2026-01-01T05:30:00.123456789+05:30"))[0]
    assert alert.starts_at == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert alert.starts_at.tzinfo is UTC


def test_nulls_for_optional_fields() -> None:
    alert = parse(minimal(annotations=None, generatorURL=None, fingerprint=None, endsAt=None))[0]
    assert alert.annotations == {}
    assert alert.links == {}
    assert alert.fingerprint == fingerprint_of({"alertname": "X"})


def test_empty_alert_list_is_valid() -> None:
    assert parse({"version": "4", "alerts": []}) == []


def _without(key: str) -> dict[str, Any]:
    payload = minimal()
    del payload["alerts"][0][key]
    return payload


BAD_PAYLOADS: list[tuple[object, str]] = [
    ([], "payload: expected a JSON object, got list"),
    ("{}", "payload: expected a JSON object, got str"),
    ({"alerts": []}, "version: Field required"),
    ({"version": "3", "alerts": []}, "version: unsupported webhook version '3', expected '4'"),
    ({"version": 4, "alerts": []}, "version: unsupported webhook version 4"),
    ({"version": "4"}, "alerts: Field required"),
    ({"version": "4", "alerts": {}}, "alerts: Input should be a valid list"),
    ({"version": "4", "alerts": ["x"]}, "alerts.0: expected a JSON object"),
    (minimal(status="pending"), "alerts.0.status: Input should be 'firing' or 'resolved'"),
    (_without("status"), "alerts.0.status: Field required"),
    (_without("labels"), "alerts.0.labels: Field required"),
    (minimal(labels={}), "alerts.0.labels: at least one label is required"),
    (minimal(labels=["a"]), "alerts.0.labels: expected a JSON object"),
    (minimal(labels={"n": 1}), "alerts.0.labels.n: Input should be a valid string"),
    (minimal(annotations={"n": None}), "alerts.0.annotations.n: Input should be a valid string"),
    (_without("startsAt"), "alerts.0.startsAt: Field required"),
    (minimal(startsAt="yesterday"), "alerts.0.startsAt: invalid datetime"),
    (minimal(startsAt=1767225600), "alerts.0.startsAt: invalid datetime"),
    (minimal(startsAt="2026-01-01T00:00:00"), "alerts.0.startsAt: invalid datetime"),
    (minimal(startsAt="2026-02-30T00:00:00Z"), "alerts.0.startsAt: invalid datetime"),
    (minimal(endsAt="soon"), "alerts.0.endsAt: invalid datetime"),
    (minimal(startsAt="0001-01-01T00:00:00+01:00"), "alerts.0.startsAt: invalid datetime"),
    (minimal(startsAt="2026-01-01T00:00:00.5"), "alerts.0.startsAt: invalid datetime"),
    (minimal(fingerprint=12), "alerts.0.fingerprint: Input should be a valid string"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_PAYLOADS)
def test_bad_payloads_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


def test_errors_are_listed_at_most_five() -> None:
    payload = {"version": "4", "alerts": [{"status": "nope"}] * 3}
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    message = str(caught.value)

    assert message.count(": ") == 5
    assert message.startswith("alerts.0.status: Input should be 'firing' or 'resolved'")
    assert message.endswith("; and 4 more")  # 3 alerts x (status, labels, startsAt) = 9 errors


def test_parsing_leaves_the_payload_unchanged() -> None:
    # raw shares objects with the payload (see NormalizedAlert.raw): parsing must not edit it.
    payload = load("alertmanager.json")
    before = copy.deepcopy(payload)
    parse(payload)
    assert payload == before
