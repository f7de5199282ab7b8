"""In-house JSON (drift and data-quality jobs, …) → ``NormalizedAlert``, by configuration.

Teams' own jobs post whatever JSON they already produce; rather than a parser per job,
an admin maps it once in YAML with JMESPath expressions (jmespath.org), e.g.::

    sources:
      drift-job:
        alerts: "results[?drifted]"          # optional: one alert per list item
        summary: "message"
        status: "state"                       # "resolved"/"ok"/"recovered" resolve
        starts_at: "detected_at"              # ISO 8601 or epoch seconds
        labels:
          alertname: "'DriftJob'"             # quoted: a JMESPath string literal
          model: "model.name"

Each source becomes ``POST /alerts/<name>``. Expressions are compiled when the file is
loaded, so a typo is reported at start-up, not at the first page. With ``alerts`` set,
every other expression is evaluated against one list item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from bot.alerts import AlertStatus, NormalizedAlert
from handlers.parsers.alertmanager import fingerprint_of
from handlers.parsers.errors import PayloadError, format_loc

_EPOCH_MS_THRESHOLD = 10**11  # larger epoch numbers are milliseconds (10^11 s is year 5138)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_EVALUATION_ERRORS = (JMESPathError, ValueError, TypeError, OverflowError, RecursionError)


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> ParsedResult:
    """Compile once per distinct text: validation and the parser share the result."""
    return jmespath.compile(expression)


def _valid_expression(expression: str) -> str:
    try:
        compile_expression(expression)
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0]
        raise ValueError(f"invalid JMESPath expression {expression!r}: {reason}") from None
    return expression


Expression = Annotated[str, StringConstraints(min_length=1), AfterValidator(_valid_expression)]
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _valid_slug(name: str) -> str:
    """The name is the URL path segment and the ``alerts.source`` column (40 characters)."""
    if not _SLUG.match(name):
        raise ValueError(
            f"invalid source name {name[:50]!r}: use at most 40 lowercase letters, digits,"
            " '-' or '_', e.g. 'drift-job'"
        )
    return name


Slug = Annotated[str, AfterValidator(_valid_slug)]


class GenericSource(BaseModel):
    """One configured sender: where each alert field is found in its JSON.

    Every value but ``name`` and ``resolved_values`` is a JMESPath expression. An invalid
    one raises ``ValueError`` (pydantic's ``ValidationError``) naming the field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    summary: Expression
    fingerprint: Expression | None = None
    status: Expression | None = None
    resolved_values: list[str] = Field(default_factory=lambda: ["resolved", "ok", "recovered"])
    labels: dict[str, Expression] = Field(default_factory=dict)
    annotations: dict[str, Expression] = Field(default_factory=dict)
    links: dict[str, Expression] = Field(default_factory=dict)
    starts_at: Expression | None = None
    severity: Expression | None = None
    alerts: Expression | None = None


def build_parser(source: GenericSource) -> Callable[[object], list[NormalizedAlert]]:
    """A parser with the registry's interface for one configured source."""
    resolved = frozenset(value.strip().lower() for value in source.resolved_values)

    def parse(payload: object) -> list[NormalizedAlert]:
        items = _items(source, payload)
        return [_normalize(source, resolved, item, i) for i, item in enumerate(items)]

    parse.__doc__ = f"Parse a {source.name!r} payload (configured with JMESPath)."
    return parse


def _items(source: GenericSource, payload: object) -> list[object]:
    """The alerts in one payload: the ``alerts`` list, or the payload itself."""
    if source.alerts is None:
        return [payload]
    found = _search("alerts", source.alerts, payload)
    if not isinstance(found, list):
        got = "nothing" if found is None else f"a JSON {_json_type(found)}"
        raise PayloadError(f"alerts: expression {source.alerts!r} found {got}, expected a list")
    return found


def _search(field: str, expression: str, data: object) -> Any:
    """Evaluate one configured expression; any failure becomes a ``PayloadError``.

    JMESPath functions raise on unexpected types (``length(@)`` of a number), and the
    expressions are the admin's, so nothing here may escape as a crash.
    """
    try:
        return compile_expression(expression).search(data)
    except _EVALUATION_ERRORS as exc:
        raise PayloadError(f"{field}: expression {expression!r} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """The first line of the error; jmespath's own message may fail to print (huge ints)."""
    try:
        text = str(exc)
    except ValueError:
        text = ""
    return text.splitlines()[0] if text else type(exc).__name__


def _normalize(
    source: GenericSource, resolved: frozenset[str], item: object, index: int
) -> NormalizedAlert:
    where = f"alerts.{index}." if source.alerts is not None else ""
    ctx = _Context(item, where)
    labels = ctx.mapping("labels", source.labels)
    status = ctx.text("status", source.status)
    is_resolved = status is not None and status.strip().lower() in resolved
    return NormalizedAlert(
        source=source.name,
        fingerprint=_fingerprint(ctx.text("fingerprint", source.fingerprint), labels),
        status=AlertStatus.RESOLVED if is_resolved else AlertStatus.FIRING,
        labels=labels,
        annotations=ctx.mapping("annotations", source.annotations),
        starts_at=ctx.time("starts_at", source.starts_at),
        summary=ctx.required_text("summary", source.summary),
        severity=ctx.text("severity", source.severity) or None,
        links=_web_links(ctx.mapping("links", source.links)),
        raw=item if isinstance(item, dict) else {"value": item},
    )


class _Context:
    """Evaluates one alert's expressions, naming ``alerts.<i>.<field>`` in errors."""

    def __init__(self, item: object, where: str) -> None:
        self.item = item
        self.where = where

    def text(self, field: str, expression: str | None) -> str | None:
        """The value as text; None when the expression is unset or finds nothing."""
        if expression is None:
            return None
        return _as_text(_search(self.where + field, expression, self.item), self.where + field)

    def required_text(self, field: str, expression: str) -> str:
        value = self.text(field, expression)
        if not value:
            raise PayloadError(f"{self.where}{field}: expression {expression!r} found nothing")
        return value

    def mapping(self, field: str, expressions: dict[str, str]) -> dict[str, str]:
        """Labels, annotations or links: entries whose expression finds nothing are left out."""
        found = {key: self.text(f"{field}.{key}", expr) for key, expr in expressions.items()}
        return {key: value for key, value in found.items() if value is not None}

    def time(self, field: str, expression: str | None) -> datetime | None:
        if expression is None:
            return None
        value = _search(self.where + field, expression, self.item)
        try:
            return parse_time(value)
        except ValueError as exc:
            raise PayloadError(f"{self.where}{field}: {exc}") from None


def _as_text(value: object, where: str) -> str | None:
    """Strings as they are, ``true``/``false``, numbers and structures as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, TypeError) as exc:  # 4300-digit integers; non-JSON objects
        raise PayloadError(f"{where}: cannot be shown as text ({exc})") from None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (a time without offset is UTC, as in-house jobs often write it) or epoch.

    Epoch numbers above 10^11 are read as milliseconds, below as seconds. Raises
    ``ValueError`` for anything else, including times outside years 1970-9999.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds, got a boolean")
    if isinstance(value, int | float):
        return _from_epoch(value)
    if not isinstance(value, str):
        raise ValueError(
            f"expected an ISO 8601 time or epoch seconds, got a JSON {_json_type(value)}"
        )
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 16:
        return _from_epoch(int(text))
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"invalid time {text[:40]!r}, expected ISO 8601 or epoch") from None


def _from_epoch(number: float) -> datetime:
    if number != number:  # NaN
        raise ValueError("invalid epoch time NaN")
    try:
        seconds = number / 1000 if abs(number) >= _EPOCH_MS_THRESHOLD else float(number)
    except OverflowError:  # an integer beyond float range
        seconds = float("inf")
    if not 0 <= seconds <= _MAX_EPOCH_SECONDS:
        raise ValueError("epoch time out of range (1970-9999)")
    return _EPOCH + timedelta(seconds=seconds)


def _fingerprint(value: str | None, labels: dict[str, str]) -> str:
    """The configured fingerprint, else a hash of the label set (as Alertmanager does)."""
    return value or fingerprint_of(labels)


def _web_links(links: dict[str, str]) -> dict[str, str]:
    """Slack rejects a whole message (``invalid_blocks``) for a button URL it can't parse."""
    return {k: v for k, v in links.items() if v.startswith(("http://", "https://"))}


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean"}
    return names.get(type(value), "number" if isinstance(value, int | float) else "value")


def load_sources(path: Path) -> tuple[dict[str, GenericSource], list[str]]:
    """Read ``sources:`` from a YAML file: the valid sources, and one line per problem.

    Never raises: a broken entry is skipped and reported (``file: sources.x.field: why``)
    so one typo does not take the other senders, or the bot, down. A missing file is a
    problem too; an empty file simply configures nothing.
    """
    where = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{where}: cannot read: {exc}"]
    if document is None:
        return {}, []
    if not isinstance(document, dict) or set(document) - {"sources"}:
        return {}, [f"{where}: expected a mapping with the single key 'sources'"]
    entries = document.get("sources") or {}
    if not isinstance(entries, dict):
        return {}, [f"{where}: sources: expected a mapping of source name to settings"]
    sources: dict[str, GenericSource] = {}
    problems: list[str] = []
    for name, settings in entries.items():
        source, errors = _load_source(name, settings)
        problems += [f"{where}: sources.{name}{error}" for error in errors]
        if source is not None:
            sources[source.name] = source
    return sources, problems


def _load_source(name: object, settings: object) -> tuple[GenericSource | None, list[str]]:
    """One entry; errors are suffixes to ``sources.<name>`` (``.summary: why``)."""
    if not isinstance(settings, dict):
        return None, [": expected a mapping of settings"]
    if "name" in settings:
        return None, [".name: not allowed, the key above is the name"]
    try:
        return GenericSource.model_validate({**settings, "name": name}), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return None, [f"{_suffix(err['loc'])}: {_message(err['msg'])}" for err in errors]


def _suffix(loc: tuple[int | str, ...]) -> str:
    return "" if loc == ("name",) else "." + format_loc(loc)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")
