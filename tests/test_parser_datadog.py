"""The Datadog parser: default and recommended payloads, titles, recoveries, bad input."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import AlertStatus
from handlers.parsers import PARSERS, PayloadError
from handlers.parsers.datadog import SOURCE, parse

SAMPLES = Path(__file__).resolve().parent / "samples"
WHEN = datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def recovered(payload: dict[str, Any]) -> dict[str, Any]:
    """The same monitor group's recovery, as Datadog would send it."""
    payload = copy.deepcopy(payload)
    payload["title"] = payload["title"].replace("[Triggered on", "[Recovered on")
    payload["id"] = "7791562035813542999"
    payload["date"] = payload["last_updated"] = "1772616165000"
    if "alert_transition" in payload:
        payload["alert_transition"] = "Recovered"
        payload["alert_type"] = "success"
    return payload


def test_registry_has_datadog() -> None:
    assert PARSERS["datadog"] is parse
    assert SOURCE == "datadog"


def test_default_payload_reads_the_title() -> None:
    (alert,) = parse(load("datadog.json"))

    assert alert.status is AlertStatus.FIRING
    assert alert.summary == "checkout-api 5xx error rate is high"
    assert alert.labels == {
        "alertname": "checkout-api 5xx error rate is high",
        "env": "prod",
        "service": "checkout-api",
    }
    assert alert.starts_at == WHEN
    assert alert.annotations["transition"] == "Triggered"
    assert alert.annotations["scope"] == "env:prod,service:checkout-api"
    assert alert.annotations["description"].startswith("@webhook-incident-bot 5xx")
    assert "%%%" not in alert.annotations["description"]
    assert alert.links["runbook"] == "https://runbooks.example.com/checkout-api/high-error-rate"
    assert alert.links["monitor"].startswith("https://app.datadoghq.com/monitors/73412908?")
    assert alert.raw == load("datadog.json")


def test_recommended_payload() -> None:
    (alert,) = parse(load("datadog_recommended_custom.json"))

    assert alert.fingerprint == "9bd4ac313a4d1e8fae2482df7b77628"  # $AGGREG_KEY
    assert alert.severity == "error"  # $ALERT_TYPE
    assert alert.labels["team"] == "payments"  # from $TAGS
    assert "monitor" not in alert.labels  # a tag without a value
    assert alert.labels["monitor_id"] == "73412908"
    assert alert.labels["priority"] == "P1"
    assert "host" not in alert.labels  # empty $HOSTNAME
    assert alert.annotations["cycle_key"] == "7791562035813542912"
    assert alert.links == {
        "event": "https://app.datadoghq.com/event/jump_to?event_id=7791562035813542912"
    }


@pytest.mark.parametrize("sample", ["datadog.json", "datadog_recommended_custom.json"])
def test_recovery_matches_its_trigger(sample: str) -> None:
    (fired,) = parse(load(sample))
    (resolved,) = parse(recovered(load(sample)))

    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == fired.fingerprint
    assert resolved.starts_at is None  # applies to the latest alert of the fingerprint
    assert resolved.ends_at == datetime(2026, 3, 4, 9, 22, 45, tzinfo=UTC)


def test_alert_id_and_scope_identify_a_group_without_aggreg_key() -> None:
    payload = load("datadog_recommended_custom.json")
    del payload["aggreg_key"]
    other_group = {**payload, "alert_scope": "env:staging,service:checkout-api"}

    assert parse(payload)[0].fingerprint == "73412908/env:prod,service:checkout-api"
    assert parse(other_group)[0].fingerprint != parse(payload)[0].fingerprint
    assert parse({**payload, "alert_scope": ""})[0].fingerprint.startswith("73412908/")  # title


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Triggered", AlertStatus.FIRING),
        ("Re-Triggered", AlertStatus.FIRING),
        ("Warn", AlertStatus.FIRING),
        ("No Data", AlertStatus.FIRING),
        ("Renotify", AlertStatus.FIRING),
        ("Something New", AlertStatus.FIRING),
        ("Recovered", AlertStatus.RESOLVED),
        ("recovered", AlertStatus.RESOLVED),
    ],
)
def test_transitions(transition: str, status: AlertStatus) -> None:
    payload = {**load("datadog_recommended_custom.json"), "alert_transition": transition}
    assert parse(payload)[0].status is status


@pytest.mark.parametrize(
    ("title", "name", "transition"),
    [
        ("[P2] [Warn on {host:a}] Disk", "Disk", "Warn"),
        ("[No Data] Heartbeat", "Heartbeat", "No Data"),
        ("[Recovered] Disk", "Disk", "Recovered"),
        ("[PROD] Route errors", "[PROD] Route errors", None),
        ("Plain event", "Plain event", None),
    ],
)
def test_title_forms(title: str, name: str, transition: str | None) -> None:
    alert = parse({"title": title})[0]
    assert alert.summary == alert.labels["alertname"] == name
    assert alert.annotations.get("transition") == transition
    assert alert.starts_at is None  # no $DATE in this template


def test_numbers_accepted_where_text_expected() -> None:
    alert = parse({"title": "[Triggered] X", "date": 1772615565000, "alert_id": 42, "org": None})[0]
    assert alert.starts_at == WHEN
    assert alert.labels["monitor_id"] == "42"


def test_tags_as_list_and_repeated_keys() -> None:
    alert = parse({"title": "X", "tags": ["env:a", "env:b", "env:a", "team:ml:core", ":x", "y:"]})[
        0
    ]
    assert alert.labels["env"] == "a,b"
    assert alert.labels["team"] == "ml:core"
    assert "" not in alert.labels and "y" not in alert.labels


def test_last_updated_used_without_date_and_unknown_keys_ignored() -> None:
    alert = parse({"title": "X", "last_updated": "1772615565000", "custom": {"a": [1]}})[0]
    assert alert.starts_at == WHEN


def test_long_keys_are_hashed_to_fit() -> None:
    alert = parse({"title": "X", "aggreg_key": "k" * 300})[0]
    assert len(alert.fingerprint) == 64


BAD_PAYLOADS: list[tuple[object, str]] = [
    ([load("datadog.json")], "payload: expected a JSON object, got list"),
    ({}, "title: Field required"),
    ({"title": "  ", "alert_title": ""}, "title: Field required"),
    ({"title": None}, "title: Field required"),
    ({"title": {"a": 1}}, "title: Input should be a valid string"),
    ({"title": "X", "date": "soon"}, "date: expected epoch milliseconds"),
    ({"title": "X", "date": "1.5e12"}, "date: expected epoch milliseconds"),
    ({"title": "X", "date": "9" * 15}, "date: epoch milliseconds out of range"),
    ({"title": "X", "date": 10**30}, "date: expected epoch milliseconds"),
    ({"title": "X", "date": 1.5}, "date: Input should be a valid string"),
    ({"title": "X", "alert_id": 10**5000}, "alert_id: number too long"),
    ({"title": "X", "org": "acme"}, "org: expected a JSON object"),
    ({"title": "X", "tags": [1]}, "tags.0: Input should be a valid string"),
    ({"title": "X", "tags": {"a": "b"}}, "tags: Input should be a valid list"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_PAYLOADS)
def test_bad_payloads_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert str(caught.value).startswith(message)


def test_parsing_leaves_the_payload_unchanged() -> None:
    payload = load("datadog_recommended_custom.json")
    before = copy.deepcopy(payload)
    parse(payload)
    assert payload == before


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "[a" + " " * 100_000},  # backtracking in the title pattern
        {"title": "X", "tags": ",".join(f"env:{i}" for i in range(50_000))},  # repeated keys
    ],
)
def test_hostile_sizes_stay_linear(payload: dict[str, Any]) -> None:
    started = time.perf_counter()
    parse(payload)
    assert time.perf_counter() - started < 2  # quadratic code took 10 s and more here
