"""strict_json: the shortcut that skips the walk must refuse exactly what the walk refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.parsers import strict_json
from handlers.parsers.strict_json import MAX_DEPTH


def walked(text: str | bytes) -> Any:
    """The rule without the shortcut: parse as json.loads does, then always walk."""
    value = json.loads(text, parse_constant=strict_json._no_constant)
    strict_json._check(value)
    return value


def outcome(load: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", load(text)
    except ValueError:
        return "refused", None


def nested(levels: int, inner: str) -> str:
    return "[" * levels + inner + "]" * levels


@pytest.mark.parametrize(
    "text, accepted",
    [
        (nested(MAX_DEPTH - 1, "1"), True),  # the scalar is at depth MAX_DEPTH
        (nested(MAX_DEPTH, ""), True),  # the innermost list is at depth MAX_DEPTH
        (nested(MAX_DEPTH, "1"), False),
        (nested(MAX_DEPTH - 1, '{"a": 1}'), False),
        ('{"a": "' + "[" * 200 + '"}', True),  # brackets in a string nest nothing
        ('{"a": "nul \\u0000 here"}', False),
        ('{"a": "lone \\ud800 here"}', False),
        ('{"a": "pair \\ud83d\\ude00 here"}', True),  # one astral character, storable
        ('{"a": "escaped backslash \\\\u0000"}', True),  # the text "\u0000", no NUL
    ],
)
def test_shortcut_boundaries(text: str, accepted: bool) -> None:
    assert outcome(strict_json.loads, text) == outcome(walked, text)
    assert (outcome(strict_json.loads, text)[0] == "ok") is accepted


def test_raw_surrogate_bytes_are_refused() -> None:
    # json.loads decodes bytes with "surrogatepass": an encoded surrogate gets through it.
    body = b'{"summary": "drift \xed\xa0\x80"}'
    assert outcome(walked, body)[0] == "refused"
    assert outcome(strict_json.loads, body)[0] == "refused"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32-le"])
def test_bytes_are_decoded_as_json_loads_decodes_them(encoding: str) -> None:
    body = '{"summary": "drift é ✓"}'.encode(encoding)
    assert strict_json.loads(body) == json.loads(body)


def test_a_byte_order_mark_in_text_is_refused_as_json_loads_refuses_it() -> None:
    with pytest.raises(ValueError, match="byte order mark"):
        strict_json.loads('\ufeff{"a": 1}')


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=40,
)


@given(JSON_VALUES, st.integers(0, MAX_DEPTH + 2), st.booleans())
def test_same_answer_as_always_walking(value: Any, wraps: int, ascii_only: bool) -> None:
    # Surrogates and NUL come in through st.text, as escapes or (ensure_ascii off) raw.
    text = nested(wraps, json.dumps(value, ensure_ascii=ascii_only))
    assert outcome(strict_json.loads, text) == outcome(walked, text)
