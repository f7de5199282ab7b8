"""Automated checks: the bot asks an HTTP endpoint or Prometheus itself and reports.

A playbook step can carry a check ("is the feature store fresh?"), so the responder sees
the answer beside the step instead of opening five dashboards at 3 a.m. A check runs while
an incident is burning, against services that may be the ones on fire, so ``run_check``
never raises and never waits past its deadline: every failure becomes an ``error``
result whose detail says what went wrong in one sentence.

Secrets never live in the YAML: ``secret_headers`` names environment variables, and their
values are scrubbed from anything a result could show.
"""

from __future__ import annotations

import asyncio
import json
import math
import operator
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.durations import Duration
from bot.templating import TemplateError, TemplateStr, render

Outcome = Literal["pass", "fail", "error"]
Scalar = str | int | float | bool

MAX_URL = 8192  # characters in a rendered URL or query; longer is a broken template
_SNIPPET = 120  # characters of an unexpected response shown in a detail
_SHOWN = 200  # characters of a value shown in a detail

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PATH = re.compile(r"^(?:[^.\[\]]+|\[-?\d+\])(?:\.[^.\[\]]+|\[-?\d+\])*$")
_PATH_PART = re.compile(r"\[(-?\d+)\]|\.?([^.\[\]]+)")
_EXPECT = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


# --- configuration -----------------------------------------------------------------------


def _env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise PydanticCustomError(
            "env_name", "'{name}' is not an environment variable name", {"name": name}
        )
    return name


def _secret_headers(headers: dict[str, str]) -> dict[str, str]:
    """Catch a secret pasted into the YAML: a value must name a variable, not be one."""
    for header, variable in headers.items():
        if not _HEADER_NAME.match(header):
            raise PydanticCustomError(
                "header_name", "'{header}' is not a valid HTTP header name", {"header": header}
            )
        if not _ENV_NAME.match(variable):
            raise PydanticCustomError(
                "secret_header",
                "secret_headers maps a header to the NAME of the environment variable that "
                "holds its value (e.g. Authorization: GRAFANA_TOKEN), never to the value itself",
            )
    return headers


def parse_json_path(path: str) -> list[str | int]:
    """``data.result[0].value[1]`` → ``["data", "result", 0, "value", 1]``."""
    if not _PATH.match(path):
        raise ValueError(
            f"{path!r} is not a JSON path; use dotted keys and [n] indexes, "
            "e.g. status.freshness_seconds or data.result[0].value[1]"
        )
    return [int(index) if index else key for index, key in _PATH_PART.findall(path)]


def _json_path(path: str) -> str:
    try:
        parse_json_path(path)
    except ValueError as err:
        raise PydanticCustomError("json_path", "{reason}", {"reason": str(err)}) from None
    return path


def parse_expect(text: str) -> tuple[str, float]:
    """``"<= 0.5"`` → ``("<=", 0.5)``; the comparisons PromQL itself has."""
    found = _EXPECT.match(text)
    try:
        threshold = float(found.group(2)) if found else math.nan
    except ValueError:
        threshold = math.nan
    if not found or math.isnan(threshold):
        raise ValueError(
            f"expect must be a comparison and a number, like '< 0.5', '>= 1' or '== 0', "
            f"not {text!r}"
        )
    return found.group(1), threshold


def _expect(text: str) -> str:
    """Keep the text, normalised (``"<=0.5"`` → ``"<= 0.5"``), as details quote it."""
    try:
        op, threshold = parse_expect(text)
    except ValueError as err:
        raise PydanticCustomError("expect", "{reason}", {"reason": str(err)}) from None
    return f"{op} {_number_text(threshold)}"


EnvName = Annotated[str, AfterValidator(_env_name)]
SecretHeaders = Annotated[dict[str, str], AfterValidator(_secret_headers)]
JsonPath = Annotated[str, AfterValidator(_json_path)]
Expect = Annotated[str, AfterValidator(_expect)]
MaxBytes = Annotated[int, Field(gt=0)]


class _CheckModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpCheck(_CheckModel):
    """Call a URL; pass on the expected status and, optionally, a value in its JSON."""

    type: Literal["http"]
    url: TemplateStr
    method: Literal["GET", "POST"] = "GET"
    body: dict[str, Any] | None = None
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    json_path: JsonPath | None = None
    equals: Scalar | None = None
    below: float | None = None
    above: float | None = None
    contains: str | None = None
    timeout: Duration = timedelta(seconds=5)
    secret_headers: SecretHeaders = {}
    max_bytes: MaxBytes = 1_048_576

    @model_validator(mode="after")
    def _consistent(self) -> HttpCheck:
        if self.body is not None and self.method != "POST":
            raise PydanticCustomError("body_method", "body is sent only with method: POST")
        compared = [
            name for name in ("equals", "below", "above") if getattr(self, name) is not None
        ]
        if compared and self.json_path is None:
            raise PydanticCustomError(
                "json_path_missing",
                "{names} compare the value found at json_path; set json_path too",
                {"names": " and ".join(compared)},
            )
        if self.below is not None and self.above is not None and self.below <= self.above:
            raise PydanticCustomError(
                "range", "no value is both below {below} and above {above}", self._bounds()
            )
        return self

    def _bounds(self) -> dict[str, str]:
        return {"below": _number_text(self.below), "above": _number_text(self.above)}


class PrometheusCheck(_CheckModel):
    """Run an instant PromQL query; pass when every returned series satisfies ``expect``."""

    type: Literal["prometheus"]
    query: TemplateStr
    url_env: EnvName = "WARROOM_PROMETHEUS_URL"
    expect: Expect
    timeout: Duration = timedelta(seconds=10)
    secret_headers: SecretHeaders = {}
    max_bytes: MaxBytes = 1_048_576


def _check_type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


Check = Annotated[
    Annotated[HttpCheck, Tag("http")] | Annotated[PrometheusCheck, Tag("prometheus")],
    # A callable discriminator, so a missing or misspelt type gets a readable message.
    Field(
        discriminator=Discriminator(
            _check_type,
            custom_error_type="check_type",
            custom_error_message="a check needs 'type: http' or 'type: prometheus'",
        )
    ),
]


_CHECK_ADAPTER: TypeAdapter[HttpCheck | PrometheusCheck] = TypeAdapter(Check)


def parse_check(
    data: Mapping[str, Any] | HttpCheck | PrometheusCheck,
) -> HttpCheck | PrometheusCheck:
    """A check from its stored JSON form (``model_dump(mode="json")``); raises ValidationError."""
    if isinstance(data, HttpCheck | PrometheusCheck):
        return data
    return _CHECK_ADAPTER.validate_python(dict(data))


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """What a check found; ``detail`` is one sentence for a responder, without secrets."""

    outcome: Outcome
    value: str | None
    detail: str
    duration_ms: int
    target: str

    def __str__(self) -> str:
        return f"{self.outcome}: {self.detail}"


class _CheckError(Exception):
    """The check could not be evaluated; the message is the result's detail."""


@dataclass
class _Run:
    """What is known so far about one run, so any failure can still be reported well."""

    target: str
    where: str = ""
    secrets: list[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) >= 4:  # shorter is no secret, and would garble the sentence
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    encoding: str
    location: str | None

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")


Verdict = tuple[Outcome, str | None, str]


async def run_check(
    check: HttpCheck | PrometheusCheck,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    *,
    client: httpx.AsyncClient,
    env: Mapping[str, str] = os.environ,
) -> CheckResult:
    """Run ``check`` for an alert's labels; never raises, never outlives ``check.timeout``."""
    started = time.monotonic()
    run = _Run(target=check.url if isinstance(check, HttpCheck) else check.query)
    try:
        outcome, value, detail = await _run(check, labels, annotations or {}, client, env, run)
    except _CheckError as err:
        outcome, value, detail = "error", None, str(err)
    except Exception as err:  # the promise is "never raises": anything left is reported
        outcome, value, detail = "error", None, _explain(err, check, run)
    duration_ms = int((time.monotonic() - started) * 1000)
    scrubbed_value = run.scrub(value) if value is not None else None
    return CheckResult(
        outcome, scrubbed_value, run.scrub(detail), duration_ms, run.scrub(run.target)
    )


async def _run(
    check: HttpCheck | PrometheusCheck,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    client: httpx.AsyncClient,
    env: Mapping[str, str],
    run: _Run,
) -> Verdict:
    headers = _headers(check.secret_headers, env, run)
    if isinstance(check, HttpCheck):
        return await _run_http(check, labels, annotations, client, headers, run)
    return await _run_prometheus(check, labels, annotations, client, headers, env, run)


async def _run_http(
    check: HttpCheck,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    client: httpx.AsyncClient,
    headers: dict[str, str],
    run: _Run,
) -> Verdict:
    url = _render(check.url, labels, annotations, url=True)
    run.target, run.where = _redact(url), _origin(url)
    # One deadline over connect, headers and body: a server dripping a byte at a time
    # satisfies every per-read timeout httpx has, but not this.
    async with asyncio.timeout(check.timeout.total_seconds()):
        response = await _fetch(client, check.method, url, headers, check, json=check.body)
    return _judge_http(check, response)


async def _run_prometheus(
    check: PrometheusCheck,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    client: httpx.AsyncClient,
    headers: dict[str, str],
    env: Mapping[str, str],
    run: _Run,
) -> Verdict:
    base = _prometheus_url(check.url_env, env)
    run.where = f"Prometheus at {_origin(base)}"
    run.target = query = _render(check.query, labels, annotations, escape=escape_promql)
    endpoint = f"{base.rstrip('/')}/api/v1/query"
    async with asyncio.timeout(check.timeout.total_seconds()):
        response = await _fetch(client, "GET", endpoint, headers, check, query=query)
    return _judge_prometheus(check, response)


def _headers(names: Mapping[str, str], env: Mapping[str, str], run: _Run) -> dict[str, str]:
    headers = {}
    for header, variable in names.items():
        value = env.get(variable)
        if value is None:
            raise _CheckError(f"environment variable {variable} is not set")
        if not value:
            raise _CheckError(f"environment variable {variable} is empty")
        run.secrets.append(value)
        if any(char in value for char in "\r\n\0"):
            # httpx would quote the value in its error message; say which variable instead.
            raise _CheckError(f"environment variable {variable} is not a valid header value")
        headers[header] = value
    return headers


def _prometheus_url(variable: str, env: Mapping[str, str]) -> str:
    base = env.get(variable)
    if not base:
        raise _CheckError(f"environment variable {variable} is not set")
    if urlsplit(base).scheme not in ("http", "https"):
        raise _CheckError(f"environment variable {variable} is not an http(s) URL")
    return base


def _render(
    source: str, labels: Mapping[str, str], annotations: Mapping[str, str], **kw: Any
) -> str:
    try:
        text = render(source, labels, annotations, limit=MAX_URL + 1, **kw)
    except TemplateError as err:
        raise _CheckError(str(err)) from None
    if len(text) > MAX_URL:
        raise _CheckError(f"the rendered template is longer than {MAX_URL} characters")
    return text


def escape_promql(value: str) -> str:
    """Escape a value for a double-quoted PromQL string, so a label cannot end the string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


async def _fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    check: HttpCheck | PrometheusCheck,
    *,
    json: Any = None,
    query: str | None = None,
) -> _Response:
    """One request, read to at most ``max_bytes``; redirects are not followed, since a
    redirect to another host would carry the secret headers there."""
    async with client.stream(
        method,
        url,
        headers=headers,
        json=json,
        params={"query": query} if query is not None else None,
        timeout=check.timeout.total_seconds(),
        follow_redirects=False,
    ) as response:
        body = await _read_limited(response, check.max_bytes)
        return _Response(
            response.status_code,
            body,
            response.encoding or "utf-8",
            response.headers.get("location"),
        )


async def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = f"response larger than {format_bytes(max_bytes)}"
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _CheckError(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _CheckError(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _explain(err: Exception, check: HttpCheck | PrometheusCheck, run: _Run) -> str:
    """One sentence for a failure of the transport itself."""
    reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(err)) or type(err).__name__
    if isinstance(err, TimeoutError | httpx.TimeoutException):
        return f"timed out after {_seconds(check.timeout)} (the check's timeout)"
    if isinstance(err, httpx.ConnectError):
        return f"cannot connect to {run.where}: {reason}"
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL {run.target}: {reason}"
    if isinstance(err, httpx.RemoteProtocolError):
        return f"{run.where} broke the HTTP protocol: {reason}"
    if isinstance(err, httpx.HTTPError):
        return f"request to {run.where} failed: {reason}"
    return f"unexpected {type(err).__name__}: {reason}"


# --- judging an HTTP response ------------------------------------------------------------


def _judge_http(check: HttpCheck, response: _Response) -> Verdict:
    status = f"HTTP {response.status}"
    if response.status != check.expect_status:
        return (
            "fail",
            str(response.status),
            f"{status} (expected {check.expect_status}){_gist(response)}",
        )
    if check.contains is not None and check.contains not in response.text:
        return (
            "fail",
            str(response.status),
            f"{status}, but the response does not contain {check.contains!r}",
        )
    if check.json_path is None:
        found = f", contains {check.contains!r}" if check.contains is not None else ""
        return "pass", str(response.status), status + found
    value = resolve_json_path(_parse_json(response), check.json_path)
    conditions = _conditions(check)
    passed = all(holds(value) for _, holds in conditions)
    detail = f"{status}, {check.json_path} = {_show(value)}"
    if conditions:
        detail += f" (expected {' and '.join(phrase for phrase, _ in conditions)})"
    return ("pass" if passed else "fail"), _value_text(value), detail


def _conditions(check: HttpCheck) -> list[tuple[str, Callable[[Any], bool]]]:
    path = check.json_path or ""
    conditions: list[tuple[str, Callable[[Any], bool]]] = []
    if check.equals is not None:
        expected = check.equals
        conditions.append((f"equal to {_show(expected)}", lambda v: _equal(v, expected)))
    if check.below is not None:
        below = check.below
        conditions.append((f"below {_number_text(below)}", lambda v: _number(v, path) < below))
    if check.above is not None:
        above = check.above
        conditions.append((f"above {_number_text(above)}", lambda v: _number(v, path) > above))
    return conditions


def _parse_json(response: _Response) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError) as err:
        raise _CheckError(
            f"HTTP {response.status}, but the response is not valid JSON ({err})"
        ) from None


def resolve_json_path(document: Any, path: str) -> Any:
    """The value at ``path``; the error names the first step of the path that is missing."""
    value = document
    walked = "the response"
    for part in parse_json_path(path):
        if isinstance(part, int):
            if not isinstance(value, list):
                raise _CheckError(f"{path} not found: {walked} is not a list")
            if not -len(value) <= part < len(value):
                raise _CheckError(f"{path} not found: {walked} has {len(value)} items")
            value = value[part]
            step = f"[{part}]"
        else:
            if not isinstance(value, dict):
                raise _CheckError(f"{path} not found: {walked} is not an object")
            if part not in value:
                raise _CheckError(f"{path} not found: {walked} has no {part!r}")
            value = value[part]
            step = f".{part}"
        walked = step.lstrip(".") if walked == "the response" else walked + step
    return value


def _equal(value: Any, expected: Scalar) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, int | float):
        try:
            return _number(value, "") == expected
        except _CheckError:
            return False
    return value == expected if isinstance(value, str) else _show(value) == expected


def _number(value: Any, path: str) -> float:
    """JSON numbers, and numbers in strings (Prometheus writes ``"0.93"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _CheckError(f"{path} is {_show(value)}, not a number")


def _show(value: Any) -> str:
    text = (
        json.dumps(value, ensure_ascii=False)
        if not isinstance(value, float)
        else _number_text(value)
    )
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else _show(value)


def _number_text(value: float | None) -> str:
    if value is not None and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _gist(response: _Response) -> str:
    if 300 <= response.status < 400 and response.location:
        return f", redirecting to {response.location} (redirects are not followed)"
    text = " ".join(response.text.split())
    if not text:
        return ""
    return ": " + (text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…")


# --- judging a Prometheus response -------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    metric: dict[str, str]
    text: str
    value: float


def _judge_prometheus(check: PrometheusCheck, response: _Response) -> Verdict:
    samples = _samples(response)
    if not samples:
        return "fail", None, "query returned no data"
    op, threshold = parse_expect(check.expect)
    failing = [s for s in samples if not _OPS[op](s.value, threshold)]
    worst = max(failing or samples, key=lambda s: _badness(op, threshold, s.value))
    where = f" for {format_series(worst.metric)}" if worst.metric else ""
    shown = f"{worst.text}{where} (expected {check.expect})"
    if len(samples) == 1:
        detail = f"value {shown}"
    elif failing:
        detail = f"{len(failing)} of {len(samples)} series fail; worst {shown}"
    else:
        detail = f"all {len(samples)} series pass; closest {shown}"
    return ("fail" if failing else "pass"), worst.text, detail


def _samples(response: _Response) -> list[_Sample]:
    payload = _prometheus_payload(response)
    try:
        data = payload["data"]
        kind = data["resultType"]
        if kind == "scalar":
            return [_sample({}, data["result"][1])]
        if kind == "vector":
            return [_sample(item.get("metric", {}), item["value"][1]) for item in data["result"]]
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise _CheckError(f"unexpected response from Prometheus (no {err})") from None
    raise _CheckError(
        f"the query returned a {kind}; a check needs a single number or an instant vector"
    )


def _sample(metric: dict[str, str], text: Any) -> _Sample:
    try:
        return _Sample(metric, str(text), float(text))
    except (TypeError, ValueError):
        raise _CheckError(f"Prometheus returned {text!r}, not a number") from None


def _prometheus_payload(response: _Response) -> dict[str, Any]:
    try:
        payload = json.loads(response.body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise _CheckError(
            f"HTTP {response.status} from Prometheus, not an API response{_gist(response)}"
        )
    if payload.get("status") == "error":
        kind = f" ({payload['errorType']})" if payload.get("errorType") else ""
        raise _CheckError(f"Prometheus error{kind}: {payload.get('error') or 'no message'}")
    if response.status != 200 or payload.get("status") != "success":
        raise _CheckError(f"HTTP {response.status} from Prometheus{_gist(response)}")
    return payload


def _badness(op: str, threshold: float, value: float) -> float:
    """How far a value is from satisfying ``op threshold``: the worst series is the max."""
    if math.isnan(value):
        return math.inf
    if op in ("<", "<="):
        return value
    if op in (">", ">="):
        return -value
    distance = abs(value - threshold)
    return distance if op == "==" else -distance


def format_series(metric: Mapping[str, str]) -> str:
    """PromQL notation: ``drift_score{model="fraud"}``."""
    name = metric.get("__name__", "")
    pairs = ", ".join(f'{k}="{escape_promql(v)}"' for k, v in metric.items() if k != "__name__")
    return f"{name}{{{pairs}}}" if pairs or not name else name


# --- description -------------------------------------------------------------------------


def describe(check: HttpCheck | PrometheusCheck, labels: Mapping[str, str] | None = None) -> str:
    """A short line for the checklist, e.g. ``GET http://…/health expects 200``.

    With ``labels`` the URL or query is shown rendered, otherwise as written.
    """
    if isinstance(check, PrometheusCheck):
        query = _describe_source(check.query, labels, escape=escape_promql)
        return f"Prometheus {query} expects {check.expect}"
    url = _describe_source(check.url, labels, url=True)
    parts = [f"{check.method} {url} expects {check.expect_status}"]
    if check.contains is not None:
        parts.append(f"containing {check.contains!r}")
    if check.json_path is not None:
        phrases = [phrase for phrase, _ in _conditions(check)] or ["present"]
        parts.append(f"{check.json_path} {' and '.join(phrases)}")
    return ", ".join(parts)


def describe_check(
    data: Mapping[str, Any] | HttpCheck | PrometheusCheck, labels: Mapping[str, str] | None = None
) -> str:
    """``describe`` for a stored check; one saved by an older version still gets a line."""
    try:
        return describe(parse_check(data), labels)
    except ValidationError:
        return f"{data.get('type', 'unknown') if isinstance(data, Mapping) else 'unknown'} check"


def _describe_source(source: str, labels: Mapping[str, str] | None, **kw: Any) -> str:
    if labels is None:
        return source
    try:
        return _redact(render(source, labels, **kw))
    except TemplateError:
        return source


# --- small helpers -----------------------------------------------------------------------


def format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _seconds(duration: timedelta) -> str:
    return f"{duration.total_seconds():g}s"


def _redact(url: str) -> str:
    """Drop ``user:password@`` from a URL before it is shown anywhere."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _origin(url: str) -> str:
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or url
    except ValueError:
        return url
