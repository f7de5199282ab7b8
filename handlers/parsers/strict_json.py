"""JSON as strict as the database: what json.loads accepts but no column can store is refused.

Python's json module accepts NaN, Infinity, numbers beyond a float (read as inf), lone
UTF-16 surrogates ("\\ud800") and NUL characters, and recurses as deep as the input goes.
PostgreSQL refuses all of those, and a refusal at insert time would turn a bad payload
into a 5xx that the sender retries forever. Every body, and every JSON carried inside a
body (SNS's ``Message``), goes through ``loads``.

Walking every value of a parsed body cost about as much as parsing it, so the walk runs
only when the text could hold what it looks for: a NUL or a lone surrogate in a string
needs a ``\\u`` escape or a surrogate in the text itself (a raw control character is
already a syntax error), and a value nested deeper than ``MAX_DEPTH`` needs that many brackets.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # alert payloads are a few levels deep; parsers walk them


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


# One decoder for every call: ``json.loads`` with hooks builds a new one each time.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def loads(text: str | bytes) -> Any:
    """Parse JSON or raise ValueError saying what is wrong."""
    if isinstance(text, bytes):  # as json.loads decodes it: any UTF, surrogates kept
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    if text.startswith("\ufeff"):  # as json.loads: bytes may start with one, text may not
        raise ValueError("the text starts with a byte order mark")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _may_hide_problems(text):
        _check(value)
    return value


def _may_hide_problems(text: str) -> bool:
    """Whether the parsed value could hold a NUL, a lone surrogate or too deep a nesting."""
    if "\\u" in text or text.count("{") + text.count("[") >= MAX_DEPTH:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _check(value: Any) -> None:
    """Depth, surrogates and NUL, walked without recursion (the input may be deep)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key, child in node.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("it contains a NUL character")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("it contains an unpaired surrogate") from None
