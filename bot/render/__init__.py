"""Block Kit messages, built by pure functions from snapshots (DESIGN rule 6).

This is the one place Slack payload dicts are made. Every builder takes frozen snapshot
data and returns ``{"text": …, "blocks": […]}``, so it can be tested without Slack and
re-run at any time to refresh a message. Two invariants hold for every message:

* untrusted text (alert names, summaries, labels, titles, notes, status text) goes
  through ``mrkdwn.escape`` before it meets any markup, so it can never mention
  ``@channel`` or disguise a link; only Warroom's own text carries ``<…>`` tokens;
* every piece is cut to Slack's limits (PLATFORM-NOTES §A5), and ``kit.fit`` keeps the
  whole message under the block count and total size, dropping the least important
  blocks last in the list but never the Acknowledge button.

``kit`` holds the primitives that enforce those limits and ``pieces`` the parts of an
incident that several messages show; every other module builds one kind of message.
The rest of Warroom uses only the names re-exported here (``render.incident_card``).
"""

from __future__ import annotations

from bot.render.card import ACK_INCIDENT_ACTION, incident_card
from bot.render.console import console_line
from bot.render.events import KEEP_OPEN_ACTION, event_message
from bot.render.kit import MAX_BLOCKS, Message
from bot.render.page import (
    ACK_PAGE_ACTION,
    ESCALATE_PAGE_ACTION,
    PAGES_PER_DM,
    REASSIGN_MODAL,
    REASSIGN_PAGE_ACTION,
    page_message,
    pages_message,
    reassign_modal,
)
from bot.render.pieces import incident_status
from bot.render.replies import (
    FOLLOWUP_DONE_ACTION,
    UNSILENCE_ACTION,
    followup_list,
    followup_reminder,
    help_text,
    incident_list,
    notice,
    oncall_text,
    postmortem_summary,
    related_message,
    silence_created,
    silence_list,
    timeline_list,
)
from bot.render.steps import (
    SKIP_MODAL,
    STEP_CHECK_ACTION,
    STEP_DONE_ACTION,
    STEP_SKIP_ACTION,
    skip_modal,
    steps_message,
)

__all__ = [
    "ACK_INCIDENT_ACTION",
    "ACK_PAGE_ACTION",
    "ESCALATE_PAGE_ACTION",
    "FOLLOWUP_DONE_ACTION",
    "KEEP_OPEN_ACTION",
    "MAX_BLOCKS",
    "PAGES_PER_DM",
    "REASSIGN_MODAL",
    "REASSIGN_PAGE_ACTION",
    "SKIP_MODAL",
    "STEP_CHECK_ACTION",
    "STEP_DONE_ACTION",
    "STEP_SKIP_ACTION",
    "UNSILENCE_ACTION",
    "Message",
    "console_line",
    "event_message",
    "followup_list",
    "followup_reminder",
    "help_text",
    "incident_card",
    "incident_list",
    "incident_status",
    "notice",
    "oncall_text",
    "page_message",
    "pages_message",
    "postmortem_summary",
    "reassign_modal",
    "related_message",
    "silence_created",
    "silence_list",
    "skip_modal",
    "steps_message",
    "timeline_list",
]
