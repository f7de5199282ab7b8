"""A fake Slack Web API: a real HTTP server that slack_sdk talks to as it would to Slack.

Tests point ``AsyncWebClient(base_url=fake.url)`` (or ``SLACK_API_URL``) at it, so the
bot's real client code runs — request encoding, retry handlers, error parsing — and the
test reads back what was sent. Answers follow Slack's documented shapes closely enough
for the bot; errors use Slack's own error codes.

    with FakeSlackApi() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert slack.calls("chat.postMessage")[0].params["text"] == "hi"
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.threaded import ThreadedFake

AUTH_TEST_RESPONSE: dict[str, Any] = {
    # The values slack-bolt's own test server returns (tests/mock_web_api_server).
    "ok": True,
    "url": "https://subarachnoid.slack.com/",
    "team": "Subarachnoid Workspace",
    "user": "bot",
    "team_id": "T0G9PQBBK",
    "user_id": "W23456789",
    "bot_id": "BZYBOTHED",
}
BOT_USER_ID = AUTH_TEST_RESPONSE["user_id"]
BOT_ID = AUTH_TEST_RESPONSE["bot_id"]

# Form-encoded Slack calls carry these as JSON strings; decode them so tests read dicts.
_JSON_PARAMS = frozenset({"blocks", "attachments", "files", "metadata", "view"})
_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")
_MAX_CHANNEL_NAME = 80
_FAULT_BODIES = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}

Body = dict[str, Any] | str  # a dict is sent as JSON, a str as text/plain
Response = tuple[int, Body, dict[str, str]]  # status, body, extra headers


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received, with its answer, for assertions."""

    method: str  # Web API method ("chat.postMessage"), or "upload" for upload URLs
    params: dict[str, Any]  # query string, form and JSON body merged
    authorization: str | None
    http_method: str = "POST"
    status: int = 200
    response: Body = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when Slack would have reported success (HTTP 200 and ``ok``)."""
        if self.status != 200:
            return False
        return isinstance(self.response, str) or bool(self.response.get("ok"))


@dataclass(slots=True)
class _Fault:
    status: int
    error: str | None
    retry_after: int
    times: int


class FakeSlackApi(ThreadedFake):
    """The fake server and its recorded calls. Thread-safe: the server answers on threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._channel_names: dict[str, str] = {}  # name -> id
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self.uploads: dict[str, bytes] = {}  # file_id -> bytes posted to its upload URL
        self.users: dict[str, dict[str, Any]] = {}  # user_id -> users.info "user" overrides
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> messages people wrote
        self.socket_mode_url = ""  # what apps.connections.open hands out (FakeSocketMode)

    @property
    def url(self) -> str:
        """Base URL for slack_sdk; it ends in '/' because the SDK urljoins method names."""
        return self.origin + "/"

    # -- test helpers ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``error="channel_not_found"`` answers HTTP 200 ``{"ok": false, "error": …}`` as
        Slack does for API errors; otherwise HTTP ``status`` (429 by default, with a
        ``Retry-After`` header) as Slack does for rate limits and outages.
        """
        code = 200 if error is not None else (status or 429)
        fault = _Fault(status=code, error=error, retry_after=retry_after, times=times)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def say(self, channel: str, user: str, text: str, ts: str) -> None:
        """A person writes in a channel: ``conversations.history`` will return it."""
        with self._lock:
            self.history.setdefault(channel, []).append(
                {"type": "message", "user": user, "text": text, "ts": ts}
            )

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self) -> list[dict[str, Any]]:
        """Params of every successful ``chat.postMessage`` and ``chat.update``, in order."""
        wanted = {"chat.postMessage", "chat.update"}
        return [c.params for c in self.calls() if c.method in wanted and c.ok]

    def clear(self) -> None:
        """Forget recorded calls and pending faults (created channels stay taken, as in Slack)."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    async def wait_for(
        self,
        predicate: Callable[[list[Call]], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 -- a test-helper bound, not a cancellation API
    ) -> Any:
        """Poll until ``predicate(calls)`` is truthy and return its value.

        The bot delivers Slack effects after commit, on its own task, so tests wait for the
        condition instead of sleeping a fixed time.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.calls())
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout}s; last calls:\n{self._describe()}"
                )
            await asyncio.sleep(0.02)

    def _describe(self, last: int = 15) -> str:
        calls = self.calls()[-last:]
        return "\n".join(f"  {c.method} {c.status} {c.params}" for c in calls) or "  (none)"

    # -- request handling (runs on server threads) -----------------------------------

    def handle(self, http_method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request and record it."""
        parts = urlsplit(path)
        method = parts.path.lstrip("/")
        authorization = headers.get("authorization")
        if method.startswith("upload/"):
            params: dict[str, Any] = {"file_id": method.removeprefix("upload/"), "size": len(body)}
            status, payload, extra = self._upload(params["file_id"], body)
            method = "upload"
        else:
            params = _parse_params(parts.query, headers.get("content-type", ""), body)
            status, payload, extra = self._respond(method, params, authorization)
        call = Call(method, params, authorization, http_method, status, payload)
        with self._lock:
            self._calls.append(call)
        return status, payload, extra

    def _respond(self, method: str, params: dict[str, Any], authorization: str | None) -> Response:
        fault = self._take_fault(method)
        if fault is not None:
            return _fault_response(fault)
        token = _token(authorization, params)
        if not token:
            return _error("not_authed")
        if method == "apps.connections.open":  # Socket Mode: the app-level token only
            if not token.startswith("xapp-"):
                return _error("not_allowed_token_type")
            return 200, {"ok": True, "url": self.socket_mode_url}, {}
        if not token.startswith("xoxb-"):
            return _error("invalid_auth")
        route = _ROUTES.get(method)
        body = route(self, params) if route else {"ok": True}
        return 200, body, {}

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    def _upload(self, file_id: str, body: bytes) -> Response:
        with self._lock:
            self.uploads[file_id] = body
        return 200, f"OK - {len(body)}", {}  # what Slack's upload host answers, as text/plain

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._ids):08d}"

    def _next_ts(self) -> str:
        """Unique, increasing message timestamps in Slack's "seconds.micros" form."""
        with self._lock:
            micros = 1_700_000_000_000_000 + 100 * next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- methods ----------------------------------------------------------------------

    def _conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name", ""))
        problem = _channel_name_problem(name)
        if problem:
            return {"ok": False, "error": problem}
        with self._lock:
            if name in self._channel_names:
                return {"ok": False, "error": "name_taken"}
            channel_id = f"C{next(self._ids):08d}"
            self._channel_names[name] = channel_id
        return {"ok": True, "channel": _channel(channel_id, name, params)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        latest = float(params.get("latest") or "inf")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        with self._lock:
            written = list(self.history.get(str(params.get("channel")), []))
        older = [
            m
            for m in written
            if float(m["ts"]) < latest or (inclusive and float(m["ts"]) == latest)
        ]
        older.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": older[: int(params.get("limit") or 100)], "has_more": False}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), str(params.get("message_ts", ""))
        link = f"https://subarachnoid.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": params.get("text", ""),
        }
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        if "thread_ts" in params:
            message["thread_ts"] = params["thread_ts"]
        channel = str(params.get("channel", ""))
        if channel[:1] in ("U", "W"):  # posting to a user lands in the app's DM with them
            channel = f"D{channel}"
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "channel": params.get("channel"),
            "ts": params.get("ts"),
            "text": params.get("text", ""),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users", "")).split(",")
        return {"ok": True, "channel": {"id": f"D{users[0]}"}}

    def _channel_echo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": params.get("channel")}}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user", ""))
        name = f"user-{user_id.lower()}"
        user = {
            "id": user_id,
            "name": name,
            "real_name": f"User {user_id}",
            "tz": "Europe/London",
            "is_bot": False,
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }
        user.update(self.users.get(user_id, {}))
        return {"ok": True, "user": user}

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = self._next_id("F")
        return {"ok": True, "upload_url": f"{self.url}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        listed = [{"id": f.get("id"), "title": f.get("title", "")} for f in files]
        return {"ok": True, "files": listed}


_ROUTES: dict[str, Callable[[FakeSlackApi, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": lambda _fake, _params: dict(AUTH_TEST_RESPONSE),
    "conversations.create": FakeSlackApi._conversations_create,
    "conversations.open": FakeSlackApi._conversations_open,
    "conversations.invite": FakeSlackApi._channel_echo,
    "conversations.join": FakeSlackApi._channel_echo,
    "conversations.setTopic": FakeSlackApi._channel_echo,
    "conversations.setPurpose": FakeSlackApi._channel_echo,
    "chat.postMessage": FakeSlackApi._chat_post_message,
    "conversations.history": FakeSlackApi._conversations_history,
    "chat.getPermalink": FakeSlackApi._chat_get_permalink,
    "chat.update": FakeSlackApi._chat_update,
    "chat.postEphemeral": FakeSlackApi._chat_post_ephemeral,
    "users.info": FakeSlackApi._users_info,
    "files.getUploadURLExternal": FakeSlackApi._files_get_upload_url,
    "files.completeUploadExternal": FakeSlackApi._files_complete_upload,
}


class _Handler(BaseHTTPRequestHandler):
    """Translate HTTP to ``FakeSlackApi.handle`` and back."""

    server_version = "FakeSlack/1"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, http_method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake: FakeSlackApi = self.server.fake  # type: ignore[attr-defined]
        try:
            status, payload, extra = fake.handle(http_method, self.path, headers, body)
        except Exception as exc:  # a bug in the fake must show up as an answer, not a hang
            status, payload, extra = 500, {"ok": False, "error": f"fake_crashed: {exc!r}"}, {}
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output clean; the recorded calls are the log."""


FakeSlackApi.handler = _Handler


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Merge query string, form body and JSON body, as Slack accepts all three."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if body and content_type.startswith("application/json"):
        params.update(json.loads(body))
    elif body and content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    for key in _JSON_PARAMS & params.keys():
        if isinstance(params[key], str):
            # Undecodable values stay as sent: Slack would reject them and the test sees why.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


def _token(authorization: str | None, params: dict[str, Any]) -> str:
    """Slack takes the token from ``Authorization: Bearer`` or, for old clients, a param."""
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    return str(params.get("token", ""))


def _channel_name_problem(name: str) -> str | None:
    """Slack's channel-name rules, with the error codes conversations.create returns."""
    if not name:
        return "invalid_name_required"
    if len(name) > _MAX_CHANNEL_NAME:
        return "invalid_name_maxlength"
    if not _CHANNEL_NAME.match(name):
        return "invalid_name_specials"  # also Slack's answer for upper-case letters
    return None


def _channel(channel_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": channel_id,
        "name": name,
        "is_channel": True,
        "is_private": str(params.get("is_private", "")).lower() in ("1", "true"),
        "created": int(time.time()),
        "creator": BOT_USER_ID,
        "is_member": True,
    }


def _error(error: str) -> Response:
    return 200, {"ok": False, "error": error}, {}


def _fault_response(fault: _Fault) -> Response:
    if fault.error is not None:
        return _error(fault.error)
    body = {"ok": False, "error": _FAULT_BODIES.get(fault.status, "fatal_error")}
    headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
    return fault.status, body, headers
