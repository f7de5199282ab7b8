"""Configured (JMESPath) sources: the config model, the YAML loader, the built parsers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import AlertStatus
from handlers.parsers import PARSERS, PayloadError, with_generic
from handlers.parsers.alertmanager import fingerprint_of
from handlers.parsers.generic import GenericSource, build_parser, load_sources, parse_time

DRIFT_YAML = """\
sources:
  drift-job:
    summary: "message"
    fingerprint: "run_id"
    status: "state"
    starts_at: "detected_at"
    severity: "level"
    labels:
      alertname: "'DriftJob'"
      model: "model.name"
      psi: "metrics.psi"
    annotations:
      features: "features"
    links:
      runbook: "runbook"
      bad: "'ftp://x'"
  dq-batch:
    alerts: "failures"
    summary: "join(' ', ['check', name, 'failed'])"
    labels:
      alertname: "'DataQuality'"
      table: "table"
"""

DRIFT = {
    "message": "PSI above 0.2 for recsys-v3",
    "run_id": "run-42",
    "state": "firing",
    "detected_at": "2026-03-04T09:00:00+01:00",
    "level": "warning",
    "model": {"name": "recsys-v3", "version": 7},
    "metrics": {"psi": 0.27},
    "features": ["age", "country"],
    "runbook": "https://runbooks.example.com/drift",
}


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, GenericSource]:
    path = tmp_path / "sources.yaml"
    path.write_text(DRIFT_YAML)
    loaded, problems = load_sources(path)
    assert problems == []
    return loaded


def test_drift_job(sources: dict[str, GenericSource]) -> None:
    (alert,) = build_parser(sources["drift-job"])(DRIFT)

    assert alert.source == "drift-job"
    assert alert.fingerprint == "run-42"
    assert alert.status is AlertStatus.FIRING
    assert alert.summary == "PSI above 0.2 for recsys-v3"
    assert alert.severity == "warning"
    assert alert.starts_at == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    assert alert.labels == {"alertname": "DriftJob", "model": "recsys-v3", "psi": "0.27"}
    assert alert.annotations == {"features": '["age","country"]'}
    assert alert.links == {"runbook": "https://runbooks.example.com/drift"}
    assert alert.raw == DRIFT


@pytest.mark.parametrize("state", ["resolved", "OK", " Recovered "])
def test_resolved_values(sources: dict[str, GenericSource], state: str) -> None:
    (alert,) = build_parser(sources["drift-job"])({**DRIFT, "state": state})
    assert alert.status is AlertStatus.RESOLVED


def test_custom_resolved_values_and_boolean_status() -> None:
    source = GenericSource(
        name="x", summary="m", status="cleared", resolved_values=["true"], labels={"a": "'b'"}
    )
    parse = build_parser(source)
    assert parse({"m": "s", "cleared": True})[0].status is AlertStatus.RESOLVED
    assert parse({"m": "s", "cleared": False})[0].status is AlertStatus.FIRING
    assert parse({"m": "s"})[0].status is AlertStatus.FIRING


def test_missing_optional_values_are_left_out(sources: dict[str, GenericSource]) -> None:
    (alert,) = build_parser(sources["drift-job"])({"message": "m"})
    assert alert.labels == {"alertname": "DriftJob"}
    assert alert.fingerprint == fingerprint_of({"alertname": "DriftJob"})
    assert alert.starts_at is None
    assert alert.severity is None
    assert alert.links == {}


def test_several_alerts_per_payload(sources: dict[str, GenericSource]) -> None:
    parse = build_parser(sources["dq-batch"])
    payload = {
        "failures": [{"name": "nulls", "table": "orders"}, {"name": "dupes", "table": "users"}]
    }
    first, second = parse(payload)

    assert first.summary == "check nulls failed"
    assert second.labels == {"alertname": "DataQuality", "table": "users"}
    assert first.fingerprint != second.fingerprint  # label hash
    assert parse({"failures": []}) == []


def test_non_object_items_are_kept_in_raw() -> None:
    parse = build_parser(GenericSource(name="x", alerts="@", summary="@"))
    (alert,) = parse(["disk full"])
    assert alert.summary == "disk full"
    assert alert.raw == {"value": "disk full"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-04T09:00:00Z", datetime(2026, 3, 4, 9, tzinfo=UTC)),
        ("2026-03-04T09:00:00", datetime(2026, 3, 4, 9, tzinfo=UTC)),  # naive = UTC
        ("2026-03-04T09:00:00.123+0000", datetime(2026, 3, 4, 9, 0, 0, 123000, tzinfo=UTC)),
        (1772614800, datetime(2026, 3, 4, 9, tzinfo=UTC)),
        (1772614800.5, datetime(2026, 3, 4, 9, 0, 0, 500000, tzinfo=UTC)),
        (1772614800000, datetime(2026, 3, 4, 9, tzinfo=UTC)),  # milliseconds
        ("1772614800", datetime(2026, 3, 4, 9, tzinfo=UTC)),
        (None, None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        True,
        "soon",
        -1,
        10**400,
        float("nan"),
        float("inf"),
        [1],
        "9" * 40,
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_parse_time_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


BAD: list[tuple[object, str]] = [
    ({"state": "firing"}, "summary: expression 'message' found nothing"),
    ({"message": ""}, "summary: expression 'message' found nothing"),
    ({"message": "m", "detected_at": "soon"}, "starts_at: invalid time 'soon'"),
    ({"message": "m", "detected_at": True}, "starts_at: expected an ISO 8601 time"),
    ({"message": "m", "model": {"name": 10**5000}}, "labels.model: cannot be shown as text"),
    ("just text", "summary: expression 'message' found nothing"),
    (None, "summary: expression 'message' found nothing"),
]


@pytest.mark.parametrize(("payload", "message"), BAD)
def test_bad_payloads_name_the_expression(
    sources: dict[str, GenericSource], payload: object, message: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        build_parser(sources["drift-job"])(payload)
    assert str(caught.value).startswith(message)


def test_errors_in_lists_name_the_item(sources: dict[str, GenericSource]) -> None:
    parse = build_parser(sources["dq-batch"])
    with pytest.raises(PayloadError, match=r"^alerts: expression 'failures' found nothing"):
        parse({})
    with pytest.raises(PayloadError, match=r"^alerts: expression 'failures' found a JSON object"):
        parse({"failures": {"a": 1}})
    with pytest.raises(PayloadError, match=r"^alerts\.1\.summary: expression"):
        parse({"failures": [{"name": "a"}, {"name": None}]})


def test_function_type_errors_become_payload_errors() -> None:
    parse = build_parser(GenericSource(name="x", summary="to_string(length(count))"))
    assert parse({"count": [1, 2]})[0].summary == "2"
    with pytest.raises(
        PayloadError, match=r"^summary: expression 'to_string\(length\(count\)\)' failed"
    ):
        parse({"count": 5})


def test_long_fingerprints_and_severities_fit_their_columns() -> None:
    source = GenericSource(name="x", summary="'s'", fingerprint="f", severity="v")
    (alert,) = build_parser(source)({"f": "k" * 300, "v": "s" * 100})
    assert len(alert.fingerprint) == 64
    assert alert.severity == "s" * 40


def test_parsing_leaves_the_payload_unchanged(sources: dict[str, GenericSource]) -> None:
    payload = copy.deepcopy(DRIFT)
    build_parser(sources["drift-job"])(payload)
    assert payload == DRIFT


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"summary": "a.["}, "summary"),
        ({"summary": "m", "labels": {"model": "model..name"}}, "labels.model"),
        ({"summary": "m", "alerts": "[?"}, "alerts"),
        ({"summary": ""}, "summary"),
        ({"summary": "m", "serverity": "x"}, "serverity"),
        ({"summary": "m", "name": "Bad Name"}, "name"),
        ({}, "summary"),
    ],
)
def test_invalid_config_raises_value_error_naming_the_field(
    settings: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError) as caught:
        GenericSource.model_validate({"name": "x", **settings})
    assert field in str(caught.value)


def test_invalid_expression_message_is_readable() -> None:
    with pytest.raises(ValueError, match=r"invalid JMESPath expression 'a\.\['"):
        GenericSource(name="x", summary="a.[")


def test_loader_reports_problems_and_keeps_good_sources(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "sources:\n"
        "  good: {summary: message}\n"
        "  bad-expr: {summary: 'a.['}\n"
        "  Bad Name: {summary: m}\n"
        "  typo: {summary: m, lables: {}}\n"
        "  named: {summary: m, name: other}\n"
        "  scalar: 5\n"
    )
    sources, problems = load_sources(path)

    assert list(sources) == ["good"]
    assert f"{path}: sources.bad-expr.summary: invalid JMESPath expression 'a.['" in problems[0]
    assert problems[1].startswith(f"{path}: sources.Bad Name: invalid source name")
    assert problems[2] == f"{path}: sources.typo.lables: Extra inputs are not permitted"
    assert problems[3] == f"{path}: sources.named.name: not allowed, the key above is the name"
    assert problems[4] == f"{path}: sources.scalar: expected a mapping of settings"
    assert len(problems) == 5


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sources: [1]", "sources: expected a mapping"),
        ("source: {}", "expected a mapping with the single key 'sources'"),
        ("- 1", "expected a mapping with the single key 'sources'"),
        ("sources: {a: [", "cannot read"),
    ],
)
def test_loader_file_problems(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    sources, problems = load_sources(path)
    assert sources == {}
    assert len(problems) == 1 and problems[0].startswith(f"{path}: ")
    assert problem in problems[0]


def test_loader_missing_and_empty_files(tmp_path: Path) -> None:
    sources, problems = load_sources(tmp_path / "absent.yaml")
    assert sources == {} and problems[0].startswith(f"{tmp_path / 'absent.yaml'}: cannot read")
    (tmp_path / "empty.yaml").write_text("")
    assert load_sources(tmp_path / "empty.yaml") == ({}, [])
    (tmp_path / "none.yaml").write_text("sources:\n")
    assert load_sources(tmp_path / "none.yaml") == ({}, [])


def test_with_generic_adds_sources_but_never_shadows_built_ins(
    sources: dict[str, GenericSource],
) -> None:
    clash = GenericSource(name="grafana", summary="m")
    registry, problems = with_generic({**sources, "grafana": clash})

    assert registry["grafana"] is PARSERS["grafana"]
    assert registry["drift-job"](DRIFT)[0].source == "drift-job"
    assert problems == ["sources.grafana: name is taken by the built-in 'grafana' parser"]
    assert "drift-job" not in PARSERS
