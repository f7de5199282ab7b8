"""Alertmanager matcher syntax and semantics, as playbooks rely on them."""

from __future__ import annotations

import pytest

from bot.matchers import Matcher, MatcherError, MatchOp, parse_matcher, parse_matchers

DRIFT = {"alertname": "ModelDriftHigh", "model": "recsys-v3", "severity": "critical"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', DRIFT, True),
        ('severity="warning"', DRIFT, False),
        ('severity!="info"', DRIFT, True),
        ('severity!="critical"', DRIFT, False),
        ('alertname=~"ModelDrift.*"', DRIFT, True),
        ('alertname=~"DataDrift.*"', DRIFT, False),
        ('model!~"recsys-.*"', DRIFT, False),
        ('model!~"ranker-.*"', DRIFT, True),
    ],
)
def test_each_operator(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('alertname=~"Drift"', "ModelDriftHigh", False),  # no substring search
        ('alertname=~"Model"', "ModelDriftHigh", False),
        ('alertname=~"Model.*|Data.*"', "DataDriftLow", True),  # anchors wrap the alternation
        ('alertname=~"a|b"', "ab", False),
        ('alertname=~"x"', "x\n", False),  # Python's "$" would accept a trailing newline
        ('alertname!~"Model"', "ModelDriftHigh", True),
    ],
)
def test_regexes_are_anchored_at_both_ends(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches({"alertname": value}) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('team=""', True),  # an absent label is the empty string
        ('team!=""', False),  # so this requires the label to be present
        ('team=~".*"', True),
        ('team=~".+"', False),
        ('team!~".+"', True),
        ('team="ml"', False),
        ('team!="ml"', True),
    ],
)
def test_absent_label_is_the_empty_string(text: str, expected: bool) -> None:
    assert parse_matcher(text).matches(DRIFT) is expected


def test_present_label_against_empty_value() -> None:
    assert parse_matcher('team!=""').matches({"team": "ml"})
    assert not parse_matcher('team=""').matches({"team": "ml"})


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ("severity!=info", "severity", MatchOp.NOT_EQUAL, "info"),
        ("  severity  =  critical  ", "severity", MatchOp.EQUAL, "critical"),
        ("alertname=~GPU.*", "alertname", MatchOp.REGEX, "GPU.*"),
        ('a="x!=y"', "a", MatchOp.EQUAL, "x!=y"),  # operators inside the value are text
        ('a=~"=~"', "a", MatchOp.REGEX, "=~"),
        ('a=" padded "', "a", MatchOp.EQUAL, " padded "),
        ('a=""', "a", MatchOp.EQUAL, ""),
        ("a=", "a", MatchOp.EQUAL, ""),
        ("__name__:x=1", "__name__:x", MatchOp.EQUAL, "1"),
    ],
)
def test_parse_forms(text: str, name: str, op: MatchOp, value: str) -> None:
    assert parse_matcher(text) == Matcher(name, op, value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'a="say \"hi\""', 'say "hi"'),
        (r'a="back\\slash"', "back\\slash"),
        (r'a="two\nlines"', "two\nlines"),
        (r'a=~"\d+\.\d+"', r"\d+\.\d+"),  # other escapes are kept, so regexes need no doubling
        (r'a="trailing\\"', "trailing\\"),
    ],
)
def test_escapes_in_quoted_values(text: str, value: str) -> None:
    assert parse_matcher(text).value == value


def test_regex_with_kept_escape_matches() -> None:
    matcher = parse_matcher(r'version=~"v\d+\.\d+"')
    assert matcher.matches({"version": "v3.12"})
    assert not matcher.matches({"version": "v3x12"})


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("a", MatchOp.EQUAL, "b"), 'a="b"'),
        (Matcher("a", MatchOp.NOT_EQUAL, "b"), 'a!="b"'),
        (Matcher("a", MatchOp.REGEX, "b.*"), 'a=~"b.*"'),
        (Matcher("a", MatchOp.NOT_REGEX, "b"), 'a!~"b"'),
        (Matcher("a", MatchOp.EQUAL, 'q"b\\c\nd'), r'a="q\"b\\c\nd"'),
    ],
)
def test_canonical_form_round_trips(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text
    assert parse_matcher(text) == matcher


def test_unquoted_value_prints_quoted() -> None:
    assert str(parse_matcher("severity!=info")) == 'severity!="info"'


def test_op_given_as_plain_string_is_normalised() -> None:
    matcher = Matcher("a", "=~", "x|y")  # type: ignore[arg-type]
    assert matcher.op is MatchOp.REGEX
    assert matcher.matches({"a": "y"})


def test_parse_matchers_brace_list() -> None:
    assert parse_matchers('{alertname=~"Model.*", severity!="info", team=ml}') == [
        Matcher("alertname", MatchOp.REGEX, "Model.*"),
        Matcher("severity", MatchOp.NOT_EQUAL, "info"),
        Matcher("team", MatchOp.EQUAL, "ml"),
    ]


def test_parse_matchers_without_braces_and_with_trailing_comma() -> None:
    assert parse_matchers("a=b, c!=d,") == [
        Matcher("a", MatchOp.EQUAL, "b"),
        Matcher("c", MatchOp.NOT_EQUAL, "d"),
    ]


def test_commas_and_braces_inside_quotes_do_not_split() -> None:
    assert parse_matchers(r'{a=~"x{1,3}", b="c,\"d,e\""}') == [
        Matcher("a", MatchOp.REGEX, "x{1,3}"),
        Matcher("b", MatchOp.EQUAL, 'c,"d,e"'),
    ]


@pytest.mark.parametrize("text", ["", "  ", "{}", "{ }"])
def test_empty_list(text: str) -> None:
    assert parse_matchers(text) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("severity", "no operator"),
        ("", "no operator"),
        ('1abc="x"', "label name '1abc' is not valid"),
        ('my label="x"', "label name 'my label' is not valid"),
        ('a="unterminated', "unterminated quote"),
        ('a="x"trailing', "text after the closing quote"),
        ('a=say"hi"', "must be quoted"),
        ('a=~"(unclosed"', "invalid regex '(unclosed' for label 'a'"),
        ('a!~"*"', "invalid regex '*' for label 'a'"),
    ],
)
def test_parse_matcher_errors(text: str, says: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert says in str(caught.value)


def test_syntax_errors_quote_the_input_and_show_the_valid_forms() -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher("severity~info")
    message = str(caught.value)
    assert "'severity~info'" in message
    for form in ['name="value"', 'name!="value"', 'name=~"regex"', 'name!~"regex"']:
        assert form in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{a=b", "unbalanced braces"),
        ("a=b}", "unbalanced braces"),
        ("a=b,,c=d", "empty matcher between commas"),
        ('{a="b", c}', "bad matcher ' c': no operator"),
        ('{a="b", c=~"["}', "invalid regex '['"),
    ],
)
def test_parse_matchers_errors(text: str, says: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matchers(text)
    assert says in str(caught.value)


def test_matcher_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Matcher("a", "==", "b")  # type: ignore[arg-type]


def test_constructor_validates_the_regex() -> None:
    with pytest.raises(MatcherError, match="invalid regex"):
        Matcher("a", MatchOp.REGEX, "(")


def test_matchers_are_hashable_and_compare_by_value() -> None:
    assert len({parse_matcher("a=~b"), parse_matcher('a=~"b"'), parse_matcher("a=b")}) == 2
