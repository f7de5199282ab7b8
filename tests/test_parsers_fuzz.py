"""Property tests: every parser either returns alerts or raises ``PayloadError``.

A crash (KeyError, TypeError, OverflowError, …) in a parser would turn a sender's bad
payload into a 500, which Alertmanager, Datadog and SNS all retry, forever. So each
parser gets arbitrary JSON and, more usefully, its own samples with keys dropped or
replaced by awkward values (nulls, huge numbers, NaN, wrong types).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers import PARSERS, PayloadError, cloudwatch, grafana, pagerduty
from handlers.parsers.generic import GenericSource, build_parser

SAMPLES = Path(__file__).resolve().parent / "samples"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GENERIC = build_parser(
    GenericSource(
        name="drift-job",
        alerts="alerts",
        summary="message",
        fingerprint="id",
        status="state",
        starts_at="at",
        severity="level",
        labels={"alertname": "'Drift'", "model": "model.name", "n": "length(features)"},
        annotations={"all": "@"},
        links={"runbook": "runbook"},
    )
)
GENERIC_SAMPLE = {
    "alerts": [
        {
            "message": "PSI high",
            "id": "r1",
            "state": "firing",
            "at": "2026-03-04T09:00:00Z",
            "level": "warning",
            "model": {"name": "recsys"},
            "features": ["a", "b"],
            "runbook": "https://rb",
        }
    ]
}

PARSER_SAMPLES: dict[str, tuple[Callable[[object], list[NormalizedAlert]], list[str]]] = {
    "alertmanager": (PARSERS["alertmanager"], ["alertmanager.json"]),
    "grafana": (PARSERS["grafana"], ["grafana.json"]),
    "pagerduty": (PARSERS["pagerduty"], ["pagerduty_v2.json", "pagerduty_v2_resolve.json"]),
    "datadog": (PARSERS["datadog"], ["datadog.json", "datadog_recommended_custom.json"]),
    "cloudwatch": (
        PARSERS["cloudwatch"],
        ["cloudwatch_sns.json", "cloudwatch_sns_subscription_confirmation.json"],
    ),
}

AWKWARD = st.sampled_from(
    [
        None,
        "",
        " ",
        0,
        -1,
        True,
        10**30,
        2**63,
        1e308,
        float("inf"),
        float("nan"),
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-02-30T00:00:00Z",
        "javascript:alert(1)",
        "https://sns.us-east-1.amazonaws.com@evil/",
        "\u0000\ud7ff\U0010ffff",
        "[" * 50,
        {},
        [],
        [None],
        {"": None},
    ]
) | st.just(5000).map(lambda digits: 10**digits)  # Python refuses to print it (> 4300 digits)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | AWKWARD
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path into a JSON value, parents before children."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, sample: Any) -> Any:
    """The sample with one to four keys dropped or replaced by awkward or random values."""
    value = copy.deepcopy(sample)
    for _ in range(draw(st.integers(1, 4))):
        candidates = paths(value)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(AWKWARD | JSON))  # sampled_from shares objects
    return value


@st.composite
def cloudwatch_mutated(draw: st.DrawFn) -> Any:
    """The alarm inside ``Message`` mutated, then encoded back into its string."""
    envelope = load("cloudwatch_sns.json")
    message = draw(mutated(json.loads(envelope["Message"])))
    try:
        envelope["Message"] = json.dumps(message) if draw(st.integers(0, 9)) else message
    except ValueError:  # an integer too long to print: send the structure, not a string
        envelope["Message"] = message
    return envelope


def check(parse: Callable[[object], list[NormalizedAlert]], payload: Any) -> None:
    """The property: alerts that keep NormalizedAlert's promises, or a PayloadError."""
    before = copy.deepcopy(payload)
    try:
        alerts = parse(payload)
    except PayloadError as exc:
        assert str(exc)
    else:
        assert isinstance(alerts, list)
        for alert in alerts:
            assert_well_formed(alert)
            assert_fits(alert)
    assert [payload] == [before]  # never mutated (in a list, NaN equals its own object)


def assert_well_formed(alert: NormalizedAlert) -> None:
    assert isinstance(alert, NormalizedAlert)
    assert isinstance(alert.status, AlertStatus)
    assert isinstance(alert.fingerprint, str) and alert.fingerprint
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.annotations.items())
    assert all(v.startswith(("http://", "https://")) for v in alert.links.values())
    assert isinstance(alert.summary, str)
    assert isinstance(alert.raw, dict)
    for moment in (alert.starts_at, alert.ends_at):
        assert moment is None or moment.utcoffset() == timedelta(0)
    if alert.starts_at is not None:
        assert alert.starts_at.tzinfo is UTC or alert.starts_at.utcoffset() == timedelta(0)


def assert_fits(alert: NormalizedAlert) -> None:
    """The ``alerts`` columns: a longer value fails the insert (a 503, retried forever)."""
    assert len(alert.fingerprint) <= 255
    assert 0 < len(alert.source) <= 40
    assert alert.severity is None or len(alert.severity) <= 40


@pytest.mark.parametrize("name", sorted(PARSER_SAMPLES))
@FUZZ
@given(payload=JSON)
def test_arbitrary_json(name: str, payload: Any) -> None:
    check(PARSER_SAMPLES[name][0], payload)


@pytest.mark.parametrize(
    ("name", "sample"),
    [(name, sample) for name, (_, samples) in sorted(PARSER_SAMPLES.items()) for sample in samples],
)
@FUZZ
@given(data=st.data())
def test_mutated_samples(name: str, sample: str, data: st.DataObject) -> None:
    check(PARSER_SAMPLES[name][0], data.draw(mutated(load(sample))))


def test_alertmanager_values_fit_their_columns() -> None:
    """Found by the fuzzing above: NormalizedAlert now bounds them for every parser."""
    payload = load("alertmanager.json")
    payload["alerts"][0]["labels"]["severity"] = "s" * 41
    payload["alerts"][1]["fingerprint"] = "f" * 256
    for alert in PARSERS["alertmanager"](payload):
        assert_fits(alert)


@FUZZ
@given(payload=cloudwatch_mutated())
def test_mutated_cloudwatch_alarm_message(payload: Any) -> None:
    check(cloudwatch.parse, payload)


@FUZZ
@given(payload=JSON | mutated(GENERIC_SAMPLE))
def test_generic_parser(payload: Any) -> None:
    check(GENERIC, payload)


@FUZZ
@given(payload=mutated(load("cloudwatch_sns_subscription_confirmation.json")))
def test_subscription_confirmation_url(payload: Any) -> None:
    try:
        url = cloudwatch.subscription_confirm_url(cloudwatch.parse_envelope(payload))
    except PayloadError:
        return
    assert url is None or url.startswith("https://sns.")


@FUZZ
@given(data=st.data())
def test_pagerduty_dedup_key_is_the_fingerprint(data: st.DataObject) -> None:
    payload = data.draw(mutated(load("pagerduty_v2.json")))
    try:
        alert, dedup_key = pagerduty.parse_event(payload)
    except PayloadError:
        return
    assert alert.fingerprint == dedup_key
    assert "R0123456789ABCDEF0123456789ABCDE" not in repr(alert)


@FUZZ
@given(
    body=st.binary(max_size=64),
    headers=st.dictionaries(st.text(max_size=40), st.text(max_size=80), max_size=4),
    secret=st.text(max_size=10),
    max_age=st.none() | st.floats(allow_nan=True),
)
def test_signature_check_never_raises(
    body: bytes, headers: dict[str, str], secret: str, max_age: float | None
) -> None:
    result = grafana.verify_signature(body, headers, secret, max_age=max_age)
    assert isinstance(result, bool)
