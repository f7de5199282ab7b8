"""Automated checks against real local HTTP servers: healthy, failing, slow, huge, broken.

The server is stdlib ``http.server`` in a thread on 127.0.0.1, port 0. Each path behaves
one way (see ``ROUTES``); the fake Prometheus answers by the words in the query and
records every query it gets, so the PromQL escaping of labels can be asserted exactly.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from bot.checks import (
    Check,
    CheckResult,
    HttpCheck,
    PrometheusCheck,
    describe,
    describe_check,
    parse_check,
    resolve_json_path,
    run_check,
)

SLOW_SECONDS = 3
DRIP_INTERVAL = 0.2
HUGE_BYTES = 20 * 1024 * 1024
SECRET = "s3cr3t-token-0123456789"


# --- the local server --------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.stopping = threading.Event()  # lets slow handlers finish at teardown

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self) -> list[str]:
        return [urlsplit(s.raw_path).path for s in self.seen]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        seen = Seen(
            self.command,
            self.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        self.server.seen.append(seen)
        route = ROUTES.get(parts.path) or next(
            (
                fn
                for prefix, fn in ROUTES.items()
                if prefix.endswith("/") and parts.path.startswith(prefix)
            ),
            None,
        )
        try:
            if route is None:
                self.send_bytes(404, b"no such route", "text/plain")
            else:
                route(self, seen)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should on slow or huge responses

    def send_bytes(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, payload: Any) -> None:
        self.send_bytes(status, json.dumps(payload).encode())

    def start_stream(self) -> None:
        """Headers without a length: the body runs until the server closes the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


Route = Callable[[Handler, Seen], None]


def healthy(h: Handler, _: Seen) -> None:
    h.send_json(
        200,
        {
            "status": {"freshness_seconds": 5, "state": "ok", "ready": True, "lag": "12.5"},
            "data": {"result": [{"value": [1712345678.1, "0.25"]}]},
        },
    )


def stale(h: Handler, _: Seen) -> None:
    h.send_json(200, {"status": {"freshness_seconds": 5400, "state": "degraded"}})


def server_error(h: Handler, _: Seen) -> None:
    h.send_bytes(500, b"<html>upstream\n  timeout</html>", "text/html")


def slow(h: Handler, _: Seen) -> None:
    h.server.stopping.wait(SLOW_SECONDS)
    h.send_json(200, {"status": {"freshness_seconds": 1}})


def drip(h: Handler, _: Seen) -> None:
    h.start_stream()
    while not h.server.stopping.is_set():
        h.wfile.write(b" ")
        h.wfile.flush()
        h.server.stopping.wait(DRIP_INTERVAL)


def huge(h: Handler, _: Seen) -> None:
    h.start_stream()
    chunk = b"x" * 65536
    for _ in range(HUGE_BYTES // len(chunk)):
        h.wfile.write(chunk)


def invalid_json(h: Handler, _: Seen) -> None:
    h.send_bytes(200, b'{"status": "ok",', "application/json")


def echo(h: Handler, seen: Seen) -> None:
    body = json.loads(seen.body) if seen.body else None
    h.send_json(
        200, {"method": seen.method, "path": seen.raw_path, "body": body, "headers": seen.headers}
    )


def redirect(h: Handler, _: Seen) -> None:
    h.send_response(302)
    h.send_header("Location", "http://elsewhere.invalid/login")
    h.send_header("Content-Length", "0")
    h.end_headers()


def not_prometheus(h: Handler, _: Seen) -> None:
    h.send_bytes(502, b"<html>Bad Gateway</html>", "text/html")


def _series(metric: dict[str, str], value: str) -> dict[str, Any]:
    return {"metric": metric, "value": [1712345678.1, value]}


def prometheus(h: Handler, seen: Seen) -> None:
    """Answers by the words in the query, like a tiny Prometheus with fixed data."""
    query = seen.query.get("query", [""])[0]
    if "syntax_error" in query:
        h.send_json(
            400,
            {
                "status": "error",
                "errorType": "bad_data",
                "error": "1:8: parse error: unexpected <op:*>",
            },
        )
        return
    if "absent_metric" in query:
        data: dict[str, Any] = {"resultType": "vector", "result": []}
    elif query.startswith("scalar("):
        data = {"resultType": "scalar", "result": [1712345678.1, "42"]}
    elif "[5m]" in query:
        data = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]}
    elif "drift_score" in query:
        series = [("a", "0.2"), ("b", "0.93"), ("c", "0.4")]
        result = [_series({"__name__": "drift_score", "model": m}, v) for m, v in series]
        data = {"resultType": "vector", "result": result}
    else:
        data = {"resultType": "vector", "result": [_series({"job": "api"}, "1")]}
    h.send_json(200, {"status": "success", "data": data})


ROUTES: dict[str, Route] = {
    "/health": healthy,
    "/stale": stale,
    "/error": server_error,
    "/slow": slow,
    "/drip": drip,
    "/huge": huge,
    "/invalid-json": invalid_json,
    "/echo/": echo,
    "/echo": echo,
    "/redirect": redirect,
    "/api/v1/query": prometheus,
    "/broken/api/v1/query": not_prometheus,
}


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield srv
    srv.stopping.set()
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:  # no proxy between us and 127.0.0.1
        yield c


def http(url: str, **fields: Any) -> HttpCheck:
    return HttpCheck(type="http", url=url, **fields)


def prom(query: str, expect: str, **fields: Any) -> PrometheusCheck:
    return PrometheusCheck(type="prometheus", query=query, expect=expect, **fields)


def prom_env(server: Server) -> dict[str, str]:
    return {"WARROOM_PROMETHEUS_URL": server.url}


# --- HTTP checks ---------------------------------------------------------------------------


async def test_a_healthy_endpoint_passes(server: Server, client: httpx.AsyncClient) -> None:
    check = http(f"{server.url}/health", json_path="status.freshness_seconds", below=3600)
    result = await run_check(check, {}, client=client)
    assert result == CheckResult(
        "pass",
        "5",
        "HTTP 200, status.freshness_seconds = 5 (expected below 3600)",
        result.duration_ms,
        f"{server.url}/health",
    )


async def test_a_stale_value_fails_with_the_value(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(f"{server.url}/stale", json_path="status.freshness_seconds", below=3600)
    result = await run_check(check, {}, client=client)
    assert (result.outcome, result.value) == ("fail", "5400")
    assert result.detail == "HTTP 200, status.freshness_seconds = 5400 (expected below 3600)"
    assert str(result) == f"fail: {result.detail}"


async def test_an_unexpected_status_fails_and_shows_the_body(
    server: Server, client: httpx.AsyncClient
) -> None:
    result = await run_check(http(f"{server.url}/error"), {}, client=client)
    assert result.outcome == "fail"
    assert result.detail == "HTTP 500 (expected 200): <html>upstream timeout</html>"


async def test_expect_status_can_be_any_code(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(http(f"{server.url}/error", expect_status=500), {}, client=client)
    assert (result.outcome, result.detail) == ("pass", "HTTP 500")


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"json_path": "status.state", "equals": "ok"}, "pass"),
        ({"json_path": "status.state", "equals": "down"}, "fail"),
        ({"json_path": "status.ready", "equals": True}, "pass"),
        ({"json_path": "status.ready", "equals": False}, "fail"),
        ({"json_path": "status.freshness_seconds", "equals": 5}, "pass"),
        ({"json_path": "status.lag", "above": 10, "below": 20}, "pass"),  # numeric string
        ({"json_path": "data.result[0].value[1]", "equals": 0.25}, "pass"),
        ({"json_path": "data.result[-1].value[1]", "below": 0.1}, "fail"),
        ({"contains": '"state": "ok"'}, "pass"),
        ({"contains": "degraded"}, "fail"),
    ],
)
async def test_json_comparisons(
    server: Server, client: httpx.AsyncClient, fields: dict[str, Any], outcome: str
) -> None:
    result = await run_check(http(f"{server.url}/health", **fields), {}, client=client)
    assert result.outcome == outcome, result.detail


async def test_equals_failure_says_what_was_found(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(f"{server.url}/stale", json_path="status.state", equals="ok")
    result = await run_check(check, {}, client=client)
    assert result.detail == 'HTTP 200, status.state = "degraded" (expected equal to "ok")'
    assert result.value == "degraded"


@pytest.mark.parametrize(
    ("path", "fields", "detail"),
    [
        ("/invalid-json", {"json_path": "status"}, "HTTP 200, but the response is not valid JSON"),
        (
            "/health",
            {"json_path": "status.freshness"},
            "status.freshness not found: status has no 'freshness'",
        ),
        (
            "/health",
            {"json_path": "data.result[3].value"},
            "data.result[3].value not found: data.result has 1 items",
        ),
        ("/health", {"json_path": "status[0]"}, "status[0] not found: status is not a list"),
        (
            "/health",
            {"json_path": "status.state", "below": 1},
            'status.state is "ok", not a number',
        ),
    ],
)
async def test_unreadable_responses_are_errors(
    server: Server, client: httpx.AsyncClient, path: str, fields: dict[str, Any], detail: str
) -> None:
    result = await run_check(http(server.url + path, **fields), {}, client=client)
    assert result.outcome == "error"
    assert result.detail.startswith(detail)


async def test_a_slow_server_hits_the_timeout(server: Server, client: httpx.AsyncClient) -> None:
    check = http(f"{server.url}/slow", timeout=timedelta(milliseconds=500))
    result = await run_check(check, {}, client=client)
    assert result.outcome == "error"
    assert result.detail == "timed out after 0.5s (the check's timeout)"
    assert result.duration_ms < 2000  # generous sanity bound: the server would take 3 s


async def test_a_slow_drip_cannot_hold_the_check(server: Server, client: httpx.AsyncClient) -> None:
    """Each byte arrives well within any read timeout; only a total deadline stops it."""
    check = http(f"{server.url}/drip", timeout=timedelta(milliseconds=500))
    result = await run_check(check, {}, client=client)
    assert result.outcome == "error"
    assert "timed out" in result.detail
    assert result.duration_ms < 2000  # generous sanity bound: the drip never ends by itself


async def test_a_huge_response_is_cut_off(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(http(f"{server.url}/huge"), {}, client=client)
    assert (result.outcome, result.detail) == ("error", "response larger than 1 MiB")


async def test_max_bytes_is_checked_against_the_declared_length(
    server: Server, client: httpx.AsyncClient
) -> None:
    result = await run_check(http(f"{server.url}/health", max_bytes=10), {}, client=client)
    assert (result.outcome, result.detail) == ("error", "response larger than 10 bytes")


async def test_a_closed_port_is_an_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await run_check(http(f"http://127.0.0.1:{port}/health"), {}, client=client)
    assert result.outcome == "error"
    assert result.detail.startswith(f"cannot connect to 127.0.0.1:{port}: ")


async def test_an_unknown_host_is_an_error(client: httpx.AsyncClient) -> None:
    check = http("http://warroom-check.invalid/health", timeout=timedelta(seconds=3))
    result = await run_check(check, {}, client=client)
    assert result.outcome == "error"
    assert result.detail.startswith(("cannot connect to warroom-check.invalid", "timed out"))


async def test_redirects_are_not_followed(server: Server, client: httpx.AsyncClient) -> None:
    """A redirect to another host would carry the secret headers with it."""
    check = http(f"{server.url}/redirect", secret_headers={"X-Api-Key": "TOKEN"})
    result = await run_check(check, {}, client=client, env={"TOKEN": SECRET})
    assert result.outcome == "fail"
    assert result.detail == (
        "HTTP 302 (expected 200), redirecting to http://elsewhere.invalid/login "
        "(redirects are not followed)"
    )


async def test_the_url_is_rendered_with_quoted_labels(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(server.url + "/echo/{{ labels.model }}?env={{ labels.env }}")
    labels = {"model": "x/../../admin?y=1#", "env": "prod&debug=1"}
    result = await run_check(check, labels, client=client)
    assert result.outcome == "pass"
    assert server.seen[-1].raw_path == "/echo/x%2F..%2F..%2Fadmin%3Fy%3D1%23?env=prod%26debug%3D1"
    assert server.seen[-1].query == {"env": ["prod&debug=1"]}
    assert result.target == server.url + server.seen[-1].raw_path


async def test_a_post_sends_the_json_body(server: Server, client: httpx.AsyncClient) -> None:
    check = http(
        f"{server.url}/echo",
        method="POST",
        body={"model": "fraud"},
        json_path="body.model",
        equals="fraud",
    )
    result = await run_check(check, {}, client=client)
    assert result.outcome == "pass"
    assert server.seen[-1].method == "POST"
    assert json.loads(server.seen[-1].body) == {"model": "fraud"}


async def test_secret_headers_come_from_the_environment_and_stay_out_of_results(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(
        f"{server.url}/echo",
        secret_headers={"X-Api-Key": "WARROOM_TEST_TOKEN"},
        json_path="headers.x-api-key",  # the server echoes the secret back
        equals="something else",
    )
    result = await run_check(check, {}, client=client, env={"WARROOM_TEST_TOKEN": SECRET})
    assert server.seen[-1].headers["x-api-key"] == SECRET
    assert result.outcome == "fail"
    assert SECRET not in repr(result)
    assert result.value == "***"


async def test_a_missing_secret_variable_is_an_error_and_nothing_is_sent(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(f"{server.url}/health", secret_headers={"Authorization": "GRAFANA_TOKEN"})
    result = await run_check(check, {}, client=client, env={})
    assert (result.outcome, result.detail) == (
        "error",
        "environment variable GRAFANA_TOKEN is not set",
    )
    assert server.seen == []


async def test_a_header_value_that_breaks_http_is_reported_without_it(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = http(f"{server.url}/health", secret_headers={"Authorization": "TOKEN"})
    result = await run_check(check, {}, client=client, env={"TOKEN": SECRET + "\r\nX: y"})
    assert result.outcome == "error"
    assert SECRET not in repr(result)


async def test_a_template_that_fails_to_render_is_an_error(client: httpx.AsyncClient) -> None:
    check = http("http://127.0.0.1:9/{{ labels.n + 1 }}")
    result = await run_check(check, {}, client=client)
    assert result.outcome == "error"
    assert result.detail.startswith("cannot render the template")
    assert result.target == "http://127.0.0.1:9/{{ labels.n + 1 }}"


async def test_credentials_in_the_url_are_not_shown(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await run_check(http(f"http://admin:hunter22@127.0.0.1:{port}/"), {}, client=client)
    assert "hunter22" not in repr(result)
    assert result.target == f"http://***@127.0.0.1:{port}/"


# --- Prometheus checks -------------------------------------------------------------------


async def test_every_series_must_pass_and_the_worst_is_shown(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = prom("max by (model) (drift_score)", "< 0.5")
    result = await run_check(check, {}, client=client, env=prom_env(server))
    assert (result.outcome, result.value) == ("fail", "0.93")
    assert (
        result.detail
        == '1 of 3 series fail; worst 0.93 for drift_score{model="b"} (expected < 0.5)'
    )
    assert result.target == "max by (model) (drift_score)"


async def test_a_vector_passes_when_every_series_passes(
    server: Server, client: httpx.AsyncClient
) -> None:
    result = await run_check(prom("drift_score", ">= 0.1"), {}, client=client, env=prom_env(server))
    assert result.outcome == "pass"
    assert (
        result.detail
        == 'all 3 series pass; closest 0.2 for drift_score{model="a"} (expected >= 0.1)'
    )


async def test_a_scalar_result(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(prom("scalar(up)", "== 42"), {}, client=client, env=prom_env(server))
    assert (result.outcome, result.value, result.detail) == (
        "pass",
        "42",
        "value 42 (expected == 42)",
    )


async def test_a_single_series(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(prom("up", "!= 1"), {}, client=client, env=prom_env(server))
    assert (result.outcome, result.detail) == ("fail", 'value 1 for {job="api"} (expected != 1)')


async def test_no_data_fails(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(prom("absent_metric", "< 1"), {}, client=client, env=prom_env(server))
    assert (result.outcome, result.detail) == ("fail", "query returned no data")


async def test_a_prometheus_error_is_reported_in_its_words(
    server: Server, client: httpx.AsyncClient
) -> None:
    result = await run_check(
        prom("syntax_error **", "< 1"), {}, client=client, env=prom_env(server)
    )
    assert result.outcome == "error"
    assert result.detail == "Prometheus error (bad_data): 1:8: parse error: unexpected <op:*>"


async def test_a_range_vector_is_refused(server: Server, client: httpx.AsyncClient) -> None:
    result = await run_check(prom("up[5m]", "< 1"), {}, client=client, env=prom_env(server))
    assert result.outcome == "error"
    assert "returned a matrix" in result.detail


async def test_something_that_is_not_prometheus(server: Server, client: httpx.AsyncClient) -> None:
    env = {"PROM": f"{server.url}/broken"}
    result = await run_check(prom("up", "< 1", url_env="PROM"), {}, client=client, env=env)
    assert result.outcome == "error"
    assert result.detail.startswith("HTTP 502 from Prometheus, not an API response")


async def test_label_values_are_escaped_for_promql_strings(
    server: Server, client: httpx.AsyncClient
) -> None:
    check = prom('up{model="{{ labels.model }}"}', "== 1")
    result = await run_check(check, {"model": 'a"b\\c'}, client=client, env=prom_env(server))
    expected = 'up{model="a\\"b\\\\c"}'
    assert server.seen[-1].query == {"query": [expected]}
    assert result.target == expected
    assert result.outcome == "pass"


async def test_an_unset_prometheus_url_is_an_error(client: httpx.AsyncClient) -> None:
    result = await run_check(prom("up", "< 1"), {}, client=client, env={})
    assert result == CheckResult(
        "error",
        None,
        "environment variable WARROOM_PROMETHEUS_URL is not set",
        result.duration_ms,
        "up",
    )


async def test_prometheus_secret_headers(server: Server, client: httpx.AsyncClient) -> None:
    check = prom("up", "== 1", secret_headers={"Authorization": "PROM_AUTH"})
    env = {**prom_env(server), "PROM_AUTH": f"Bearer {SECRET}"}
    result = await run_check(check, {}, client=client, env=env)
    assert result.outcome == "pass"
    assert server.seen[-1].headers["authorization"] == f"Bearer {SECRET}"


async def test_prometheus_unreachable(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"WARROOM_PROMETHEUS_URL": f"http://127.0.0.1:{port}"}
    result = await run_check(prom("up", "< 1"), {}, client=client, env=env)
    assert result.outcome == "error"
    assert result.detail.startswith(f"cannot connect to Prometheus at 127.0.0.1:{port}")


# --- configuration -----------------------------------------------------------------------

CHECK = TypeAdapter(Check)


def errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        CHECK.validate_python(data)
    return [e["msg"] for e in info.value.errors(include_url=False)]


def test_checks_load_from_yaml_shaped_data() -> None:
    http_check = CHECK.validate_python(
        {
            "type": "http",
            "url": "http://svc/{{ labels.model }}/health",
            "timeout": "2s",
            "below": 5,
            "json_path": "a.b[0]",
        }
    )
    assert isinstance(http_check, HttpCheck) and http_check.timeout == timedelta(seconds=2)
    prom_check = CHECK.validate_python({"type": "prometheus", "query": "up", "expect": "<=0.5"})
    assert isinstance(prom_check, PrometheusCheck) and prom_check.expect == "<= 0.5"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "http://svc/"}, "a check needs 'type: http' or 'type: prometheus'"),
        ({"type": "htp", "url": "http://svc/"}, "a check needs 'type: http' or 'type: prometheus'"),
        (
            {"type": "http", "url": "http://svc/", "expect_stauts": 200},
            "Extra inputs are not permitted",
        ),
        (
            {"type": "http", "url": "http://svc/{{ lables.x }}"},
            "invalid template: line 1: unknown name 'lables'",
        ),
        (
            {"type": "http", "url": "http://svc/", "below": 3},
            "below compare the value found at json_path",
        ),
        ({"type": "http", "url": "http://svc/", "json_path": "a..b"}, "'a..b' is not a JSON path"),
        (
            {"type": "http", "url": "http://svc/", "body": {"a": 1}},
            "body is sent only with method: POST",
        ),
        (
            {"type": "http", "url": "http://svc/", "json_path": "a", "below": 1, "above": 2},
            "no value is both",
        ),
        (
            {
                "type": "http",
                "url": "http://svc/",
                "secret_headers": {"Authorization": "Bearer abc"},
            },
            "NAME of the environment variable",
        ),
        ({"type": "http", "url": "http://svc/", "timeout": "soon"}, "expected a duration"),
        ({"type": "prometheus", "query": "up", "expect": "about 5"}, "expect must be a comparison"),
        ({"type": "prometheus", "query": "up", "expect": "< abc"}, "expect must be a comparison"),
        ({"type": "prometheus", "query": "up"}, "Field required"),
        (
            {"type": "prometheus", "query": "up", "expect": "< 1", "url_env": "http://prom"},
            "not an environment variable name",
        ),
    ],
)
def test_bad_configs_are_refused_clearly(data: dict[str, Any], message: str) -> None:
    assert any(message in msg for msg in errors(data)), errors(data)


def test_describe() -> None:
    assert describe(http("http://svc/health")) == "GET http://svc/health expects 200"
    check = http("http://svc/{{ labels.model }}", json_path="status.freshness_seconds", below=3600)
    assert describe(check) == (
        "GET http://svc/{{ labels.model }} expects 200, status.freshness_seconds below 3600"
    )
    assert describe(check, {"model": "a b"}) == (
        "GET http://svc/a%20b expects 200, status.freshness_seconds below 3600"
    )
    assert (
        describe(prom("max(drift_score)", "< 0.5")) == "Prometheus max(drift_score) expects < 0.5"
    )


def test_a_stored_check_round_trips() -> None:
    check = http("http://svc/health", json_path="a", equals=True, timeout=timedelta(seconds=3))
    stored = check.model_dump(mode="json")
    assert parse_check(stored) == check
    assert describe_check(stored) == "GET http://svc/health expects 200, a equal to true"
    assert describe_check({"type": "ftp"}) == "ftp check"


def test_resolve_json_path() -> None:
    document = {"data": {"result": [{"value": [1, "0.5"]}]}}
    assert resolve_json_path(document, "data.result[0].value[1]") == "0.5"
    assert resolve_json_path([{"a": 1}], "[0].a") == 1
