"""Block Kit primitives, each of which enforces its own Slack limit.

Every message in the package is built from these, so no builder can overshoot Slack's
limits by accident: each text object is cut to its field's limit, and ``fit`` keeps a
whole message within the block count and total size. Warroom's own budgets sit beside
Slack's limits so the two can be compared in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict

from bot.mrkdwn import escape, truncate

Block = dict[str, Any]


class Message(TypedDict):
    """What ``chat.postMessage`` / ``chat.update`` take: fallback text plus blocks."""

    text: str
    blocks: list[Block]


# Slack's limits (PLATFORM-NOTES §A5).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
FIELD_TEXT = 2000
MAX_FIELDS = 10
BUTTON_TEXT = 75
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
MESSAGE_CHARS = 12_000  # undocumented total cap (`msg_blocks_too_long` at ~13k)
FALLBACK_TEXT = 3000  # Slack allows 40k, but notifications show only the start

# Warroom's own budgets, tighter than Slack's so one long field cannot crowd out the rest.
TITLE_TEXT = 150
ALERT_NAME = 150
ALERT_SUMMARY = 400
ALERT_SECTION = 1000
LABEL_TEXT = 80
LABELS_PER_ALERT = 4
LINKS_PER_ALERT = 3
STATUS_TEXT = 1500
QUOTE_TEXT = 2800
STEP_TITLE = 200
CARD_ALERTS = 5
PAGE_ALERTS = 3

_SHORTENED_NOTE = "✂️ Shortened to fit Slack's limits; the full record is in the timeline."


def mrkdwn(text: str, limit: int) -> dict[str, Any]:
    """A mrkdwn text object; ``verbatim`` stops Slack from auto-linking untrusted text."""
    return {"type": "mrkdwn", "text": truncate(text, limit) or "—", "verbatim": True}


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT) or "—", "emoji": True},
    }


def section(text: str, limit: int = SECTION_TEXT) -> Block:
    return {"type": "section", "text": mrkdwn(text, min(limit, SECTION_TEXT))}


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    fields = [mrkdwn(f"*{label}*\n{value}", FIELD_TEXT) for label, value in pairs]
    return {"type": "section", "fields": fields[:MAX_FIELDS]}


def context(*parts: str) -> Block:
    elements = [mrkdwn(part, CONTEXT_TEXT) for part in parts if part]
    return {"type": "context", "elements": elements[:CONTEXT_ELEMENTS] or [mrkdwn("—", 1)]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str, style: str | None = "primary") -> dict[str, Any]:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(label, BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    return button | ({"style": style} if style else {})


def actions(block_id: str, *buttons: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def _chars(node: object) -> int:
    """Characters of text a message carries, as Slack's total-size cap counts them."""
    if isinstance(node, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else _chars(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return sum(_chars(item) for item in node)
    return 0


def fit(blocks: list[Block]) -> list[Block]:
    """Keep a message within 50 blocks and ~12k characters.

    Builders list blocks most important first, so the tail is dropped; headers and action
    blocks are always kept, because a card without its Acknowledge button is worse than a
    card without its step list.
    """
    note = context(_SHORTENED_NOTE)
    kept_always = [b for b in blocks if b["type"] in ("header", "actions")]
    chars_left = MESSAGE_CHARS - _chars(kept_always) - _chars(note)
    blocks_left = MAX_BLOCKS - len(kept_always) - 1
    if len(blocks) <= MAX_BLOCKS and _chars(blocks) <= MESSAGE_CHARS:
        return blocks
    fitted: list[Block] = []
    overflowing = False
    for block in blocks:
        if block["type"] in ("header", "actions"):
            fitted.append(block)
            continue
        size = _chars(block)
        if overflowing or size > chars_left or blocks_left <= 0:
            overflowing = True
            continue
        fitted.append(block)
        chars_left -= size
        blocks_left -= 1
    return [*fitted, note]


def message(text: str, blocks: Iterable[Block | None]) -> Message:
    """Assemble a message; ``None`` entries are optional blocks that were not needed."""
    present = [block for block in blocks if block is not None]
    return {"text": truncate(text, FALLBACK_TEXT) or "—", "blocks": fit(present)}


def line_sections(
    lines: Sequence[str], max_sections: int, more: Callable[[int], str]
) -> list[Block]:
    """Pack lines into as few sections as fit, with an "and N more" note for the rest."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        line = truncate(line, SECTION_TEXT)
        if len("\n".join([*chunks[-1], line])) > SECTION_TEXT:
            chunks.append([])
        chunks[-1].append(line)
    shown = [chunk for chunk in chunks[:max_sections] if chunk]
    blocks = [section("\n".join(chunk)) for chunk in shown]
    hidden = len(lines) - sum(len(chunk) for chunk in shown)
    if hidden:
        blocks.append(context(more(hidden)))
    return blocks


def quote(text: str, limit: int = QUOTE_TEXT) -> str:
    """Untrusted multi-line text as a mrkdwn block quote (the ``>`` is ours, not theirs)."""
    escaped = truncate(escape(text.strip()), limit)
    return "\n".join(f">{line}" for line in escaped.splitlines()) or ">_(empty)_"


def text(value: str, limit: int) -> str:
    """Untrusted single-line text: escaped, then cut (so entities are never split)."""
    return truncate(escape(" ".join(value.split())), limit)


def modal(
    callback_id: str, metadata: str, title: str, submit: str, blocks: list[Block]
) -> dict[str, Any]:
    """A modal view; the title is cut to Slack's 24 characters."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def input(block_id: str, label: str, element: dict[str, Any]) -> Block:
    """An input whose value arrives as ``state.values[block_id][block_id]``."""
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
