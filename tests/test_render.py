"""Block Kit rendering: escaping, Slack's limits, and the Acknowledge buttons by state."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import mrkdwn, render
from bot.render import kit
from bot.render.card import _card_actions
from bot.snapshot import IncidentSnapshot
from tests.snapshots import (
    at,
    make_alert,
    make_event,
    make_incident,
    make_page,
    make_snapshot,
    make_step,
)

INJECTION = "<!channel> wake up <@U999999> <https://evil.example|Runbook>"


# --- Snapshots by state ----------------------------------------------------------------------


def acknowledged_snapshot() -> IncidentSnapshot:
    page = make_page(7, state="acknowledged", acknowledged_at=at(7), acknowledged_by="U0123ABCD")
    events = [
        make_event(1, "declared", 1),
        make_event(2, "acknowledged", 7, actor="U0123ABCD", data={"role": "ml-engineer"}),
    ]
    return make_snapshot(incident=make_incident(acknowledged_at=at(7)), pages=[page], events=events)


def resolved_snapshot() -> IncidentSnapshot:
    snap = acknowledged_snapshot()
    resolved = make_event(3, "resolved", 65, actor="U0456EFGH", text="Rolled back to v1")
    return replace(
        snap,
        incident=replace(snap.incident, status="resolved", resolved_at=at(65)),
        events=[*snap.events, resolved],
    )


# --- Validators ------------------------------------------------------------------------------


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every Slack text object ({"type": "mrkdwn"|"plain_text", "text": …}) in a payload."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            found.append(node)
        for value in node.values():
            found += text_objects(value)
    elif isinstance(node, list):
        for item in node:
            found += text_objects(item)
    return found


def assert_within_limits(message: dict[str, Any]) -> None:
    """Walk a message and check every Slack limit this bot promises to respect."""
    assert set(message) == {"text", "blocks"}
    assert isinstance(message["text"], str) and message["text"].strip()
    assert len(message["text"]) <= 3000
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    json.dumps(message)  # plain, serialisable data
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(len(field["text"]) <= 2000 for field in fields)
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(len(element["text"]) <= 3000 for element in block["elements"])
        elif kind == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75
                assert len(button["value"]) <= 2000
                assert len(button["action_id"]) <= 255
        else:
            assert kind == "divider", f"unexpected block type {kind}"
    texts = text_objects(blocks)
    assert all(obj["text"].strip() for obj in texts), "Slack rejects empty text"
    assert sum(len(obj["text"]) for obj in texts) <= 12_000


def all_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in all_strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return [node] if isinstance(node, str) else []


OWN_TOKEN = re.compile(
    r"^<(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+(\|[^<>|]*)?|!date\^\d+\^[^<>|]+\|[^<>]+|https?://[^<>|\s]+\|[^<>|]+)>$"
)


def assert_only_own_tokens(message: dict[str, Any], allow_here: bool = False) -> None:
    """Every <…> token must be one Warroom builds itself; untrusted text has none."""
    for string in all_strings(message):
        for token in re.findall(r"<[^<>]*>", string):
            if allow_here and token == "<!here>":
                continue
            assert OWN_TOKEN.match(token), f"foreign token {token!r} in {string!r}"


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def flat(message: dict[str, Any]) -> str:
    return "\n".join(all_strings(message))


# --- mrkdwn primitives -----------------------------------------------------------------------


def test_escape_touches_only_the_three_control_characters() -> None:
    assert mrkdwn.escape("<!channel> & \"q\" 'a'") == "&lt;!channel&gt; &amp; \"q\" 'a'"
    assert mrkdwn.escape("a &amp; b") == "a &amp;amp; b"


@pytest.mark.parametrize("limit", range(1, 40))
def test_truncate_never_splits_an_entity(limit: int) -> None:
    text = mrkdwn.escape("ab<&>" * 10)
    cut = mrkdwn.truncate(text, limit)
    assert len(cut) <= limit
    body = cut.removesuffix("…")
    assert cut.endswith("…")
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", body), cut
    assert text.startswith(body)


def test_truncate_keeps_short_text_and_never_splits_a_mention() -> None:
    assert mrkdwn.truncate("short", 5) == "short"
    cut = mrkdwn.truncate("hello <@U0123ABCD> there", 12)
    assert cut == "hello…"
    assert mrkdwn.truncate("anything", 0) == ""


def test_mention_only_wraps_well_formed_user_ids() -> None:
    assert mrkdwn.mention("U0123ABCD") == "<@U0123ABCD>"
    assert mrkdwn.mention("W0123") == "<@W0123>"
    assert mrkdwn.mention("<!channel>") == "&lt;!channel&gt;"
    assert mrkdwn.mention("u0123abcd") == "u0123abcd"
    assert mrkdwn.mention(None) == "nobody"


def test_channel_link_and_dates() -> None:
    assert mrkdwn.channel_link("C0INC3", "inc-3") == "<#C0INC3|inc-3>"
    assert mrkdwn.channel_link(None, "a|<b>") == "#a&lt;b&gt;"
    assert mrkdwn.channel_link("<!here>", None) == "no channel yet"
    stamp = datetime(2026, 11, 29, 14, 3, tzinfo=UTC)
    assert mrkdwn.ts(stamp) == (
        f"<!date^{int(stamp.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-29 14:03 UTC>"
    )
    assert mrkdwn.ts(stamp.replace(tzinfo=None)) == mrkdwn.ts(stamp)  # naive means UTC


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (42, "42s"),
        (252, "4m 12s"),
        (420, "7m"),
        (3900, "1h 5m"),
        (3600, "1h"),
        (2 * 86400 + 3 * 3600 + 59, "2d 3h"),
        (-5, "0s"),
    ],
)
def test_duration(seconds: int, expected: str) -> None:
    assert mrkdwn.duration(timedelta(seconds=seconds)) == expected


# --- Escaping across every builder -----------------------------------------------------------


def hostile_snapshot() -> IncidentSnapshot:
    alert = make_alert(
        1,
        name=INJECTION,
        summary=INJECTION,
        labels={"model": INJECTION, "env": "prod"},
        links={"<!here>": "https://ok.example", "x": "javascript:alert(1)"},
    )
    events = [
        make_event(1, "note", 2, actor="U0123ABCD", text=INJECTION),
        make_event(2, "status", 3, actor="U0123ABCD", text=INJECTION),
    ]
    return make_snapshot(
        incident=make_incident(
            title=INJECTION, status_text=INJECTION, channel_name="<!channel>", playbook_id="<x>"
        ),
        alerts=[alert],
        pages=[make_page(7, role_name=INJECTION)],
        steps=[make_step(1, title=INJECTION, role="<!channel>")],
        events=events,
    )


def hostile_messages() -> list[dict[str, Any]]:
    snap = hostile_snapshot()
    return [
        render.incident_card(snap),
        render.page_message(snap, snap.pages[0]),
        *(render.event_message(snap, event) for event in snap.events),
        render.event_message(snap, make_event(9, "resolved", 9, text=INJECTION)),
        render.event_message(snap, make_event(9, "weird-kind", 9, text=INJECTION)),
        render.event_message(snap, make_event(9, "paged", 9, data={"user_id": "<!channel>"})),
        render.incident_list([snap.incident]),
    ]


def test_untrusted_text_never_becomes_a_mention_or_link() -> None:
    for message in hostile_messages():
        dumped = json.dumps(message, ensure_ascii=False)
        assert "<!channel>" not in dumped
        assert "<https://evil" not in dumped
        assert "&lt;!channel&gt;" in dumped
        assert_only_own_tokens(message)
        assert_within_limits(message)


def test_note_text_is_escaped_and_quoted() -> None:
    snap = hostile_snapshot()
    message = render.event_message(snap, snap.events[0])
    section = message["blocks"][0]["text"]["text"]
    assert section.startswith("📝 *Note* from <@U0123ABCD>\n>")
    assert "&lt;!channel&gt; wake up &lt;@U999999&gt;" in section


def test_only_plain_http_links_are_rendered() -> None:
    card = flat(render.incident_card(hostile_snapshot()))
    assert "<https://ok.example|&lt;!here&gt;>" in card
    assert "javascript:" not in card
    safe = flat(render.incident_card(make_snapshot()))
    assert "<https://runbooks.example/drift?x=1&amp;y=2|runbook>" in safe


# --- Limits under load -----------------------------------------------------------------------


def huge_snapshot() -> IncidentSnapshot:
    long = "x&<" * 4000  # 12k raw, 36k escaped
    alerts = [
        make_alert(n, summary=long, name="N" * 500, labels={f"k{i}": long for i in range(20)})
        for n in range(200)
    ]
    pages = [
        make_page(n, role=f"role-{n}", role_name=long[:300], attempt=n % 3 + 1) for n in range(40)
    ]
    return make_snapshot(
        incident=make_incident(title=long, status_text=long, summary=long),
        alerts=alerts,
        pages=pages,
        steps=[make_step(n, title=long) for n in range(1, 61)],
        events=[make_event(n, "note", n, text=long) for n in range(50)],
    )


def test_card_with_200_alerts_and_huge_text_stays_within_limits() -> None:
    snap = huge_snapshot()
    card = render.incident_card(snap)
    assert_within_limits(card)
    assert "…and 195 more firing alerts" in flat(card)
    assert [b["action_id"] for b in buttons(card)] == ["incident_ack"]


def test_every_builder_stays_within_limits_under_load() -> None:
    snap = huge_snapshot()
    long_summary = "s" * 10_000
    resolved = replace(snap, incident=replace(snap.incident, status="resolved"))
    messages = [
        render.incident_card(resolved),
        render.page_message(snap, snap.pages[0]),
        render.page_message(snap, replace(snap.pages[0], state="escalated")),
        render.event_message(snap, make_event(1, "resolved", 5, text=long_summary)),
        render.event_message(snap, make_event(1, "note", 5, text=long_summary)),
        render.event_message(snap, make_event(1, "alert_resolved", 5, text=long_summary)),
        render.event_message(snap, make_event(1, "whatever", 5, text=long_summary)),
        render.incident_list([replace(snap.incident, number=n) for n in range(300)]),
    ]
    for message in messages:
        assert_within_limits(message)
    assert "…and 197 more firing alerts" in flat(messages[1])


def test_block_primitives_enforce_their_own_limits() -> None:
    blocks = [
        kit.header("h" * 500),
        kit.section("s" * 5000),
        kit.fields([(f"F{n}", "v" * 5000) for n in range(12)]),
        kit.context(*(["c" * 5000] * 12)),
        kit.actions("a", kit.button("b" * 100, "incident_ack", "1")),
    ]
    assert_within_limits({"text": "t", "blocks": kit.fit(blocks)})


def test_a_message_with_too_many_blocks_is_shortened_but_keeps_its_button() -> None:
    snap = make_snapshot(alerts=[make_alert(n, summary="y" * 400) for n in range(5)])
    blocks = [kit.section("z" * 2900) for _ in range(60)] + [_card_actions(snap.incident)]
    fitted = kit.fit(blocks)
    message = {"text": "t", "blocks": fitted}
    assert_within_limits(message)
    assert fitted[-2]["type"] == "actions"
    assert "Shortened" in fitted[-1]["elements"][0]["text"]


# --- The incident card by state --------------------------------------------------------------


def test_open_card_has_fields_pages_alerts_steps_and_ack_button() -> None:
    card = render.incident_card(make_snapshot())
    assert_within_limits(card)
    header = card["blocks"][0]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "🟠 #3 Model drift", "emoji": True},
    }
    text = flat(card)
    assert "*Status*\nOpen" in text
    assert "*Alerts*\n2 firing / 3 total" in text
    assert "*Playbook*\nModel drift" in text
    assert "⏳ <@U0123ABCD> paged, waiting until <!date^" in text
    assert "*ModelDrift1* — PSI above 0.2 for feature f1" in text
    assert "`model=fraud-v2` `env=prod`" in text
    assert "☐ 1. Step 1" in text and "☑ 2. Step 2" in text and "<@U0456EFGH>" in text
    assert card["text"].startswith("🟠 #3 Model drift")
    (button,) = buttons(card)
    assert button["action_id"] == "incident_ack"
    assert button["value"] == "42"
    assert button["style"] == "primary"
    assert button["text"]["text"] == "Acknowledge"


def test_acknowledged_card_drops_the_button() -> None:
    card = render.incident_card(acknowledged_snapshot())
    assert "*Status*\nAcknowledged" in flat(card)
    assert "✅ acknowledged by <@U0123ABCD>" in flat(card)
    assert buttons(card) == []


def test_status_is_derived_from_the_timeline_alone() -> None:
    event = make_event(2, "acknowledged", 7, actor="U0123ABCD")
    snap = make_snapshot(events=[event])
    assert render.incident_status(snap) == "Acknowledged"
    assert render.incident_status(make_snapshot()) == "Open"


def test_resolved_card_shows_summary_and_durations_without_buttons() -> None:
    card = render.incident_card(resolved_snapshot())
    assert_within_limits(card)
    assert not [b for b in card["blocks"] if b["type"] == "actions"]
    text = flat(card)
    assert "*Status*\nResolved" in text
    assert "✅ *Resolved* by <@U0456EFGH>\n>Rolled back to v1" in text
    assert "*Time to acknowledge*\n7m" in text
    assert "*Time to resolve*\n1h 5m" in text


def test_nobody_on_call_and_status_text_on_the_card() -> None:
    snap = make_snapshot(
        incident=make_incident(status_text="Rolling back"),
        pages=[make_page(1, user_id=None, role_name="AIOps specialist")],
        events=[
            make_event(1, "status", 3, actor="U0123ABCD", text="Rolling back"),
            make_event(2, "unroutable", 3, data={"role": "data-scientist"}),
        ],
    )
    text = flat(render.incident_card(snap))
    assert "*AIOps specialist*: ⚠️ nobody on call" in text
    assert "*data-scientist*: ⚠️ nobody on call" in text
    assert "*Latest status* · <@U0123ABCD> <!date^" in text
    assert ">Rolling back" in text


# --- The page DM -----------------------------------------------------------------------------


def test_pending_page_has_the_page_ack_button() -> None:
    snap = make_snapshot()
    message = render.page_message(snap, snap.pages[0])
    assert_within_limits(message)
    ack, escalate, reassign = buttons(message)
    assert (ack["action_id"], ack["value"], ack["style"]) == ("page_ack", "77", "primary")
    assert (escalate["action_id"], escalate["value"]) == ("page_escalate", "77")
    assert (reassign["action_id"], reassign["value"]) == ("page_reassign", "77")
    text = flat(message)
    assert "You are paged as ML engineer" in text
    assert "<#C0INC3|inc-3-model-drift>" in text
    assert "PSI above 0.2 for feature f1" in text
    assert "SEV2" in text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"state": "acknowledged", "acknowledged_at": at(7), "acknowledged_by": "U0123ABCD"},
            "✅ Acknowledged by <@U0123ABCD>",
        ),
        ({"state": "escalated"}, "↪️ Not acknowledged in time"),
        ({"state": "exhausted"}, "nobody was left to page"),
        ({"state": "cancelled"}, "✖️ Page cancelled"),
    ],
)
def test_answered_page_has_no_button_and_says_what_happened(
    changes: dict[str, Any], expected: str
) -> None:
    snap = make_snapshot()
    message = render.page_message(snap, replace(snap.pages[0], **changes))
    assert buttons(message) == []
    assert expected in flat(message)


def test_cancelled_page_names_who_acknowledged() -> None:
    snap = acknowledged_snapshot()
    page = make_page(8, user_id="U0456EFGH", state="cancelled")
    assert "<@U0123ABCD> acknowledged the incident" in flat(render.page_message(snap, page))


# --- Timeline events -------------------------------------------------------------------------


U1, U2 = "U0123ABCD", "U0456EFGH"
EVENT_CASES = [
    ("paged", {"role": "ml-engineer", "user_id": U1, "attempt": 2}, "",
     f"📟 Paged <@{U1}> as *ML engineer* (attempt 2)"),
    ("escalated", {"role": "ml-engineer", "from_user": U1, "to_user": U2}, "",
     f"↪️ <@{U1}> did not acknowledge in time; paging <@{U2}>"),
    ("unroutable", {"role": "aiops-specialist"}, "",
     "⚠️ Nobody is on call as *aiops-specialist*"),
    ("acknowledged", {"role": "ml-engineer"}, "", f"✅ <@{U1}> acknowledged as *ML engineer*"),
    ("status", {}, "Rolling back", f"📣 *Status update* from <@{U1}>\n>Rolling back"),
    ("resolved", {}, "", f"🎉 *Resolved* by <@{U1}>\n_No summary was given._"),
    ("alert_resolved", {}, "ModelDrift1 resolved", "🟢 ModelDrift1 resolved"),
    ("declared", {}, "", f"🚨 *Incident declared* by <@{U1}>: 🟠 #3 Model drift"),
    ("mystery", {}, "something", "🕑 something"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "data", "text", "expected"), EVENT_CASES)
def test_event_messages_by_kind(kind: str, data: dict[str, Any], text: str, expected: str) -> None:
    event = make_event(5, kind, 7, actor="U0123ABCD", text=text, data=data)
    message = render.event_message(make_snapshot(), event)
    assert_within_limits(message)
    assert_only_own_tokens(message)
    assert message["blocks"][0]["text"]["text"].startswith(expected)
    context = message["blocks"][-1]["elements"]
    assert context[0]["text"] == "<@U0123ABCD>"
    assert context[1]["text"] == mrkdwn.ts(at(7))


def test_exhausted_escalation_alerts_the_channel() -> None:
    event = make_event(5, "escalation_exhausted", 7, data={"role": "ml-engineer"})
    message = render.event_message(make_snapshot(), event)
    assert message["text"].startswith("<!here> 🚨 Nobody acknowledged the *ML engineer* page")
    assert message["blocks"][-1]["elements"][0]["text"] == "Warroom"
    assert_only_own_tokens(message, allow_here=True)


# --- Slash-command replies and console -------------------------------------------------------


def test_help_lists_every_subcommand_without_raw_brackets() -> None:
    text = render.help_text()
    for usage in ("help", "declare &lt;title&gt;", "list", "ack", "note &lt;text&gt;"):
        assert f"`/incident {usage}`" in text
    for usage in ("status &lt;text&gt;", "resolve [summary]", "postmortem"):
        assert f"`/incident {usage}`" in text
    assert "`/incident note #12 text`" in text
    assert "<title>" not in text


def test_incident_list() -> None:
    empty = render.incident_list([])
    assert empty["text"] == "No open incidents."
    assert_within_limits(empty)
    incidents = [
        make_incident(),
        make_incident(id=43, number=4, title="GPU OOM", severity="sev1", channel_id="C0INC4"),
        make_incident(id=44, number=5, title="Old", status="resolved"),
    ]
    message = render.incident_list(incidents, now=at(13))
    assert_within_limits(message)
    text = flat(message)
    assert "#5" not in text
    assert text.index("#4 GPU OOM") < text.index("#3 Model drift")  # worst first
    assert "<#C0INC3|inc-3-model-drift>" in text
    assert "SEV2" in text and "opened 12m ago" in text
    assert "{ago}" in flat(render.incident_list(incidents))


def test_console_lines_are_readable() -> None:
    card = render.incident_card(make_snapshot())
    line = render.console_line("chat.postMessage", {"channel": "inc-3-model-drift", **card})
    assert line.startswith("[slack] #inc-3-model-drift ← 🟠 #3 Model drift")
    assert "{" not in line
    dm = render.page_message(make_snapshot(), make_page(7))
    assert render.console_line("chat.postMessage", {"channel": "U0123ABCD", **dm}).startswith(
        "[slack] DM U0123ABCD ← 📟 Paged as ML engineer"
    )
    assert (
        render.console_line("conversations.create", {"name": "inc-3-model-drift"})
        == "[slack] create channel #inc-3-model-drift"
    )
    note = render.event_message(make_snapshot(), make_event(1, "note", 2, text="a &\x1b[31m b"))
    rendered = render.console_line("chat.postMessage", {"channel": "C0INC3", **note})
    assert "\x1b" not in rendered
    assert "a &[31m b" in rendered
    assert render.console_line("reactions.add", {"channel": "C1", "name": "eyes"}) == (
        "[slack] reactions.add channel=C1 name=eyes"
    )


# --- Several pages in one DM -----------------------------------------------------------------


def combined(n: int, title: str = "Model drift") -> list[tuple[IncidentSnapshot, Any]]:
    """``n`` pages to one person, each for its own incident (number 10 + k)."""
    shown = []
    for k in range(n):
        incident = make_incident(id=100 + k, number=10 + k, title=f"{title} {k}")
        page = make_page(k, state="acknowledged" if k == 1 else "pending")
        shown.append((make_snapshot(incident=incident, pages=[page]), page))
    return shown


def test_one_page_is_the_page_message_as_ever() -> None:
    [(snap, page)] = combined(1)
    assert render.pages_message([(snap, page)]) == render.page_message(snap, page)


def test_a_combined_dm_names_every_incident_and_gives_each_page_its_buttons() -> None:
    message = render.pages_message(combined(3))
    assert_within_limits(message)
    assert message["text"].startswith("📟 Paged for 3 incidents: ")
    assert all(f"#{10 + k} Model drift {k}" in message["text"] for k in range(3))
    acks = [b["value"] for b in buttons(message) if b["action_id"] == render.ACK_PAGE_ACTION]
    assert acks == ["70", "72"]  # page 71 is acknowledged: its outcome, no buttons
    assert "Acknowledged by" in flat(message)


def test_a_full_combined_dm_stays_within_slacks_limits() -> None:
    long = "x&<" * 4000
    message = render.pages_message(combined(render.PAGES_PER_DM, title=long))
    assert_within_limits(message)
    assert len(message["blocks"]) <= render.MAX_BLOCKS
    pages_with_buttons = render.PAGES_PER_DM - 1
    assert len(buttons(message)) == 3 * pages_with_buttons  # no page lost its buttons
    assert all(f"#{10 + k} " in message["text"] for k in range(render.PAGES_PER_DM))
