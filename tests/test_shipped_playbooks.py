"""The playbooks that ship in playbooks/: they load, lint clean, route as intended, and
every template renders against the labels each playbook says it expects."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from bot.checks import HttpCheck, PrometheusCheck, escape_promql
from bot.config import Playbook, PlaybookSet, lint, load_oncall, load_playbooks
from bot.templating import render

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
ONCALL = ROOT / "oncall.example.yaml"
ROLES = {"data-scientist", "ml-engineer", "aiops-specialist"}


@pytest.fixture(scope="module")
def shipped() -> PlaybookSet:
    playbooks, problems = load_playbooks(PLAYBOOKS)
    assert problems == []
    return playbooks


def playbook_ids() -> list[str]:
    playbooks, _ = load_playbooks(PLAYBOOKS)
    return [p.id for p in playbooks]


# --- loading and linting -----------------------------------------------------------------


def test_the_shipped_playbooks_load_without_problems(shipped: PlaybookSet) -> None:
    ids = {p.id for p in shipped}
    assert len(ids) >= 11
    assert {
        "default",
        "model-drift",
        "data-quality",
        "feature-store-staleness",
        "inference-latency",
        "inference-errors",
        "bad-model-release",
        "training-job-failure",
        "gpu-node",
        "llm-safety",
        "inference-cost-anomaly",
    } <= ids
    assert shipped.default.source_file == str(PLAYBOOKS / "default.yaml")
    assert shipped.default.page == ["aiops-specialist"]


def test_each_playbook_lives_in_the_file_named_after_its_id(shipped: PlaybookSet) -> None:
    for playbook in shipped:
        assert playbook.source_file == str(PLAYBOOKS / f"{playbook.id}.yaml")


def test_the_shipped_playbooks_lint_without_errors_or_warnings() -> None:
    assert lint(PLAYBOOKS, ONCALL) == []


def test_every_playbook_pages_only_roles_in_the_example_oncall_file(
    shipped: PlaybookSet,
) -> None:
    oncall, problems = load_oncall(ONCALL)
    assert problems == [] and set(oncall.roles) == ROLES
    for playbook in shipped:
        assert playbook.page, playbook.id
        assert set(playbook.page) <= set(oncall.roles), playbook.id
        assert {step.role for step in playbook.steps} <= set(oncall.roles), playbook.id


# --- routing -----------------------------------------------------------------------------

ROUTES: list[tuple[dict[str, str], str]] = [
    # model-drift: the sample Alertmanager alert, and input drift per feature
    ({"alertname": "ModelDriftHigh", "model": "recsys-v3", "severity": "critical"}, "model-drift"),
    (
        {
            "alertname": "DataDriftPSI",
            "model": "fraud-v2",
            "feature": "amount",
            "severity": "warning",
        },
        "model-drift",
    ),
    ({"alertname": "ModelDriftHigh", "model": "recsys-v3", "severity": "info"}, "default"),
    # data-quality
    (
        {
            "alertname": "DataQualityCheckFailed",
            "pipeline": "user_features_daily",
            "dataset": "features.user_daily",
            "check": "expect_column_values_to_not_be_null",
            "severity": "critical",
        },
        "data-quality",
    ),
    ({"alertname": "FeatureSchemaMismatch", "pipeline": "txn_features"}, "data-quality"),
    (
        {"alertname": "FeatureNullRateHigh", "dataset": "features.txn", "column": "mcc"},
        "data-quality",
    ),
    # feature-store-staleness
    (
        {"alertname": "FeatureViewStale", "project": "fraud", "feature_view": "user_embeddings"},
        "feature-store-staleness",
    ),
    (
        {"alertname": "FeatureStoreMaterializationFailed", "project": "fraud"},
        "feature-store-staleness",
    ),
    # inference-latency and inference-errors: the word after the prefix decides
    (
        {"alertname": "InferenceLatencyP99High", "service": "ranker", "namespace": "serving"},
        "inference-latency",
    ),
    (
        {"alertname": "LLMTimeToFirstTokenHigh", "service": "chat-api", "model_kind": "llm"},
        "inference-latency",
    ),
    ({"alertname": "InferenceLatencyErrorBudgetBurn", "service": "ranker"}, "inference-latency"),
    ({"alertname": "InferenceErrorRateHigh", "service": "ranker"}, "inference-errors"),
    (
        {"alertname": "LLMProviderErrorRate", "service": "chat-api", "provider": "openai"},
        "inference-errors",
    ),
    # bad-model-release: canary alerts about a model; the same alert without one is not ours
    (
        {"alertname": "ModelCanaryFailed", "model": "fraud-v2", "model_version": "7"},
        "bad-model-release",
    ),
    ({"alertname": "RolloutDegraded", "model": "ranker", "rollout": "ranker"}, "bad-model-release"),
    ({"alertname": "RolloutDegraded", "rollout": "checkout-web"}, "default"),
    # training-job-failure
    (
        {"alertname": "TrainingJobFailed", "job_name": "llama-ft-42", "namespace": "training"},
        "training-job-failure",
    ),
    ({"alertname": "PyTorchJobRestarting", "job_name": "bert-pretrain"}, "training-job-failure"),
    ({"alertname": "TrainingLossNaN", "job_name": "bert-pretrain"}, "training-job-failure"),
    ({"alertname": "NCCLTimeout", "job_name": "llama-ft-42"}, "training-job-failure"),
    # gpu-node: DCGM exporter and kube-state-metrics alerts
    ({"alertname": "GPUXidError", "node": "gpu-17", "cluster": "us-east"}, "gpu-node"),
    ({"alertname": "DCGMDoubleBitECCError", "node": "gpu-17"}, "gpu-node"),
    ({"alertname": "KubeNodeNotReady", "node": "gpu-a100-03", "severity": "warning"}, "gpu-node"),
    ({"alertname": "GPUMemoryOOM", "node": "gpu-17", "gpu": "3"}, "gpu-node"),
    # llm-safety
    (
        {"alertname": "LLMHallucinationRateHigh", "service": "support-bot", "model": "gpt-4o"},
        "llm-safety",
    ),
    ({"alertname": "JailbreakAttemptsSpike", "service": "support-bot"}, "llm-safety"),
    (
        {"alertname": "LLMPIIDetected", "service": "support-bot", "severity": "critical"},
        "llm-safety",
    ),
    # inference-cost-anomaly, including the GPU cost alert it takes from gpu-node by priority
    ({"alertname": "LLMTokenUsageAnomaly", "service": "support-bot"}, "inference-cost-anomaly"),
    ({"alertname": "InferenceCostSpike", "service": "ranker"}, "inference-cost-anomaly"),
    ({"alertname": "GPUCostAnomaly", "cluster": "us-east"}, "inference-cost-anomaly"),
    # not AI alerts, or too generic to claim: the default
    ({"alertname": "HighErrorRate", "service": "checkout-api", "severity": "critical"}, "default"),
    ({"alertname": "KubeJobFailed", "job_name": "nightly-etl"}, "default"),
    ({"alertname": "NodeNotReadyForLong"}, "default"),
    ({"alertname": "DiskFull"}, "default"),
]
ROUTE_IDS = [f"{labels['alertname']}->{playbook_id}" for labels, playbook_id in ROUTES]


@pytest.mark.parametrize(("labels", "playbook_id"), ROUTES, ids=ROUTE_IDS)
def test_realistic_alerts_route_to_the_intended_playbook(
    shipped: PlaybookSet, labels: dict[str, str], playbook_id: str
) -> None:
    assert shipped.route(labels).id == playbook_id


@pytest.mark.parametrize(("labels", "playbook_id"), ROUTES, ids=ROUTE_IDS)
def test_an_overlap_is_settled_by_priority_never_by_accident(
    shipped: PlaybookSet, labels: dict[str, str], playbook_id: str
) -> None:
    """Two playbooks may match one alert only on purpose: the winner has a higher priority.

    Otherwise the number of matchers or the id would decide, and adding a matcher to one
    playbook would silently move alerts between them.
    """
    matching = [p for p in shipped.playbooks if p.matches(labels)]
    for loser in matching[1:]:
        assert matching[0].priority > loser.priority, (labels, [p.id for p in matching])


def test_every_playbook_has_an_alert_in_the_routing_table(shipped: PlaybookSet) -> None:
    assert {p.id for p in shipped} == {playbook_id for _, playbook_id in ROUTES}


# --- templates, conditions and checks ----------------------------------------------------


def expected_labels(playbook: Playbook) -> set[str]:
    """The labels named in backticks in the file's ``# Labels:`` header, plus alertname."""
    text = Path(playbook.source_file or "").read_text()
    block = re.search(r"^# Labels:.*(?:\n#   .*)*", text, re.MULTILINE)
    assert block, f"{playbook.id}: no '# Labels:' line in the header comment"
    return {"alertname", *re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", block.group())}


def templates(playbook: Playbook) -> list[tuple[str, str, dict[str, object]]]:
    """(where, source, render options) for every template in the playbook."""
    found: list[tuple[str, str, dict[str, object]]] = []
    if playbook.incident_title:
        found.append(("incident_title", playbook.incident_title, {}))
    for link in playbook.links:
        found.append((f"link {link.title!r}", link.url, {"url": True}))
    for step in playbook.steps:
        if isinstance(step.check, HttpCheck):
            found.append((f"check of {step.title!r}", step.check.url, {"url": True}))
        elif isinstance(step.check, PrometheusCheck):
            found.append((f"check of {step.title!r}", step.check.query, {"escape": escape_promql}))
    return found


def labels_used(source: str) -> set[str]:
    names: set[str] = set()
    for node in jinja2.Environment().parse(source).find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "labels":
            key = node.attr if isinstance(node, nodes.Getattr) else node.arg
            names.add(key if isinstance(key, str) else key.value)  # type: ignore[union-attr]
    return names


@pytest.mark.parametrize("playbook_id", playbook_ids())
def test_templates_and_conditions_use_only_the_labels_the_header_promises(
    shipped: PlaybookSet, playbook_id: str
) -> None:
    playbook = shipped.get(playbook_id)
    assert playbook is not None
    expected = expected_labels(playbook)
    for where, source, _ in templates(playbook):
        assert labels_used(source) <= expected, (playbook_id, where)
    for step in playbook.steps:
        assert {m.name for m in step.when} <= expected, (playbook_id, step.title)


@pytest.mark.parametrize("playbook_id", playbook_ids())
def test_every_template_renders_with_the_expected_labels(
    shipped: PlaybookSet, playbook_id: str
) -> None:
    playbook = shipped.get(playbook_id)
    assert playbook is not None
    labels = {name: f"{name}-1" for name in expected_labels(playbook)}
    for where, source, options in templates(playbook):
        text = render(source, labels, **options)  # type: ignore[arg-type]
        assert text.strip(), (playbook_id, where)
        assert '=""' not in text, (playbook_id, where, text)  # a label that rendered empty
        if options.get("url"):
            assert re.match(r"^https://[a-z0-9.-]+\.example/", text), (playbook_id, where, text)
    for step in playbook.steps:
        # A condition is not rendered but evaluated against the alert's labels.
        assert all(isinstance(m.matches(labels), bool) for m in step.when), step.title


def test_conditional_steps_show_only_for_the_alerts_they_are_for(shipped: PlaybookSet) -> None:
    def titles(playbook_id: str, labels: dict[str, str]) -> list[str]:
        playbook = shipped.get(playbook_id)
        assert playbook is not None
        return [s.title for s in playbook.steps if all(m.matches(labels) for m in s.when)]

    llm_step = "Check the LLM server's queue, KV cache and prompt lengths"
    assert llm_step in titles("inference-latency", {"model_kind": "llm"})
    assert llm_step not in titles("inference-latency", {"model_kind": "tabular"})
    nvidia, amd = "Read the GPU's own diagnosis (NVIDIA)", "Read the GPU's own diagnosis (AMD)"
    unlabelled = titles("gpu-node", {"alertname": "GPUXidError"})
    assert nvidia in unlabelled and amd not in unlabelled  # no gpu_vendor label: NVIDIA
    on_amd = titles("gpu-node", {"alertname": "GPUXidError", "gpu_vendor": "amd"})
    assert amd in on_amd and nvidia not in on_amd
    assert "Find who ran out of memory" in titles("gpu-node", {"alertname": "GPUMemoryOOM"})
    assert "Find who ran out of memory" not in unlabelled


# --- the shape a responder relies on -----------------------------------------------------


@pytest.mark.parametrize("playbook_id", playbook_ids())
def test_every_playbook_has_ordered_concrete_steps(shipped: PlaybookSet, playbook_id: str) -> None:
    playbook = shipped.get(playbook_id)
    assert playbook is not None
    assert 4 <= len(playbook.steps) <= 7
    for step in playbook.steps:
        assert step.role in ROLES, step.title
        assert len(step.details) > 80, step.title
    if playbook_id == "default":
        return
    assert playbook.links, playbook_id
    assert playbook.ack_timeout is not None, playbook_id


def test_most_playbooks_carry_automated_checks(shipped: PlaybookSet) -> None:
    with_checks = [p.id for p in shipped if any(s.check for s in p.steps)]
    assert len(with_checks) >= 6, with_checks
    for playbook in shipped:
        for step in playbook.steps:
            if step.check is not None:
                # Secrets come from the environment, never from the YAML.
                assert all(v.isupper() for v in step.check.secret_headers.values())
