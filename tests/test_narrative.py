"""The optional LLM narrative against a real local chat-completions server: a good draft, a
draft citing events that do not exist (flagged), and every way the call can fail (None)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.narrative import (
    MAX_EVENTS,
    SYSTEM_PROMPT,
    Narrative,
    draft_narrative,
    event_line,
    prompt_events,
)
from bot.postmortem import render_markdown
from tests.snapshots import make_event, make_lifecycle_snapshot

GOOD = (
    "ModelDrift1 fired at 10:00 and the incident opened 1m later [#1, #2]. "
    "@U0456EFGH acknowledged the page 7m after detection [#1, #7]. "
    "Traffic was shifted to v1 30m after detection [#1, #13], "
    "and @U0456EFGH resolved the incident by rolling back [#15]."
)
INVENTED = (
    "@U0456EFGH acknowledged the page 7m after detection [#1, #7]. "
    "The root cause was a schema change [#42]. "
    "It was resolved 2h after detection [#1, #15]."
)


@dataclass
class FakeChat:
    """A chat-completions endpoint that answers what the test sets in ``reply``."""

    reply: tuple[int, str] = (200, "")
    delay: float = 0.0
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def answer(self, content: str) -> None:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
        self.reply = (200, json.dumps(body))


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append((dict(self.headers), {"path": self.path, **body}))
            time.sleep(fake.delay)
            status, text = fake.reply
            payload = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: the timeout test wants exactly that

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


async def draft(
    chat: FakeChat, within: float = 5, api_key: str | None = "sk-test"
) -> Narrative | None:
    async with httpx.AsyncClient() as client:
        return await draft_narrative(
            make_lifecycle_snapshot(),
            url=chat.url,
            model="small-model",
            api_key=api_key,
            client=client,
            timeout=within,
        )


async def test_a_good_draft_passes_its_citation_check(chat: FakeChat) -> None:
    chat.answer(GOOD)
    story = await draft(chat)
    assert story is not None
    assert story.text == GOOD
    assert story.problems == [] and not story.flagged
    headers, body = chat.requests[0]
    assert body["path"] == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "small-model"
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "[#3]" in SYSTEM_PROMPT and "ONLY" in SYSTEM_PROMPT
    assert user["role"] == "user"
    ack = "#7 2026-11-29T10:07:00Z @U0456EFGH acknowledged U0456EFGH acknowledged"
    assert ack in user["content"]
    assert "#1 2026-11-29T10:00:00Z Warroom detected ModelDrift1 fired" in user["content"]
    # The draft goes into the document and the whole document still checks out.
    snap = make_lifecycle_snapshot()
    assert "## Narrative (draft)" in render_markdown(snap, narrative=story)


async def test_a_draft_citing_events_that_do_not_exist_is_flagged(chat: FakeChat) -> None:
    chat.answer(INVENTED)
    story = await draft(chat, api_key=None)
    assert story is not None and story.flagged
    assert any("cites #42, which is not an event of incident #3" in p for p in story.problems)
    assert any("'2h' is not the time between" in p for p in story.problems)
    assert "Authorization" not in chat.requests[0][0]


async def test_uncited_sentences_and_reasoning_blocks(chat: FakeChat) -> None:
    chat.answer("<think>scratch [#999]</think>It went fine. It was resolved [#15].")
    story = await draft(chat)
    assert story is not None
    assert story.text == "It went fine. It was resolved [#15]."
    assert story.problems == ["line 1: sentence cites no event: It went fine."]


@pytest.mark.parametrize(
    "reply",
    [
        (500, '{"error": {"message": "boom"}}'),
        (401, '{"error": {"message": "bad key"}}'),
        (200, "this is not json"),
        (200, '{"choices": []}'),
        (200, '{"choices": [{"message": {"content": null}}]}'),
        (200, '{"choices": [{"message": {"content": "   "}}]}'),
    ],
    ids=["500", "401", "invalid JSON", "no choices", "null content", "empty content"],
)
async def test_failures_give_none(chat: FakeChat, reply: tuple[int, str]) -> None:
    chat.reply = reply
    assert await draft(chat) is None


async def test_a_slow_endpoint_times_out_to_none(chat: FakeChat) -> None:
    chat.answer(GOOD)
    chat.delay = 2
    started = time.monotonic()
    assert await draft(chat, within=0.2) is None
    assert time.monotonic() - started < 1.5


async def test_an_unreachable_endpoint_gives_none() -> None:
    async with httpx.AsyncClient() as client:
        story = await draft_narrative(
            make_lifecycle_snapshot(),
            url="http://127.0.0.1:9/v1",  # discard port: nothing listens
            model="m",
            api_key=None,
            client=client,
            timeout=2,
        )
    assert story is None


def test_long_timelines_keep_milestones_within_the_prompt_budget() -> None:
    snap = make_lifecycle_snapshot()
    notes = [make_event(1000 + n, "note", 10 + n / 100, text=f"n{n}") for n in range(1000)]
    events, omitted = prompt_events(replace(snap, events=[*snap.events, *notes]))
    assert len(events) == MAX_EVENTS and omitted == len(snap.events) + 1000 - MAX_EVENTS
    assert {7, 13, 15} <= {e.id for e in events}  # acknowledged, mitigated, resolved


def test_event_lines_are_single_lines() -> None:
    line = event_line(make_event(5, "note", 3, actor="U1", text="a\nb   c"))
    assert line == "#5 2026-11-29T10:03:00Z @U1 note a b c"
