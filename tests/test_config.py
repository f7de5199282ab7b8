"""Loading playbooks and on-call rotations: what loads, what is reported, and routing."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.config import (
    BUILTIN_DEFAULT,
    Playbook,
    PlaybookSet,
    Problem,
    Role,
    lint,
    load_oncall,
    load_playbooks,
)
from bot.durations import Duration, format_duration, parse_duration

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PLAYBOOKS = ROOT / "playbooks"
EXAMPLE_ONCALL = ROOT / "oncall.example.yaml"

ROLE = """\
    name: ML engineer
    members: [U0123ABCD, U0456EFGH]
    start: 2026-01-05T09:00:00
    timezone: Europe/London
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def playbook(**fields: object) -> Playbook:
    return Playbook.model_validate({"id": "p", "title": "P", **fields})


# --- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("12h", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("90m", timedelta(minutes=90)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "1.5h", "-5m", "30m1h", "5mm", "1y"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration like 30s, 5m, 12h, 1d, 1w"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=8), "1w1d"),
        (timedelta(seconds=86401), "1d1s"),
        (timedelta(0), "0s"),
        (-timedelta(minutes=5), "-5m"),
    ],
)
def test_format_duration(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


@pytest.mark.parametrize("seconds", [1, 59, 61, 3600, 3661, 90061, 694861])
def test_format_then_parse_round_trips(seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    assert parse_duration(format_duration(duration)) == duration


def test_duration_type_accepts_text_and_seconds_and_dumps_text() -> None:
    adapter = TypeAdapter(Duration)
    assert adapter.validate_python("1h30m") == timedelta(minutes=90)
    assert adapter.validate_python(300) == timedelta(minutes=5)
    assert adapter.dump_python(timedelta(minutes=90)) == "1h30m"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("soon", "expected a duration like 30s, 5m, 12h, 1d, 1w"),
        (True, "expected a duration like"),
        (1.5, "expected a duration like"),
        ("0s", "longer than 0s"),
        (0, "longer than 0s"),
    ],
)
def test_duration_type_rejects(value: object, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TypeAdapter(Duration).validate_python(value)


# --- the shipped configuration ---------------------------------------------------------


def test_shipped_playbooks_load_without_problems() -> None:
    playbooks, problems = load_playbooks(SHIPPED_PLAYBOOKS)
    assert problems == []
    assert {"model-drift", "inference-latency", "gpu-node", "default"} <= {p.id for p in playbooks}
    assert playbooks.default.source_file == str(SHIPPED_PLAYBOOKS / "default.yaml")
    assert playbooks.default.page == ["aiops-specialist"]


def test_example_oncall_loads_without_problems() -> None:
    oncall, problems = load_oncall(EXAMPLE_ONCALL)
    assert problems == []
    names = {role_id: role.name for role_id, role in oncall.roles.items()}
    assert names == {
        "data-scientist": "Data scientist",
        "ml-engineer": "ML engineer",
        "aiops-specialist": "AIOps specialist",
    }
    assert all(2 <= len(role.members) <= 3 for role in oncall.roles.values())


def test_shipped_configuration_lints_clean() -> None:
    assert lint(SHIPPED_PLAYBOOKS, EXAMPLE_ONCALL) == []


def test_every_shipped_step_has_guidance_and_a_known_role() -> None:
    playbooks, _ = load_playbooks(SHIPPED_PLAYBOOKS)
    oncall, _ = load_oncall(EXAMPLE_ONCALL)
    for shipped in playbooks:
        assert shipped.steps, shipped.id
        for step in shipped.steps:
            assert len(step.details) > 80, (shipped.id, step.title)
            assert step.role is None or step.role in oncall.roles


def test_sample_alertmanager_alerts_route_to_model_drift(samples: Path) -> None:
    payload = json.loads((samples / "alertmanager-0.25-firing.json").read_text())
    playbooks, _ = load_playbooks(SHIPPED_PLAYBOOKS)
    routed = {playbooks.route(alert["labels"]).id for alert in payload["alerts"]}
    assert routed == {"model-drift"}
    assert playbooks.get("model-drift").group_by == ["alertname", "model"]


@pytest.mark.parametrize(
    ("labels", "playbook_id"),
    [
        ({"alertname": "DataDriftPSI", "severity": "warning"}, "model-drift"),
        ({"alertname": "ModelDriftHigh", "severity": "info"}, "default"),
        ({"alertname": "InferenceLatencyP99High", "service": "ranker"}, "inference-latency"),
        ({"alertname": "InferenceErrorRateHigh"}, "inference-errors"),
        ({"alertname": "GPUXidError", "node": "gpu-17"}, "gpu-node"),
        ({"alertname": "TrainingJobFailed"}, "training-job-failure"),
        ({"alertname": "NodeNotReady"}, "gpu-node"),
        ({"alertname": "NodeNotReadyForLong"}, "default"),
        ({"alertname": "DiskFull"}, "default"),
    ],
)
def test_shipped_routing(labels: dict[str, str], playbook_id: str) -> None:
    playbooks, _ = load_playbooks(SHIPPED_PLAYBOOKS)
    assert playbooks.route(labels).id == playbook_id


# --- playbook fields -------------------------------------------------------------------


def test_playbook_defaults() -> None:
    loaded = playbook()
    assert loaded.severity == "sev3"
    assert loaded.group_by == ["alertname"]
    assert loaded.match == [] and loaded.page == [] and loaded.steps == []
    assert loaded.ack_timeout is None and loaded.priority == 0 and loaded.source_file is None


def test_match_accepts_one_string_or_list_items_with_several_matchers() -> None:
    assert [str(m) for m in playbook(match='alertname=~"A.*"').match] == ['alertname=~"A.*"']
    combined = playbook(match=['{team="ml", env!=dev}', "severity=critical"])
    assert [str(m) for m in combined.match] == ['team="ml"', 'env!="dev"', 'severity="critical"']
    assert combined.specificity == 3


def test_playbook_matches_needs_every_matcher() -> None:
    drift = playbook(match=['alertname=~"ModelDrift.*"', 'severity!="info"'])
    assert drift.matches({"alertname": "ModelDriftHigh", "severity": "critical"})
    assert not drift.matches({"alertname": "ModelDriftHigh", "severity": "info"})
    assert not drift.matches({"alertname": "Other", "severity": "critical"})
    assert playbook().matches({})


def test_playbook_dumps_back_to_its_yaml_form() -> None:
    loaded = playbook(match="severity!=info", ack_timeout="90s")
    dumped = loaded.model_dump()
    assert dumped["match"] == ['severity!="info"']
    assert dumped["ack_timeout"] == "1m30s"
    assert "source_file" not in dumped
    assert Playbook.model_validate(dumped) == loaded


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"id": "Model Drift"}, "String should match pattern"),
        ({"severity": "critical"}, "expected sev1, sev2, sev3 or sev4, or a mapping"),
        ({"match": {"alertname": "X"}}, "expected a list of matcher strings"),
        ({"match": ["alertname~X"]}, "no operator"),
        ({"ack_timeout": "5 minutes"}, "expected a duration like 30s, 5m, 12h, 1d, 1w"),
        ({"steps": [{"role": "ml-engineer"}]}, "Field required"),
        ({"title": "  "}, "at least 1 character"),
    ],
)
def test_playbook_rejects(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        playbook(**fields)


def test_default_playbook_must_match_everything() -> None:
    with pytest.raises(ValidationError, match="its match must be empty"):
        Playbook(id="default", title="Default", match=["team=ml"])


# --- loading playbooks: problems -------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    path = write(folder, "broken.yaml", "id: broken\ntitle: Broken\nsteps:\n  - title: [unclosed\n")
    write(folder, "fine.yaml", "id: fine\ntitle: Fine\n")
    playbooks, problems = load_playbooks(folder)
    assert [p.id for p in playbooks.playbooks] == ["fine"]
    [problem] = problems
    assert problem.file == str(path)
    assert problem.line == 5
    assert problem.message.startswith("invalid YAML:")


def test_validation_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "drift.yaml",
        """\
        id: drift
        title: Drift
        page: [data-scientist]
        steps:
          - title: Look
            details: ok
          - title: Fix
            role: 7
        """,
    )
    _, problems = load_playbooks(tmp_path)
    [problem] = problems
    assert (problem.file, problem.line, problem.field) == (str(path), 8, "steps.1.role")
    assert str(problem) == f"{path}:8: steps.1.role: Input should be a valid string"


def test_unknown_field_is_named_with_a_suggestion_and_the_valid_fields(tmp_path: Path) -> None:
    write(tmp_path, "drift.yaml", "id: drift\ntitle: Drift\nserverity: sev2\n")
    _, problems = load_playbooks(tmp_path)
    [problem] = problems
    assert (problem.line, problem.field) == (3, "serverity")
    assert "unknown field 'serverity'" in problem.message
    assert "did you mean 'severity'?" in problem.message
    assert (
        "id, title, incident_title, match, severity, page, group_by, ack_timeout, steps, links"
        in (problem.message)
    )


def test_unknown_field_in_a_step_lists_the_step_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        "drift.yaml",
        "id: drift\ntitle: Drift\nsteps:\n  - title: Look\n    detials: here\n",
    )
    _, problems = load_playbooks(tmp_path)
    [problem] = problems
    assert (problem.line, problem.field) == (5, "steps.0.detials")
    assert "did you mean 'details'?" in problem.message
    assert problem.message.endswith("Valid fields: title, role, details, when, check")


def test_source_file_cannot_be_set_from_yaml(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\ntitle: A\nsource_file: /etc/passwd\n")
    playbooks, problems = load_playbooks(tmp_path)
    assert [p.field for p in problems] == ["source_file"]
    assert playbooks.get("a") is None


def test_missing_required_field_points_at_the_mapping(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "# comment\nid: a\n")
    _, problems = load_playbooks(tmp_path)
    assert [(p.line, p.field, p.message) for p in problems] == [(2, "title", "Field required")]


def test_bad_matcher_is_reported_at_the_match_key(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\ntitle: A\nmatch:\n  - 'severity!=info'\n  - 'team'\n")
    _, problems = load_playbooks(tmp_path)
    [problem] = problems
    assert (problem.line, problem.field) == (3, "match")
    assert "bad matcher 'team': no operator" in problem.message


def test_playbook_problems_of_other_shapes(tmp_path: Path) -> None:
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    write(tmp_path, "list.yaml", "- id: a\n")
    write(tmp_path, "two-docs.yaml", "id: a\ntitle: A\n---\nid: b\ntitle: B\n")
    playbooks, problems = load_playbooks(tmp_path)
    assert list(playbooks) == [BUILTIN_DEFAULT]
    by_file = {Path(p.file).name: p.message for p in problems}
    assert by_file["empty.yaml"] == "the file is empty"
    assert "valid dictionary" in by_file["list.yaml"]
    assert "expected a single document" in by_file["two-docs.yaml"]


def test_duplicate_id_keeps_the_first_file(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "id: drift\ntitle: First\n")
    second = write(tmp_path, "b.yml", "title: Second\nid: drift\n")
    playbooks, problems = load_playbooks(tmp_path)
    assert playbooks.get("drift").title == "First"
    [problem] = problems
    assert (problem.file, problem.line, problem.field) == (str(second), 2, "id")
    assert problem.message == f"duplicate id 'drift', also in {first}"


def test_only_yaml_files_are_read_and_readme_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "README.yaml", "not: a playbook\n")
    write(tmp_path, "notes.md", "# notes\n")
    write(tmp_path, ".draft.yaml", "broken: [\n")
    write(tmp_path, "a.yml", "id: a\ntitle: A\n")
    playbooks, problems = load_playbooks(tmp_path)
    assert problems == []
    assert [p.id for p in playbooks.playbooks] == ["a"]


def test_missing_folder_gives_a_problem_and_the_builtin_default(tmp_path: Path) -> None:
    playbooks, problems = load_playbooks(tmp_path / "nowhere")
    assert [p.file for p in problems] == [str(tmp_path / "nowhere")]
    assert playbooks.route({"alertname": "Anything"}) is BUILTIN_DEFAULT
    assert BUILTIN_DEFAULT.title == "Unrouted alert"
    assert BUILTIN_DEFAULT.page == ["aiops-specialist"]
    assert (BUILTIN_DEFAULT.severity, BUILTIN_DEFAULT.group_by) == ("sev3", ["alertname"])


def test_default_yaml_with_matchers_is_rejected_and_builtin_used(tmp_path: Path) -> None:
    write(tmp_path, "default.yaml", "id: default\ntitle: Mine\nmatch: ['team=ml']\n")
    playbooks, problems = load_playbooks(tmp_path)
    assert [(p.line, p.field) for p in problems] == [(3, "match")]
    assert playbooks.default is BUILTIN_DEFAULT


def test_folder_default_replaces_the_builtin(tmp_path: Path) -> None:
    write(tmp_path, "catchall.yaml", "id: default\ntitle: Ours\npage: [ml-engineer]\n")
    playbooks, _ = load_playbooks(tmp_path)
    assert playbooks.route({"alertname": "X"}).title == "Ours"
    assert playbooks.playbooks == []


# --- routing ---------------------------------------------------------------------------


def test_routing_order_priority_then_specificity_then_id() -> None:
    broad = playbook(id="broad", match=['team="ml"'])
    narrow = playbook(id="narrow", match=['team="ml"', 'severity="critical"'])
    urgent = playbook(id="urgent", match=['team="ml"'], priority=10)
    twin = playbook(id="a-twin", match=['team="ml"'])
    playbooks = PlaybookSet([broad, narrow, urgent, twin])
    assert [p.id for p in playbooks.playbooks] == ["urgent", "narrow", "a-twin", "broad"]
    assert playbooks.route({"team": "ml", "severity": "critical"}).id == "urgent"
    assert (
        PlaybookSet([broad, narrow, twin]).route({"team": "ml", "severity": "critical"}) is narrow
    )
    assert PlaybookSet([broad, narrow, twin]).route({"team": "ml"}) is twin
    assert PlaybookSet([broad, narrow, twin]).route({"team": "data"}) is BUILTIN_DEFAULT


def test_playbook_set_iterates_in_routing_order_with_default_last() -> None:
    low = playbook(id="low", match=["a=b"])
    high = playbook(id="high", match=["a=b"], priority=1)
    assert list(PlaybookSet([low, high])) == [high, low, BUILTIN_DEFAULT]
    assert PlaybookSet([low]).get("default") is BUILTIN_DEFAULT
    assert PlaybookSet([low]).get("nope") is None


# --- on-call ---------------------------------------------------------------------------


def oncall_file(folder: Path, roles: str) -> Path:
    """An on-call file; ``roles`` is the already indented body under ``roles:``."""
    path = folder / "oncall.yaml"
    path.write_text("roles:\n" + roles)
    return path


def test_role_defaults(tmp_path: Path) -> None:
    oncall, problems = load_oncall(oncall_file(tmp_path, "  ml-engineer:\n" + ROLE))
    assert problems == []
    role = oncall.roles["ml-engineer"]
    assert role.rotation == timedelta(weeks=1)
    assert role.ack_timeout == timedelta(minutes=5)
    assert role.start == datetime(2026, 1, 5, 9, 0)  # naive: wall time in role.timezone
    assert role.zone.key == "Europe/London"
    assert (role.lead, role.escalation) == (None, None)
    [layer] = role.layers  # the simple form is one layer named primary
    assert (layer.name, layer.members, layer.rotation, layer.start, layer.restrictions) == (
        "primary",
        ["U0123ABCD", "U0456EFGH"],
        timedelta(weeks=1),
        datetime(2026, 1, 5, 9, 0),
        [],
    )


def test_bad_role_is_skipped_and_the_others_kept(tmp_path: Path) -> None:
    scientist = (
        "  data-scientist:\n"
        "    name: Data scientist\n"
        "    members: [U0123ABCD]\n"
        "    start: 2026-01-05T09:00:00\n"
        "    timezone: Europe/Lodnon\n"
    )
    path = oncall_file(tmp_path, "  ml-engineer:\n" + ROLE + scientist)
    oncall, problems = load_oncall(path)
    assert list(oncall.roles) == ["ml-engineer"]
    [problem] = problems
    assert (problem.line, problem.field) == (11, "roles.data-scientist.timezone")
    assert (
        problem.message == "unknown time zone 'Europe/Lodnon'; use an IANA name like Europe/London"
    )


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ("members: []", "members", "at least 1 item"),
        ("members: [alice]", "members.0", "String should match pattern '^[UW][A-Z0-9]+$'"),
        ("members: [U0123ABCD, '@bob']", "members.1", "String should match pattern"),
        ("rotation: weekly", "rotation", "expected a duration like 30s, 5m, 12h, 1d, 1w"),
        ("ack_timeout: 0s", "ack_timeout", "longer than 0s"),
        ("start: soon", "start", "Input should be a valid datetime"),
        ("timezone: GMT+1", "timezone", "unknown time zone 'GMT+1'"),
        ("timezone: ../../etc/passwd", "timezone", "unknown time zone"),
        ("rotaton: 1d", "rotaton", "did you mean 'rotation'?"),
        ("rotation: 30m", "rotation", "a shift lasts from 1h to 8w, not 0:30:00"),
        ("rotation: 9w", "rotation", "a shift lasts from 1h to 8w"),
        ("lead: '@boss'", "lead", "String should match pattern"),
        ("layers: []", "layers", "at least 1 item"),
    ],
)
def test_role_problems(tmp_path: Path, line: str, field: str, says: str) -> None:
    # The override comes last; YAML keeps the last of a repeated key, as do the line marks.
    path = oncall_file(tmp_path, "  ml-engineer:\n" + ROLE + "    " + line + "\n")
    oncall, problems = load_oncall(path)
    assert oncall.roles == {}
    [problem] = problems
    assert (problem.line, problem.field) == (7, f"roles.ml-engineer.{field}")
    assert says in problem.message


def test_unknown_top_level_key_keeps_the_roles(tmp_path: Path) -> None:
    path = write(tmp_path, "oncall.yaml", "rolls: {}\nroles:\n  ml-engineer:\n" + ROLE)
    oncall, problems = load_oncall(path)
    assert list(oncall.roles) == ["ml-engineer"]
    assert [(p.line, p.field) for p in problems] == [(1, "rolls")]
    assert "did you mean 'roles'?" in problems[0].message


def test_roles_that_are_not_a_mapping(tmp_path: Path) -> None:
    oncall, problems = load_oncall(write(tmp_path, "oncall.yaml", "roles: [ml-engineer]\n"))
    assert oncall.roles == {}
    assert [(p.line, p.field) for p in problems] == [(1, "roles")]


def test_missing_oncall_file(tmp_path: Path) -> None:
    oncall, problems = load_oncall(tmp_path / "oncall.yaml")
    assert oncall.roles == {}
    [problem] = problems
    assert (
        problem.message
        == f"no on-call file at {tmp_path / 'oncall.yaml'}; copy oncall.example.yaml"
    )


def test_oncall_yaml_error(tmp_path: Path) -> None:
    oncall, problems = load_oncall(write(tmp_path, "oncall.yaml", "roles:\n  a: [\n"))
    assert oncall.roles == {}
    assert [p.line for p in problems] == [3]


def test_role_can_be_built_in_code_with_duration_text() -> None:
    role = Role.model_validate(
        {
            "name": "x",
            "members": ["W01"],
            "rotation": "12h",
            "start": "2026-01-05T09:00:00+01:00",
            "timezone": "UTC",
        }
    )
    assert role.rotation == timedelta(hours=12)
    assert role.start.utcoffset() == timedelta(hours=1)


LAYERED = """\
  ml-engineer:
    name: ML engineer
    timezone: Europe/London
    lead: ULEAD
    layers:
      - name: primary
        members: [UA, UB]
        rotation: 1d
        start: 2026-01-05T09:00:00
      - name: secondary
        members: [UX]
        start: 2026-01-05T09:00:00
        restrictions:
          - days: [mon, tue, wed, thu, fri]
            from: 09:00
            to: 17:30
          - days: [sat]
    escalation:
      levels:
        - notify: layer:primary
          wait: 5m
        - notify: next:primary
          wait: 5m
        - notify: lead
          wait: 10m
        - notify: usergroup:S0TEAM
          wait: 15m
        - notify: user:U0BOSS
          wait: 1h
        - notify: role:ml-engineer
          wait: 1h
      repeat: 2
"""


def layered_file(tmp_path: Path, replace: str = "", by: str = "") -> Path:
    return oncall_file(tmp_path, LAYERED.replace(replace, by) if replace else LAYERED)


def test_layered_role_loads(tmp_path: Path) -> None:
    oncall, problems = load_oncall(layered_file(tmp_path))
    assert problems == []
    role = oncall.roles["ml-engineer"]
    assert [layer.name for layer in role.layers] == ["primary", "secondary"]
    primary, secondary = role.layers
    # The simple fields mirror the first layer, for code written for one rotation.
    assert (role.members, role.rotation, role.start) == (
        primary.members,
        timedelta(days=1),
        datetime(2026, 1, 5, 9),
    )
    assert secondary.rotation == timedelta(weeks=1)
    office, saturday = secondary.restrictions
    # YAML reads the unquoted 17:30 as the number 1050: the same minutes after midnight.
    assert (office.from_, office.to) == (9 * 60, 17 * 60 + 30)
    assert (saturday.days, saturday.from_, saturday.to) == (["sat"], 0, 24 * 60)
    assert office.model_dump(by_alias=True) == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "from": "09:00",
        "to": "17:30",
    }
    assert role.lead == "ULEAD"
    assert role.escalation is not None and role.escalation.repeat == 2
    assert [(lv.kind, lv.target) for lv in role.escalation.levels] == [
        ("layer", "primary"),
        ("next", "primary"),
        ("lead", ""),
        ("usergroup", "S0TEAM"),
        ("user", "U0BOSS"),
        ("role", "ml-engineer"),
    ]
    assert role.layer("secondary") is secondary and role.layer("tertiary") is None


# (text in LAYERED, replaced by, line of the problem, field under roles.ml-engineer, message)
LAYERED_PROBLEMS = [
    ("    lead: ULEAD\n", "    lead: ULEAD\n    members: [UA]\n", 6, "members", "not both"),
    ("- name: secondary", "- name: primary", 11, "layers.1.name", "duplicate layer name"),
    ("- name: secondary", "- name: Second", 11, "layers.1.name", "pattern"),
    ("members: [UX]", "members: []", 12, "layers.1.members", "at least 1"),
    ("rotation: 1d", "rotation: 20m", 9, "layers.0.rotation", "from 1h to 8w, not 0:20:00"),
    ("days: [sat]", "days: [saturday]", 18, "layers.1.restrictions.1.days.0", "'sat'"),
    ("from: 09:00", "from: 9am", 16, "layers.1.restrictions.0.from", 'like "09:00"'),
    ("to: 17:30", "to: 17", 17, "layers.1.restrictions.0.to", "in quotes"),
    ("to: 17:30", "to: '24:01'", 17, "layers.1.restrictions.0.to", "00:00 to 24:00"),
    ("from: 09:00", "from: '24:00'", 16, "layers.1.restrictions.0.from", "23:59 at the latest"),
    ("to: 17:30", "to: '09:00'", 17, "layers.1.restrictions.0.to", "09:00 to 09:00 is empty"),
    ("from: 09:00", "form: 09:00", 16, "layers.1.restrictions.0.form", "did you mean 'from'?"),
    (
        "notify: layer:primary",
        "notify: layer:tertiary",
        21,
        "escalation.levels.0.notify",
        "no layer named 'tertiary' in this role (layers: primary, secondary)",
    ),
    ("notify: next:primary", "notify: next:3", 23, "escalation.levels.1.notify", "named '3'"),
    ("    lead: ULEAD\n", "", 24, "escalation.levels.2.notify", "the role has no `lead`"),
    (
        "notify: user:U0BOSS",
        "notify: pager:U0BOSS",
        29,
        "escalation.levels.4.notify",
        "cannot notify 'pager:U0BOSS'; expected layer:<name>, next:<name>, lead, user:<U…>, "
        "usergroup:<S…> (a Slack user group) or role:<role id>",
    ),
    ("usergroup:S0TEAM", "usergroup:team", 27, "escalation.levels.3.notify", "cannot notify"),
    ("wait: 10m", "wait: soon", 26, "escalation.levels.2.wait", "expected a duration"),
    ("repeat: 2", "repeat: 11", 33, "escalation.repeat", "less than or equal to 10"),
    ("repeat: 2", "repeat: 0", 33, "escalation.repeat", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("replace", "by", "line", "field", "says"), LAYERED_PROBLEMS)
def test_layered_role_problems(
    tmp_path: Path, replace: str, by: str, line: int, field: str, says: str
) -> None:
    oncall, problems = load_oncall(layered_file(tmp_path, replace, by))
    assert oncall.roles == {}
    [problem] = problems
    assert (problem.line, problem.field) == (line, f"roles.ml-engineer.{field}")
    assert says in problem.message


def test_role_with_neither_form_names_both_missing_fields(tmp_path: Path) -> None:
    path = oncall_file(tmp_path, "  ml-engineer:\n    name: ML\n    timezone: UTC\n")
    oncall, problems = load_oncall(path)
    assert oncall.roles == {}
    assert [(p.line, p.field) for p in problems] == [
        (2, "roles.ml-engineer.members"),
        (2, "roles.ml-engineer.start"),
    ]
    assert problems[0].message == (
        "Field required: a role needs members and start (one rotation), or layers"
    )


def test_role_built_in_code_reports_its_first_inconsistency() -> None:
    with pytest.raises(ValidationError, match="members: give either members, rotation, start"):
        Role.model_validate(
            {
                "name": "x",
                "timezone": "UTC",
                "members": ["UA"],
                "layers": [{"name": "primary", "members": ["UA"], "start": "2026-01-05T09:00"}],
            }
        )


OVERLAPPING = """\
          - days: [tue]
            from: "12:00"
            to: "20:00"
          - days: [sun]
            from: "22:00"
            to: "10:00"
          - days: [wed, wed]
"""


def test_overlapping_windows_and_unknown_roles_are_errors_but_the_role_is_kept(
    tmp_path: Path,
) -> None:
    text = LAYERED.replace("          - days: [sat]\n", OVERLAPPING)
    text = text.replace("role:ml-engineer", "role:ml-enginer")
    oncall, problems = load_oncall(oncall_file(tmp_path, text))
    assert list(oncall.roles) == ["ml-engineer"]  # the meaning is clear: windows merge
    prefix = "roles.ml-engineer."
    assert [(p.level, p.line, p.field.removeprefix(prefix), p.message) for p in problems] == [
        (
            "error",
            18,
            "layers.1.restrictions.1",
            "the tue window (tue 12:00-20:00) overlaps the tue window of restrictions.0 "
            "(mon,tue,wed,thu,fri 09:00-17:30)",
        ),
        (
            "error",
            21,
            "layers.1.restrictions.2",
            "the sun window (sun 22:00-10:00) overlaps the mon window of restrictions.0 "
            "(mon,tue,wed,thu,fri 09:00-17:30)",
        ),
        (
            "error",
            24,
            "layers.1.restrictions.3",
            "the wed window (wed,wed 00:00-24:00) overlaps the wed window of restrictions.0 "
            "(mon,tue,wed,thu,fri 09:00-17:30)",
        ),
        ("error", 24, "layers.1.restrictions.3", "wed is listed twice"),
        (
            "error",
            37,
            "escalation.levels.5.notify",
            "no role 'ml-enginer' in the on-call file (defined: ml-engineer)",
        ),
    ]


def test_a_role_may_escalate_to_a_role_that_failed_to_load(tmp_path: Path) -> None:
    # The broken role has its own error; on reload the bot keeps its last good version.
    broken = "  data-scientist:\n    name: DS\n    timezone: Mars/Olympus\n"
    text = LAYERED.replace("role:ml-engineer", "role:data-scientist") + broken
    _, problems = load_oncall(oncall_file(tmp_path, text))
    assert [p.field for p in problems] == ["roles.data-scientist.timezone"]


# --- lint ------------------------------------------------------------------------------


def test_lint_warns_about_roles_without_rotation(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    path = write(
        folder,
        "drift.yaml",
        """\
        id: drift
        title: Drift
        page: [ml-engineer, data-scientist]
        steps:
          - title: Look
            role: sre
          - title: Anyone
        """,
    )
    write(folder, "default.yaml", "id: default\ntitle: Default\npage: [ml-engineer]\n")
    oncall = oncall_file(tmp_path, "  ml-engineer:\n" + ROLE)
    problems = lint(folder, oncall)
    assert [(p.level, p.line, p.field) for p in problems] == [
        ("warning", 3, "page.1"),
        ("warning", 6, "steps.0.role"),
    ]
    assert str(problems[0]) == (
        f"{path}:3: warning: page.1: role 'data-scientist' is not in the on-call file "
        "(defined: ml-engineer)"
    )


def test_lint_checks_the_builtin_default_when_the_folder_has_none(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write(folder, "a.yaml", "id: a\ntitle: A\npage: [ml-engineer]\n")
    problems = lint(folder, oncall_file(tmp_path, "  ml-engineer:\n" + ROLE))
    [problem] = problems
    assert (problem.file, problem.level) == (str(folder), "warning")
    assert "built-in default playbook pages 'aiops-specialist'" in problem.message


def test_lint_reports_errors_from_both_files(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write(folder, "default.yaml", "id: default\ntitle: D\nseverity: high\n")
    oncall = oncall_file(tmp_path, "  ml-engineer:\n" + ROLE + "    timezone: Mars/Olympus\n")
    problems = lint(folder, oncall)
    assert [(Path(p.file).name, p.field, p.level) for p in problems] == [
        ("default.yaml", "severity", "error"),
        ("oncall.yaml", "roles.ml-engineer.timezone", "error"),
        ("playbooks", "", "warning"),  # the built-in default's aiops-specialist
    ]


def test_lint_without_oncall_file_reports_just_that(tmp_path: Path) -> None:
    problems = lint(SHIPPED_PLAYBOOKS, tmp_path / "oncall.yaml")
    assert [(p.level, p.message) for p in problems] == [
        ("warning", f"no on-call file at {tmp_path / 'oncall.yaml'}; copy oncall.example.yaml")
    ]


def test_lint_warns_about_roles_nobody_pages(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write(folder, "default.yaml", "id: default\ntitle: Default\npage: [ml-engineer]\n")
    escalating = LAYERED.replace("role:ml-engineer", "role:data-scientist")
    roles = escalating + "  data-scientist:\n" + ROLE + "  sre:\n" + ROLE
    path = oncall_file(tmp_path, roles)
    problems = lint(folder, path)
    # data-scientist is reached through ml-engineer's escalation; sre by nothing at all.
    assert [(p.level, p.line, p.field) for p in problems] == [("warning", 39, "roles.sre")]
    assert str(problems[0]) == (
        f"{path}:39: warning: roles.sre: no playbook pages this role and no other role "
        "escalates to it, so nobody is ever paged for it"
    )


def test_lint_reports_the_oncall_cross_checks(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write(folder, "default.yaml", "id: default\ntitle: Default\npage: [ml-engineer]\n")
    path = layered_file(tmp_path, "role:ml-engineer", "role:nobody")
    assert [(p.level, p.field) for p in lint(folder, path)] == [
        ("error", "roles.ml-engineer.escalation.levels.5.notify")
    ]


def test_problem_str_without_line_or_field() -> None:
    assert (
        str(Problem("playbooks", None, "", "no playbook folder")) == "playbooks: no playbook folder"
    )
