"""Console mode: Web API calls as readable lines, for running without ``SLACK_BOT_TOKEN``.

Slack markup is turned back into plain text (tokens to their labels, entities decoded)
and cut to a few lines, so a developer can follow what Warroom would have said.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot import mrkdwn
from bot.mrkdwn import truncate

_TOKEN = re.compile(r"<([^<>]*)>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONSOLE_LINE = 200
CONSOLE_LINES = 4


def console_line(method: str, params: Mapping[str, Any]) -> str:
    """A readable rendering of a Web API call for console mode (no ``SLACK_BOT_TOKEN``)."""
    target = _console_target(params.get("channel") or params.get("users"))
    text = _console_text(params.get("text"))
    describe: dict[str, Callable[[], str]] = {
        "chat.postMessage": lambda: f"{target} ← {text}",
        "chat.update": lambda: f"{target} (update {params.get('ts', '?')}) ← {text}",
        "chat.postEphemeral": lambda: f"{target} (only {params.get('user', '?')} sees it) ← {text}",
        "conversations.create": lambda: f"create channel #{_console_text(params.get('name'))}",
        "conversations.invite": lambda: f"invite {params.get('users', '?')} to {target}",
        "conversations.setTopic": lambda: f"{target} topic ← {_console_text(params.get('topic'))}",
        "conversations.setPurpose": lambda: (
            f"{target} purpose ← {_console_text(params.get('purpose'))}"
        ),
        "conversations.open": lambda: f"open DM with {params.get('users', '?')}",
        "conversations.archive": lambda: f"archive {target}",
        "pins.add": lambda: f"pin {params.get('timestamp', '?')} in {target}",
    }
    line = describe[method]() if method in describe else _console_generic(method, params)
    return f"[slack] {line}"


def _console_target(value: object) -> str:
    if not value:
        return "?"
    target = _CONTROL.sub("", str(value))
    if mrkdwn.is_user_id(target):
        return f"DM {target}"
    if re.match(r"^[CGD][A-Z0-9]{2,}$", target) or target.startswith("#"):
        return target
    return f"#{target}"


def _console_text(value: object) -> str:
    """Slack markup made readable: tokens to their labels, entities decoded, few lines."""
    if value is None:
        return ""
    text = _TOKEN.sub(lambda m: _console_token(m.group(1)), str(value))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = _CONTROL.sub("", text).strip().splitlines() or [""]
    shown = [truncate(line, CONSOLE_LINE) for line in lines[:CONSOLE_LINES]]
    if len(lines) > CONSOLE_LINES:
        shown.append("…")
    return "\n    ".join(shown)


def _console_token(token: str) -> str:
    body, _, label = token.partition("|")
    if body.startswith("@"):
        return body
    if body.startswith("#"):
        return f"#{label}" if label else body
    if body.startswith("!date"):
        return label or body
    if body.startswith("!"):
        return "@" + body[1:]
    return f"{label} ({body})" if label else body


def _console_generic(method: str, params: Mapping[str, Any]) -> str:
    scalars = [
        f"{key}={_console_text(value)}"
        for key, value in params.items()
        if isinstance(value, str | int | float | bool) and key != "text"
    ]
    return " ".join([method, *scalars])
