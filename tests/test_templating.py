"""Templates over alert labels: what they may do, and what a hostile label cannot."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from bot.templating import TemplateError, TemplateStr, compile_template, render

LABELS = {"alertname": "ModelDrift", "model": "fraud", "env": "prod"}


def test_renders_labels_and_annotations() -> None:
    out = render(
        "{{ labels.alertname }} on {{ labels['model'] }}: {{ annotations.summary }}",
        LABELS,
        {"summary": "PSI 0.4"},
    )
    assert out == "ModelDrift on fraud: PSI 0.4"


def test_a_missing_label_renders_empty() -> None:
    """Alerts differ in which labels they carry; a title must still render."""
    out = render("[{{ labels.region }}|{{ labels.region.zone }}|{{ annotations.x }}]", LABELS)
    assert out == "[||]"


def test_missing_labels_work_with_default_and_if() -> None:
    source = "{{ labels.region | default('global') }}{% if labels.region %}!{% endif %}"
    assert render(source, LABELS) == "global"
    assert render(source, {"region": "eu"}) == "eu!"


def test_filters_and_conditions() -> None:
    source = "{% if labels.env == 'prod' %}{{ labels.model | upper }}{% else %}-{% endif %}"
    assert render(source, LABELS) == "FRAUD"
    assert render(source, {"env": "dev"}) == "-"


def test_a_label_named_like_a_dict_method_is_the_label() -> None:
    assert render("{{ labels.items }}/{{ labels.keys }}", {"items": "3"}) == "3/"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ label.model }}", "unknown name 'label'"),
        ("{{ range }}", "unknown name 'range'"),
        ("{{ self }}", "unknown name 'self'"),
        ("{{ labels.model ", "line 1"),
        ("ok\n{% if labels.model %}", "line 2"),
        ("{% for x in labels %}{% endfor %}", "'for' is not supported"),
        ("{% set x = 1 %}", "not supported"),
        ("{% macro m() %}{% endmacro %}", "not supported"),
        ("{% include 'other' %}", "not supported"),
        ("{{ labels.model.upper() }}", "calls are not allowed"),
        ("{{ labels.model | center(99999999) }}", "no filter named 'center'"),
        ("{% if labels.model | nope %}{% endif %}", "no filter named 'nope'"),
    ],
)
def test_mistakes_are_caught_when_the_config_loads(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        compile_template(source)


def test_template_error_is_a_value_error() -> None:
    """So pydantic validators and config loaders can treat it like any bad value."""
    assert issubclass(TemplateError, ValueError)


@pytest.mark.parametrize(
    "source",
    [
        "{{ labels.__class__.__mro__ }}",
        "{{ labels.__class__ }}",
        "{{ labels.model.__class__.__base__.__subclasses__ }}",
        "{{ labels['__class__'] }}",
        "{{ labels[labels.key] }}",
        "{{ ''.__class__ }}",
        "{{ labels | attr('__class__') }}",
        "{{ labels.model.format }}",
        "{{ labels.items }}",
    ],
)
def test_the_sandbox_never_reaches_python_internals(source: str) -> None:
    labels = {"model": "fraud", "key": "__class__"}
    try:
        out = render(source, labels)
    except TemplateError:
        return
    assert out == ""  # an undefined value, never a class, method or object repr


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 99999999 }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ labels.model | replace('f', 'x' * 90000) | replace('x', 'xx') }}",
    ],
)
def test_a_template_cannot_build_huge_values(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, LABELS)


def test_output_is_cut_at_the_limit() -> None:
    assert render("{{ labels.model }}" * 1000, LABELS, limit=12) == "fraudfraudfr"
    assert len(render("{{ labels.long }}", {"long": "y" * 5000})) == 2000


def test_a_rendering_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="cannot render"):
        render("{{ labels.missing + 1 }}", LABELS)


def test_url_mode_keeps_a_hostile_label_inside_one_path_segment() -> None:
    hostile = "x/../../admin?y=1#"
    out = render("http://svc:8080/models/{{ labels.model }}/health", {"model": hostile}, url=True)
    parts = urlsplit(out)
    assert (parts.hostname, parts.port) == ("svc", 8080)
    assert parts.query == "" and parts.fragment == ""
    segments = parts.path.split("/")
    assert segments[:2] == ["", "models"] and segments[3:] == ["health"]
    assert unquote(segments[2]) == hostile


@pytest.mark.parametrize("hostile", ["@evil.example", "//evil.example/", ":1/x", "a b&c=d"])
def test_url_mode_never_moves_the_host(hostile: str) -> None:
    out = render("https://svc/q?model={{ labels.model }}&x=1", {"model": hostile}, url=True)
    parts = urlsplit(out)
    assert parts.hostname == "svc" and parts.path == "/q"
    assert parts.query.endswith("&x=1") and parts.query.count("&") == 1


def test_url_mode_quotes_values_not_the_template_text() -> None:
    out = render("http://svc/a/b?x={{ 'c/d' }}", {}, url=True)
    assert out == "http://svc/a/b?x=c%2Fd"
    assert render("{{ labels.v }}", {"v": "a/b c"}) == "a/b c"  # plain mode leaves it


def test_a_custom_escape_applies_to_each_value() -> None:
    out = render('up{job="{{ labels.job }}"}', {"job": 'a"b'}, escape=lambda v: v.upper())
    assert out == 'up{job="A"B"}'


def test_a_compiled_template_is_reused() -> None:
    template = compile_template("{{ labels.model }}")
    assert compile_template("{{ labels.model }}") is template
    assert render(template, LABELS) == "fraud"


class _Model(BaseModel):
    title: TemplateStr


def test_template_str_validates_in_config_models() -> None:
    assert _Model(title="Drift on {{ labels.model }}").title == "Drift on {{ labels.model }}"
    with pytest.raises(ValidationError, match=r"invalid template: .*unknown name 'lables'"):
        _Model(title="{{ lables.model }}")
