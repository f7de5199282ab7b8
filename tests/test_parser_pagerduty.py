"""The PagerDuty Events API v2 parser: samples, derived dedup keys, the secret routing key."""

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
from handlers.parsers.pagerduty import (
    SOURCE,
    parse,
    parse_event,
    parse_iso_timestamp,
    routing_key_of,
)

SAMPLES = Path(__file__).resolve().parent / "samples"
KEY = "R0123456789ABCDEF0123456789ABCDE"


def load(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def trigger(**payload: Any) -> dict[str, Any]:
    details = {"summary": "Disk full", "source": "db-1", "severity": "error", **payload}
    return {"routing_key": "k", "event_action": "trigger", "payload": details}


def test_registry_has_pagerduty() -> None:
    assert PARSERS["pagerduty"] is parse
    assert SOURCE == "pagerduty"


def test_documented_trigger() -> None:
    alert, dedup_key = parse_event(load("pagerduty_v2.json"))

    assert dedup_key == "checkout-api/HighErrorRate/prod" == alert.fingerprint
    assert alert.status is AlertStatus.FIRING
    assert alert.summary == "High HTTP 5xx ratio on checkout-api (7.3% > 5%)"
    assert alert.severity == "critical"
    assert alert.starts_at == datetime(2026, 3, 4, 9, 12, 45, 828000, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.labels["alertname"] == "http 5xx ratio"  # payload.class
    assert alert.labels["source"] == "checkout-api.prod.example.com"
    assert alert.labels["component"] == "checkout-api"
    assert alert.labels["group"] == "prod-payments"
    assert alert.labels["severity"] == "critical"
    assert alert.labels["window"] == "5m"  # string custom detail → label
    assert "error_ratio" not in alert.labels  # numbers are annotations
    assert alert.annotations["error_ratio"] == "0.073"
    assert alert.annotations["client"] == "Prometheus Alertmanager"
    assert alert.links == {
        "source": "http://alertmanager.example.org:9093",
        "runbook": "https://runbooks.example.com/checkout-api/high-error-rate",
        "checkout-api 5xx ratio": "https://grafana.example.com/d/checkout/overview",
    }


def test_routing_key_never_reaches_the_alert() -> None:
    for name in ("pagerduty_v2.json", "pagerduty_v2_resolve.json"):
        payload = load(name)
        alert = parse(payload)[0]
        assert "routing_key" not in alert.raw
        assert KEY not in json.dumps([alert.raw, alert.labels, alert.annotations, alert.links])
        assert payload["routing_key"] == KEY  # the input is not mutated
        assert routing_key_of(payload) == KEY
    assert routing_key_of([]) == routing_key_of({"routing_key": 5}) == ""


def test_documented_resolve_needs_only_the_key() -> None:
    alert, dedup_key = parse_event(load("pagerduty_v2_resolve.json"))

    assert dedup_key == "checkout-api/HighErrorRate/prod" == alert.fingerprint
    assert alert.status is AlertStatus.RESOLVED
    assert alert.starts_at is None  # applies to the latest alert of this key
    assert alert.labels == {}
    assert alert.name == "checkout-api/HighErrorRate/prod"


def test_acknowledge() -> None:
    payload = {"routing_key": "k", "event_action": "acknowledge", "dedup_key": "d"}
    alert = parse(payload)[0]
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert alert.starts_at is None and alert.ends_at is None


def test_resolve_with_full_payload_as_alertmanager_sends_it() -> None:
    payload = {**trigger(severity="whatever"), "event_action": "resolve", "dedup_key": "g1"}
    alert = parse(payload)[0]
    assert alert.status is AlertStatus.RESOLVED
    assert alert.labels["alertname"] == "db-1"  # no class: the source
    assert alert.severity == "whatever"  # not validated on resolve


def test_trigger_without_dedup_key_gets_a_stable_derived_key() -> None:
    _, first = parse_event(trigger(custom_details={"a": 1, "b": "x"}))
    _, retry = parse_event(trigger(custom_details={"b": "x", "a": 1}))
    _, other = parse_event(trigger(summary="Disk fuller"))

    assert first == retry
    assert first != other
    assert len(first) == 64
    assert parse_event({**trigger(), "dedup_key": ""})[1] == parse_event(trigger())[1]


def test_trigger_without_timestamp_has_no_start() -> None:
    alert = parse(trigger())[0]
    assert alert.starts_at is None
    assert alert.annotations == {"summary": "Disk full"}


def test_long_summary_truncated_and_long_details_become_annotations() -> None:
    long_text = "line one\nline two"
    alert = parse(trigger(summary="x" * 2000, custom_details={"firing": long_text, "n": None}))[0]
    assert len(alert.summary) == 1024 and alert.summary.endswith("…")
    assert alert.annotations["firing"] == long_text
    assert "firing" not in alert.labels and "n" not in alert.labels


def test_custom_details_may_be_text_or_list_and_cannot_shadow_core_labels() -> None:
    assert parse(trigger(custom_details="free text"))[0].annotations["details"] == "free text"
    assert parse(trigger(custom_details=[1, 2]))[0].annotations["details"] == "[1,2]"
    alert = parse(
        trigger(custom_details={"severity": "low", "alertname": "x", "deep": {"a": [1]}})
    )[0]
    assert alert.labels["severity"] == "error"
    assert alert.labels["alertname"] == "db-1"
    assert alert.annotations["deep"] == '{"a":[1]}'


def test_links_keep_web_urls_and_number_duplicates() -> None:
    payload = {
        **trigger(),
        "links": [
            {"href": "https://a", "text": "Graph"},
            {"href": "https://b", "text": "Graph"},
            {"href": "javascript:x", "text": "Evil"},
            {"href": "https://c"},
        ],
        "images": [{"src": "https://img/1.png"}, {"src": "ftp://img"}],
        "client_url": None,
    }
    assert parse(payload)[0].links == {
        "Graph": "https://a",
        "Graph 2": "https://b",
        "link": "https://c",
        "image": "https://img/1.png",
    }


def test_iso_timestamps() -> None:
    assert parse_iso_timestamp("2015-07-17T08:42:58.315+0000") == datetime(
        2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC
    )
    assert parse_iso_timestamp("2015-07-17T10:42:58+02:00") == datetime(
        2015, 7, 17, 8, 42, 58, tzinfo=UTC
    )


def test_unknown_keys_ignored() -> None:
    payload = {**trigger(extra={"x": 1}), "future": True, "service_key": "legacy-secret"}
    alert = parse(payload)[0]
    assert "service_key" not in alert.raw
    assert alert.raw["future"] is True


BAD_PAYLOADS: list[tuple[object, str]] = [
    ("x", "payload: expected a JSON object, got str"),
    ({"event_action": "trigger"}, "routing_key: Field required"),
    (
        {"routing_key": "", "event_action": "resolve", "dedup_key": "d"},
        "routing_key: String should",
    ),
    ({"routing_key": "k"}, "event_action: Field required"),
    ({"routing_key": "k", "event_action": "Trigger"}, "event_action: Input should be 'trigger'"),
    ({"routing_key": "k", "event_action": "resolve"}, "dedup_key: Field required for resolve"),
    ({"routing_key": "k", "event_action": "acknowledge", "dedup_key": ""}, "dedup_key: Field"),
    ({**trigger(), "dedup_key": "x" * 256}, "dedup_key: String should have at most 255"),
    ({**trigger(), "dedup_key": 7}, "dedup_key: Input should be a valid string"),
    ({"routing_key": "k", "event_action": "trigger"}, "payload: Field required"),
    ({**trigger(), "payload": "boom"}, "payload: expected a JSON object"),
    (trigger(summary=None), "payload.summary: Input should be a valid string"),
    (trigger(summary=""), "payload.summary: String should have at least 1 character"),
    (trigger(severity="high"), "payload.severity: Input should be 'critical', 'error'"),
    (trigger(timestamp="yesterday"), "payload.timestamp: invalid timestamp, expected ISO 8601"),
    (trigger(timestamp="2026-01-01T00:00:00"), "payload.timestamp: invalid timestamp"),
    (trigger(timestamp=1772615565), "payload.timestamp: invalid timestamp"),
    (trigger(timestamp="0001-01-01T00:00:00+0100"), "payload.timestamp: invalid timestamp"),
    ({**trigger(), "links": [{"text": "x"}]}, "links.0.href: Field required"),
    ({**trigger(), "images": {}}, "images: Input should be a valid list"),
    (trigger(custom_details={"n": 10**5000}), "payload: cannot be serialised"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_PAYLOADS)
def test_bad_payloads_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert str(caught.value).startswith(message)
    assert "R0123456789" not in str(caught.value)


def test_error_never_echoes_the_routing_key() -> None:
    payload = {"routing_key": KEY * 3, "event_action": "nope"}
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert KEY not in str(caught.value)


def test_parsing_leaves_the_payload_unchanged() -> None:
    payload = load("pagerduty_v2.json")
    before = copy.deepcopy(payload)
    parse(payload)
    assert payload == before


def test_links_are_capped_and_many_links_stay_fast() -> None:
    payload = {
        **trigger(),
        "links": [{"href": f"https://a/{i}", "text": "L"} for i in range(50_000)],
    }
    started = time.perf_counter()
    links = parse(payload)[0].links
    assert time.perf_counter() - started < 2  # deduplicating by scanning took 47 s here
    assert len(links) == 20
    assert list(links)[:3] == ["L", "L 2", "L 3"]
