"""``/incident …``: parse the text of the slash command into a subcommand call.

The grammar is ``/incident <subcommand> [#N | #channel] [text]``. Inside an incident
channel the incident is implied; elsewhere ``#N`` (or a channel mention) names it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import mrkdwn, render, service
from bot.errors import UserError
from bot.incidents import IncidentRef
from bot.runtime import Runtime

_REF = re.compile(r"^(?:#(?P<number>\d+)|<#(?P<channel>[CG][A-Z0-9]+)(?:\|[^>]*)?>)$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    ref: IncidentRef
    text: str  # what follows the incident reference
    rest: str  # everything after the subcommand, reference included
    user: str


def parse(text: str, *, user: str, channel: str) -> Command:
    """Split ``text``; a ``#N`` or channel mention after the subcommand names the incident.

    Slack sends ``&``, ``<`` and ``>`` typed by the user as entities; they are decoded here
    and escaped again by the renderer, so a note reads back exactly as it was typed.
    """
    name, _, rest = html.unescape(text).strip().partition(" ")
    first, _, remainder = rest.strip().partition(" ")
    match = _REF.match(first)
    if match and match["number"]:
        ref = IncidentRef(number=int(match["number"]))
    elif match:
        ref = IncidentRef(channel_id=match["channel"])
    else:
        ref, remainder = IncidentRef(channel_id=channel), rest
    return Command(
        name=name.lower() or "help", ref=ref, text=remainder.strip(), rest=rest.strip(), user=user
    )


Reply = dict[str, Any]
Handler = Callable[[Runtime, Command], Awaitable[Reply]]


def _text(message: str) -> Reply:
    return {"response_type": "ephemeral", "text": message}


async def _help(rt: Runtime, cmd: Command) -> Reply:
    return _text(render.help_text())


async def _list(rt: Runtime, cmd: Command) -> Reply:
    return {"response_type": "ephemeral", **render.incident_list(await service.list_open(rt))}


async def _declare(rt: Runtime, cmd: Command) -> Reply:
    outcome = await service.declare(rt, cmd.user, cmd.rest)
    name = outcome.incident.channel_name or f"inc-{outcome.incident.number}"
    return _text(f"{outcome.message} Its channel #{name} is being created; you will be invited.")


async def _ack(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.acknowledge(rt, cmd.user, cmd.ref)).message)


async def _note(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.note(rt, cmd.user, cmd.ref, cmd.text)).message)


async def _status(rt: Runtime, cmd: Command) -> Reply:
    outcome = await service.status(rt, cmd.user, cmd.ref, cmd.text)
    if outcome.message:
        return _text(outcome.message)
    return {"response_type": "ephemeral", **render.incident_list([outcome.incident])}


async def _resolve(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.resolve(rt, cmd.user, cmd.ref, cmd.text)).message)


async def _steps(rt: Runtime, cmd: Command) -> Reply:
    snap = await service.get_snapshot(rt, cmd.ref)
    if not snap.steps:
        return _text(f"Incident #{snap.incident.number} has no playbook steps.")
    return {"response_type": "ephemeral", **render.steps_message(snap)}


async def _postmortem(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.share_postmortem(rt, cmd.ref)).message)


async def _reload(rt: Runtime, cmd: Command) -> Reply:
    return _text(mrkdwn.escape(service.reload_config(rt, cmd.user)))


async def _silence(rt: Runtime, cmd: Command) -> Reply:
    created = await service.silence(rt, cmd.user, cmd.rest)
    return {"response_type": "in_channel", "text": render.silence_created(created)}


async def _silences(rt: Runtime, cmd: Command) -> Reply:
    return {"response_type": "ephemeral", **render.silence_list(await service.list_silences(rt))}


ASSIGN_USAGE = (
    "Usage: `/incident assign <role> @user`, e.g. `/incident assign incident-commander @ana`."
)
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_ENTRY = re.compile(r"#?(\d+)$")


async def _timeline(rt: Runtime, cmd: Command) -> Reply:
    snap = await service.timeline_entries(rt, cmd.ref)
    return {"response_type": "ephemeral", **render.timeline_list(snap)}


async def _remove(rt: Runtime, cmd: Command) -> Reply:
    found = _ENTRY.match(cmd.text.strip())
    if not found:
        return _text(
            "Name the entry: `/incident remove #42` (numbers are in `/incident timeline`)."
        )
    return _text((await service.remove_entry(rt, cmd.user, cmd.ref, int(found[1]))).message)


async def _mitigated(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.mitigated(rt, cmd.user, cmd.ref, cmd.text)).message)


async def _severity(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.set_severity(rt, cmd.user, cmd.ref, cmd.text)).message)


async def _assign(rt: Runtime, cmd: Command) -> Reply:
    role, _, rest = cmd.text.partition(" ")
    user = _USER.search(rest)
    if not role or not user:
        return _text(ASSIGN_USAGE)
    return _text((await service.assign(rt, cmd.user, cmd.ref, role, user[1])).message)


async def _followup(rt: Runtime, cmd: Command) -> Reply:
    return _text((await service.add_followup(rt, cmd.user, cmd.ref, cmd.text)).message)


async def _followups(rt: Runtime, cmd: Command) -> Reply:
    return {"response_type": "ephemeral", **render.followup_list(await service.open_followups(rt))}


async def _stats(rt: Runtime, cmd: Command) -> Reply:
    found = re.fullmatch(r"(\d{1,4})d?", cmd.rest.strip() or "30d")
    if not found or not 1 <= int(found[1]) <= 3650:
        return _text("Usage: `/incident stats [30d]` (a number of days, up to 3650).")
    text = await service.stats(rt, int(found[1]))
    return _text(f"```{mrkdwn.truncate(mrkdwn.escape(text), 3500)}```")


async def _page(rt: Runtime, cmd: Command) -> Reply:
    role, _, message = cmd.text.partition(" ")
    if not role:
        return _text("Usage: `/incident page <role> [message]`, e.g. `/incident page ml-engineer`.")
    return _text((await service.page(rt, cmd.user, cmd.ref, role, message.strip())).message)


async def _oncall(rt: Runtime, cmd: Command) -> Reply:
    rows = await service.oncall(rt, cmd.rest.strip() or None)
    return _text(render.oncall_text(rows))


async def _override(rt: Runtime, cmd: Command) -> Reply:
    return {"response_type": "in_channel", "text": await service.override(rt, cmd.user, cmd.rest)}


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "list": _list,
    "declare": _declare,
    "ack": _ack,
    "note": _note,
    "status": _status,
    "resolve": _resolve,
    "postmortem": _postmortem,
    "steps": _steps,
    "reload": _reload,
    "silence": _silence,
    "silences": _silences,
    "timeline": _timeline,
    "remove": _remove,
    "mitigated": _mitigated,
    "severity": _severity,
    "assign": _assign,
    "followup": _followup,
    "followups": _followups,
    "stats": _stats,
    "page": _page,
    "oncall": _oncall,
    "override": _override,
}


async def run(rt: Runtime, cmd: Command) -> Reply:
    """Run one subcommand; a UserError becomes the reply, an unknown name gets help."""
    handler = HANDLERS.get(cmd.name)
    if handler is None:
        return _text(f"I don't know `{cmd.name}`.\n{render.help_text()}")
    try:
        return await handler(rt, cmd)
    except UserError as exc:
        return _text(str(exc))
