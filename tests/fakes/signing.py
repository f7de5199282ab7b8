"""Build Slack requests as Slack sends them: form-encoded bodies, signed with the secret.

Bolt verifies every request to ``/slack/events``, so tests that drive commands and
buttons through the real HTTP stack need bodies and headers that pass that check. The
field sets copy what Slack documents for slash commands and ``block_actions`` payloads.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
TEAM_ID = "T0G9PQBBK"  # the team FakeSlackApi's auth.test reports
TEAM_DOMAIN = "subarachnoid"
API_APP_ID = "A0WARROOM1"
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent
RESPONSE_URL = "https://hooks.slack.com/commands/T0G9PQBBK/1/abc"
TRIGGER_ID = "1111.2222.abcdef"


def signed_headers(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    content_type: str = FORM,
) -> dict[str, str]:
    """Headers Slack attaches: the request timestamp and ``v0=`` HMAC of ``v0:ts:body``.

    Pass an old ``timestamp`` to test replay protection (Slack's SDK allows 5 minutes).
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    if signature is None:  # only when ts is None, which cannot happen here
        raise RuntimeError("slack_sdk produced no signature")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def slash_command_body(text: str, **fields: str) -> bytes:
    """The form body of a slash command invocation (api.slack.com/interactivity/slash-commands)."""
    return urlencode(slash_command_fields(text, **fields)).encode()


def slash_command_fields(
    text: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    command: str = "/incident",
    response_url: str = RESPONSE_URL,
    trigger_id: str = TRIGGER_ID,
) -> dict[str, str]:
    """A slash command's fields: its HTTP form, or its Socket Mode envelope's payload."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": f"channel-{channel_id.lower()}",
        "user_id": user_id,
        "user_name": f"user-{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_action_body(
    action_id: str,
    value: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    message_ts: str = "1700000000.000100",
    block_id: str = "actions",
    response_url: str | None = None,
) -> bytes:
    """The ``payload=`` form body of a button click in a message (``block_actions``).

    Point ``response_url`` at the fake Slack so a reply to the click stays on this machine.
    """
    payload = block_actions_payload(action_id, value, user_id, channel_id, message_ts, block_id)
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_submission_body(
    callback_id: str, private_metadata: str, values: dict[str, dict[str, str]], user_id: str = "U1"
) -> bytes:
    """A modal's submission (``view_submission``); ``values`` maps block_id → action_id → text."""
    state = {
        block: {
            action: {"type": "plain_text_input", "value": text} for action, text in fields.items()
        }
        for block, fields in values.items()
    }
    user_name = f"user-{user_id.lower()}"
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": TRIGGER_ID,
        "view": {
            "id": "V0WARROOM1",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": state},
            "hash": "1700000000.abcdef",
            "app_id": API_APP_ID,
            "bot_id": "BZYBOTHED",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_payload(
    action_id: str,
    value: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    message_ts: str = "1700000000.000100",
    block_id: str = "actions",
) -> dict[str, Any]:
    """The decoded payload, for tests that dispatch to bolt without HTTP."""
    user_name = f"user-{user_id.lower()}"
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": TRIGGER_ID,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": f"channel-{channel_id.lower()}"},
        "message": {
            "type": "message",
            "subtype": "bot_message",
            "text": "",
            "ts": message_ts,
            "bot_id": "BZYBOTHED",
            "blocks": [],
        },
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
            }
        ],
    }
