"""Alertmanager label matchers: ``name="value"``, ``name!="value"``, ``name=~"re"``, ``name!~"re"``.

Playbook authors already write these in ``alertmanager.yml`` and ``amtool``, so routing
uses the same syntax and semantics as Alertmanager's classic parser
(``pkg/labels/parse.go``): unquoted values are allowed, regexes are anchored at both
ends, and a label the alert lacks counts as the empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

VALID_FORMS = 'valid forms: name="value", name!="value", name=~"regex", name!~"regex"'

_LABEL_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# The lazy name stops at the first operator, so operators inside the value are left alone;
# "=~" is tried before "=" so that "~" never becomes part of the value.
_MATCHER = re.compile(r"\s*(?P<name>.*?)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*", re.DOTALL)
_QUOTED = re.compile(r'"(?P<body>(?:\\.|[^"\\])*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPE = {"n": "\n", '"': '"', "\\": "\\"}
_ESCAPE_OUT = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


class MatcherError(ValueError):
    """A matcher string that Alertmanager would reject too."""


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label; build it with ``parse_matcher`` or directly."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.name):
            raise MatcherError(
                f"label name {self.name!r} is not valid: use letters, digits, _ and :, "
                "not starting with a digit"
            )
        try:
            object.__setattr__(self, "op", MatchOp(self.op))
        except ValueError:
            raise MatcherError(f"unknown operator {self.op!r}; {VALID_FORMS}") from None
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            object.__setattr__(self, "_regex", _compile(self.name, self.value))

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self._regex is None:
            positive = value == self.value
        else:
            positive = self._regex.fullmatch(value) is not None
        return positive if self.op in (MatchOp.EQUAL, MatchOp.REGEX) else not positive

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value.translate(_ESCAPE_OUT)}"'


def _compile(name: str, regex: str) -> re.Pattern[str]:
    # fullmatch() rather than Alertmanager's "^(?:re)$": Python's "$" also matches
    # before a trailing newline, Go's does not.
    try:
        return re.compile(f"(?:{regex})")
    except re.error as err:
        raise MatcherError(f"invalid regex {regex!r} for label {name!r}: {err.msg}") from None


def parse_matcher(text: str) -> Matcher:
    """Parse exactly one matcher, e.g. ``severity!=info`` or ``model=~"recsys-.*"``."""
    found = _MATCHER.fullmatch(text)
    if not found:
        raise MatcherError(f"bad matcher {text!r}: no operator; {VALID_FORMS}")
    raw = found["value"]
    if raw.startswith('"'):
        quoted = _QUOTED.fullmatch(raw)
        if not quoted:
            raise MatcherError(
                f"bad matcher {text!r}: unterminated quote or text after the closing quote "
                f'(write \\" for a quote inside the value); {VALID_FORMS}'
            )
        raw = quoted["body"]
    elif '"' in raw:
        raise MatcherError(
            f"bad matcher {text!r}: a value with a double quote must be quoted "
            f'and the quote escaped as \\"; {VALID_FORMS}'
        )
    try:
        return Matcher(found["name"], MatchOp(found["op"]), _unescape(raw))
    except MatcherError as err:
        raise MatcherError(f"bad matcher {text!r}: {err}") from None


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list, optionally in braces: ``{a="b", c=~"d"}``."""
    body = text.strip()
    if body.startswith("{") or body.endswith("}"):
        if not (body.startswith("{") and body.endswith("}")):
            raise MatcherError(f"bad matchers {text!r}: unbalanced braces; {VALID_FORMS}")
        body = body[1:-1]
    if not body.strip():
        return []
    parts = _split_on_commas(body)
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # Alertmanager tolerates a trailing comma
    return [_parse_part(part, text) for part in parts]


def _parse_part(part: str, whole: str) -> Matcher:
    if not part.strip():
        raise MatcherError(f"bad matchers {whole!r}: empty matcher between commas; {VALID_FORMS}")
    return parse_matcher(part)


def _split_on_commas(text: str) -> list[str]:
    """Split on the commas outside double quotes, as a quoted regex may contain commas."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == "," and not in_quotes:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(raw: str) -> str:
    # Like Alertmanager: \n, \" and \\ are escapes; any other backslash is kept, so a
    # regex such as "\d+" needs no doubling. A lone trailing backslash stays literal.
    return _ESCAPE.sub(lambda m: _UNESCAPE.get(m[1], m[0]), raw)
