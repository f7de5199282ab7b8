"""How ``/incident`` text is split into a subcommand, an incident reference and the rest."""

from __future__ import annotations

import pytest

from bot.incidents import IncidentRef
from handlers.commands import parse


@pytest.mark.parametrize(
    "text, name, ref, rest",
    [
        ("", "help", IncidentRef(channel_id="CHERE"), ""),
        ("ACK", "ack", IncidentRef(channel_id="CHERE"), ""),
        ("note #12 rolled back", "note", IncidentRef(number=12), "rolled back"),
        (
            "note <#C0INC12|inc-12-drift> rolled back",
            "note",
            IncidentRef(channel_id="C0INC12"),
            "rolled back",
        ),
        ("note #12", "note", IncidentRef(number=12), ""),
        ("note 12 GPUs are down", "note", IncidentRef(channel_id="CHERE"), "12 GPUs are down"),
        ("status  two  spaces ", "status", IncidentRef(channel_id="CHERE"), "two  spaces"),
    ],
)
def test_parse(text: str, name: str, ref: IncidentRef, rest: str) -> None:
    cmd = parse(text, user="U1", channel="CHERE")
    assert (cmd.name, cmd.ref, cmd.text) == (name, ref, rest)


def test_entities_slack_sent_are_decoded_once() -> None:
    # Slack sends "a < b & c" as "a &lt; b &amp; c"; the renderer escapes it again on output.
    cmd = parse("note a &lt; b &amp; c &lt;!channel&gt;", user="U1", channel="C1")
    assert cmd.text == "a < b & c <!channel>"


def test_declare_keeps_the_whole_title() -> None:
    assert parse("declare #3 outage in eu", user="U1", channel="C1").rest == "#3 outage in eu"
