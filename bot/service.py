"""The service layer: one function per thing a person or a sender asks Warroom to do.

Handlers call exactly one of these with plain data. Each runs one transaction (state,
timeline and effects together) and returns plain data for the handler to render.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import (
    capture,
    effects,
    followups,
    handoffs,
    incidents,
    oncall_commands,
    overrides,
    paging,
    postmortems,
    silences,
    steps,
)
from bot.calendar import feed_path
from bot.errors import UserError
from bot.incidents import IncidentRef
from bot.models import Incident, KeyValue
from bot.postmortem import render_markdown
from bot.runtime import Runtime
from bot.snapshot import (
    FollowupView,
    IncidentSnapshot,
    IncidentView,
    OncallRow,
    PageView,
    SilenceView,
    StepView,
)
from bot.sql import insert
from bot.stats import compute_stats, render_stats_text


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did, for the reply: the incident after the change and a sentence."""

    incident: IncidentView
    message: str


async def declare(rt: Runtime, actor: str, title: str) -> Outcome:
    title = title.strip()
    if not title:
        raise UserError("Give the incident a title: `/incident declare GPU nodes down in us-east`.")
    async with rt.unit_of_work() as session:
        playbook = rt.config.playbooks.default
        incident = await incidents.open_incident(
            session, rt.config, playbook=playbook, title=title, now=rt.clock(), declared_by=actor
        )
        return await _outcome(session, rt, incident, f"Declared incident #{incident.number}.")


async def acknowledge(
    rt: Runtime, actor: str, ref: IncidentRef | None = None, *, page_id: int | None = None
) -> Outcome:
    """Acknowledge one page (its button) or every waiting page of the incident (the command)."""
    async with rt.unit_of_work() as session:
        if page_id is not None:
            incident = await incidents.find_by_page(session, page_id)
        else:
            incident = await incidents.find(session, ref or IncidentRef())
        pages = await incidents.acknowledge(
            session, incident, actor, now=rt.clock(), config=rt.config, page_id=page_id
        )
        if pages:
            roles = ", ".join(sorted({rt.config.role_name(p.role) for p in pages}))
            message = f"You acknowledged incident #{incident.number} ({roles})."
        else:
            message = f"Nothing to acknowledge: no page of incident #{incident.number} is waiting."
        return await _outcome(session, rt, incident, message)


async def note(rt: Runtime, actor: str, ref: IncidentRef, text: str) -> Outcome:
    if not text.strip():
        raise UserError("Write the note after the command: `/incident note restarted the pods`.")
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        await incidents.add_note(session, incident, actor, text.strip(), now=rt.clock())
        return await _outcome(session, rt, incident, "Note added to the timeline.")


async def status(rt: Runtime, actor: str, ref: IncidentRef, text: str) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        if not text.strip():
            return await _outcome(session, rt, incident, "")
        await incidents.set_status(session, incident, actor, text.strip(), now=rt.clock())
        return await _outcome(session, rt, incident, "Status posted.")


async def resolve(rt: Runtime, actor: str, ref: IncidentRef, summary: str) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        await incidents.resolve(
            session, rt.config, incident, actor, summary.strip(), now=rt.clock()
        )
        message = f"Resolved incident #{incident.number}; the postmortem is being posted."
        return await _outcome(session, rt, incident, message)


async def list_open(rt: Runtime) -> list[IncidentView]:
    async with rt.db.transaction() as session:
        return [incidents.view(i, rt.config) for i in await incidents.list_open(session)]


async def get_snapshot(rt: Runtime, ref: IncidentRef) -> IncidentSnapshot:
    async with rt.db.transaction() as session:
        incident = await incidents.find(session, ref)
        return await incidents.snapshot(session, rt.config, incident.id)


async def postmortem(rt: Runtime, ref: IncidentRef) -> str:
    return render_markdown(await get_snapshot(rt, ref))


async def share_postmortem(rt: Runtime, ref: IncidentRef) -> Outcome:
    """Regenerate the postmortem from the timeline and attach it to the incident channel."""
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        effects.post_postmortem(session, incident, now=rt.clock())
        where = f"<#{incident.channel_id}>" if incident.channel_id else "the incident channel"
        message = f"The postmortem of incident #{incident.number} is being attached to {where}."
        return await _outcome(session, rt, incident, message)


async def escalate_due(rt: Runtime, limit: int = 100) -> int:
    """Escalate pages past their deadline, one transaction each; returns how many escalated."""
    now = rt.clock()
    async with rt.db.transaction() as session:
        due = await paging.due_pages(session, now, limit)
    escalated = 0
    for page in due:
        async with rt.unit_of_work() as session:
            escalated += await incidents.escalate_page(session, rt.config, page, now=now)
    return escalated


async def finish_step(
    rt: Runtime, actor: str, step_id: int, skip_reason: str | None = None
) -> Outcome:
    """Mark a checklist step done, or skipped with a reason."""
    if skip_reason is not None and not skip_reason.strip():
        raise UserError("Say why the step is skipped; the reason goes on the timeline.")
    async with rt.unit_of_work() as session:
        step = await steps.find(session, step_id)
        incident = await incidents.lock(session, step.incident_id)
        assert incident is not None
        # Re-read under the incident's lock: two people pressing Done at once must not
        # both see the step pending.
        await session.refresh(step)
        await steps.finish(
            session,
            incident,
            step,
            actor,
            now=rt.clock(),
            skipped_because=skip_reason.strip() if skip_reason is not None else None,
        )
        verb = "skipped" if skip_reason is not None else "done"
        return await _outcome(session, rt, incident, f"Step {step.position + 1} {verb}.")


async def run_step_check(rt: Runtime, step_id: int) -> Outcome:
    async with rt.unit_of_work() as session:
        step = await steps.find(session, step_id)
        incident = await incidents.find(session, IncidentRef(id=step.incident_id))
        steps.request_check(session, step, now=rt.clock())
        return await _outcome(
            session, rt, incident, f"Running the check of step {step.position + 1}…"
        )


async def get_step(rt: Runtime, step_id: int) -> tuple[IncidentView, StepView]:
    async with rt.db.transaction() as session:
        step = await steps.find(session, step_id)
        snap = await incidents.snapshot(session, rt.config, step.incident_id)
    return snap.incident, next(s for s in snap.steps if s.id == step_id)


def reload_config(rt: Runtime, actor: str) -> str:
    """Re-read playbooks and on-call; only admins (``WARROOM_ADMINS``) may."""
    if actor not in rt.settings.admin_ids:
        raise UserError("Only Warroom admins can reload; they are listed in WARROOM_ADMINS.")
    problems = rt.reload_config()
    playbooks = sum(1 for _ in rt.config.playbooks)
    summary = f"Reloaded {playbooks} playbooks and {len(rt.config.oncall.roles)} on-call roles."
    if not problems:
        return summary
    listed = "\n".join(f"• {p}" for p in problems[:10])
    return f"{summary}\n{len(problems)} problem(s):\n{listed}"


async def confirm_subscription(rt: Runtime, url: str, topic: str) -> None:
    async with rt.unit_of_work() as session:
        effects.confirm_subscription(session, url, topic, now=rt.clock())


async def keep_open(rt: Runtime, actor: str, incident_id: int) -> Outcome:
    """Someone objects to the automatic resolution of a quiet incident."""
    async with rt.unit_of_work() as session:
        incident = await incidents.lock(session, incident_id)
        if incident is None or not incident.is_open or incident.auto_resolve_at is None:
            raise UserError("Nothing to keep open: this incident is not waiting to auto-resolve.")
        await incidents.cancel_auto_resolve(session, incident, actor, now=rt.clock())
        return await _outcome(
            session, rt, incident, "The incident stays open until someone resolves it."
        )


async def auto_resolve_due(rt: Runtime) -> int:
    """Resolve incidents whose alerts all resolved and stayed quiet for the playbook's period."""
    now = rt.clock()
    async with rt.db.transaction() as session:
        due = await incidents.due_for_auto_resolve(session, now)
    for incident_id in due:
        async with rt.unit_of_work() as session:
            incident = await incidents.lock(session, incident_id, skip_locked=True)
            if incident is None or not incident.is_open or incident.auto_resolve_at is None:
                continue
            if incident.auto_resolve_at > now:
                continue
            summary = "Every alert resolved and stayed quiet; Warroom resolved it automatically."
            await incidents.resolve(session, rt.config, incident, None, summary, now=now)
    return len(due)


async def silence(rt: Runtime, actor: str, text: str) -> SilenceView:
    request = silences.parse_request(text)
    async with rt.unit_of_work() as session:
        created = await silences.create(session, request, actor, now=rt.clock())
        return silences.view(created)


async def unsilence(rt: Runtime, actor: str, silence_id: int) -> SilenceView:
    async with rt.unit_of_work() as session:
        return silences.view(await silences.end(session, silence_id, actor, now=rt.clock()))


async def list_silences(rt: Runtime) -> list[SilenceView]:
    async with rt.db.transaction() as session:
        return [silences.view(s) for s in await silences.active(session, rt.clock())]


async def capture_message(
    rt: Runtime, *, event_id: str | None, channel: str, ts: str, added_by: str
) -> bool:
    """A message to add to its incident's timeline (📌 or the shortcut); False if ignored."""
    async with rt.unit_of_work() as session:
        if event_id is not None and not await capture.first_delivery(
            session, event_id, now=rt.clock()
        ):
            return False  # Slack's retry of an event we already handled
        try:
            incident = await incidents.find(session, IncidentRef(channel_id=channel))
        except UserError:
            return False  # not an incident channel
        if await capture.already_captured(session, incident.id, channel, ts):
            return False
        effects.capture_message(session, incident, channel, ts, added_by, now=rt.clock())
        return True


async def record_captured(
    rt: Runtime, incident_id: int, message: capture.SlackMessage, added_by: str
) -> None:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, IncidentRef(id=incident_id))
        event = await capture.record_message(session, incident, message, added_by, now=rt.clock())
        if event is not None:
            effects.refresh_card(session, incident, now=rt.clock())


async def timeline_entries(rt: Runtime, ref: IncidentRef, limit: int = 15) -> IncidentSnapshot:
    snap = await get_snapshot(rt, ref)
    return replace(snap, events=snap.events[-limit:])


async def remove_entry(rt: Runtime, actor: str, ref: IncidentRef, event_id: int) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        await capture.remove_entry(session, incident, event_id, actor, now=rt.clock())
        return await _outcome(
            session,
            rt,
            incident,
            f"Entry #{event_id} is out of the timeline (the removal is recorded).",
        )


async def mitigated(rt: Runtime, actor: str, ref: IncidentRef, text: str) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        await incidents.mitigated(session, incident, actor, text.strip(), now=rt.clock())
        return await _outcome(session, rt, incident, "Marked as mitigated.")


async def set_severity(rt: Runtime, actor: str, ref: IncidentRef, severity: str) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        await incidents.set_severity(session, incident, actor, severity, now=rt.clock())
        return await _outcome(
            session, rt, incident, f"Severity is now {incident.severity.upper()}."
        )


async def assign(rt: Runtime, actor: str, ref: IncidentRef, role: str, user: str) -> Outcome:
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        event = await incidents.assign(session, incident, actor, role, user, now=rt.clock())
        return await _outcome(session, rt, incident, f"<@{user}> is now {event.data['role']}.")


async def add_followup(rt: Runtime, actor: str, ref: IncidentRef, text: str) -> Outcome:
    request = followups.parse_request(text)
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        added = await followups.add(session, incident, request, actor, now=rt.clock())
        return await _outcome(session, rt, incident, f"Follow-up {added.id} added.")


async def complete_followup(rt: Runtime, actor: str, followup_id: int) -> FollowupView:
    async with rt.unit_of_work() as session:
        return followups.view(await followups.complete(session, followup_id, actor, now=rt.clock()))


async def open_followups(rt: Runtime, owner: str | None = None) -> list[tuple[int, FollowupView]]:
    """Open follow-ups with their incident numbers, soonest due first."""
    async with rt.db.transaction() as session:
        found = await followups.open_ones(session, owner)
        numbers = {
            i.id: i.number for i in await incidents.by_ids(session, {f.incident_id for f in found})
        }
        return [(numbers[f.incident_id], followups.view(f)) for f in found]


async def housekeeping(rt: Runtime) -> None:
    """The scheduler's slow work: weekly follow-up reminders, forgetting old Slack events."""
    now = rt.clock()
    async with rt.unit_of_work() as session:
        await followups.remind_if_due(session, now=now)
        await capture.forget_old_events(session, now=now)
        covering = await overrides.active(session, now)
        await handoffs.notify_if_due(
            session, rt.config, rt.settings.handoff_channel, covering, now=now
        )


async def stats(rt: Runtime, days: int) -> str:
    until = rt.clock()
    since = until - timedelta(days=days)
    async with rt.db.transaction() as session:
        ids = await incidents.detected_between(session, since, until)
        snaps = [await incidents.snapshot(session, rt.config, i) for i in ids]
    return render_stats_text(compute_stats(snaps, since=since, until=until))


async def save_postmortem(
    rt: Runtime, incident_id: int, markdown: str, narrative: str | None
) -> int:
    """Keep this generation of the postmortem; returns its version number (1, 2, …)."""
    async with rt.db.transaction() as session:
        return await postmortems.save(session, incident_id, markdown, narrative, now=rt.clock())


async def past_snapshots(rt: Runtime, incident_id: int, limit: int = 100) -> list[IncidentSnapshot]:
    """Recent resolved incidents, to find ones like this one."""
    async with rt.db.transaction() as session:
        ids = await incidents.recent_resolved(session, limit, exclude=incident_id)
        return [await incidents.snapshot(session, rt.config, i) for i in ids]


async def page(rt: Runtime, actor: str, ref: IncidentRef, role_id: str, message: str) -> Outcome:
    """``/incident page <role> [message]``: bring another role in mid-incident."""
    if role_id not in rt.config.oncall.roles:
        known = ", ".join(sorted(rt.config.oncall.roles)) or "none"
        raise UserError(f"There is no role {role_id!r} in the on-call file (roles: {known}).")
    async with rt.unit_of_work() as session:
        incident = await incidents.find(session, ref)
        incidents.require_open(incident)
        playbook = rt.config.playbooks.get(incident.playbook_id)
        reason = f"paged by {actor}" + (f": {message}" if message else "")
        paged = await paging.page_role(
            session, rt.config, incident, role_id, now=rt.clock(), playbook=playbook, reason=reason
        )
        who = f"<@{paged.user_id}>" if paged and paged.user_id else "nobody (nobody is on call)"
        return await _outcome(
            session, rt, incident, f"Paged {who} as {rt.config.role_name(role_id)}."
        )


async def hand_on(rt: Runtime, actor: str, page_id: int, to_user: str | None = None) -> Outcome:
    """ "Escalate now" (to the next level) or "Reassign…" (to ``to_user``) from a page's DM."""
    async with rt.unit_of_work() as session:
        incident = await incidents.find_by_page(session, page_id)
        await incidents.hand_on(
            session, rt.config, incident, page_id, actor, to_user, now=rt.clock()
        )
        return await _outcome(session, rt, incident, "Handed on.")


async def get_page(rt: Runtime, page_id: int) -> tuple[IncidentView, PageView]:
    async with rt.db.transaction() as session:
        incident = await incidents.find_by_page(session, page_id)
        snap = await incidents.snapshot(session, rt.config, incident.id)
    return snap.incident, next(p for p in snap.pages if p.id == page_id)


async def override(rt: Runtime, actor: str, text: str) -> str:
    """``/incident override <role> @user <duration|until HH:MM>``: someone covers a role."""
    request = oncall_commands.parse_override(text, rt.config.oncall.roles, now=rt.clock())
    role = rt.config.oncall.roles[request.role]
    members = {member for layer in role.layers for member in layer.members}
    if actor not in rt.settings.admin_ids and actor not in members:
        raise UserError("Only admins and the role's own members can set an override.")
    async with rt.unit_of_work() as session:
        await overrides.add(session, request, actor, now=rt.clock())
    until = f"{request.end:%Y-%m-%d %H:%M} UTC"
    return f"<@{request.user}> covers {rt.config.role_name(request.role)} until {until}."


async def oncall(rt: Runtime, role_id: str | None = None) -> list[OncallRow]:
    """Who is on call now and next for each role (or one), and each role's MTTA."""
    roles = rt.config.oncall.roles
    if role_id and role_id not in roles:
        raise UserError(
            f"There is no role {role_id!r} (roles: {', '.join(sorted(roles)) or 'none'})."
        )
    now = rt.clock()
    async with rt.db.transaction() as session:
        covering = await overrides.active(session, now)
        by_role, by_person = await paging.mtta(session, since=now - timedelta(days=30))
    secret, _ = await webhook_token(rt)
    return [
        replace(
            oncall_commands.row(rid, role, now, covering, by_role.get(rid), by_person),
            calendar=feed_path(secret, rid),
        )
        for rid, role in roles.items()
        if role_id in (None, "", rid)
    ]


async def webhook_token(rt: Runtime) -> tuple[str, bool]:
    """The alert endpoints' secret: from the environment, else generated once and stored.

    Returns the token and whether it was generated just now (so it is printed once).
    """
    if rt.settings.webhook_token:
        return rt.settings.webhook_token, False
    async with rt.db.transaction() as session:
        stored = await session.get(KeyValue, "webhook_token")
        if stored is not None:
            return stored.value, False
        token = secrets.token_urlsafe(32)
        await session.execute(
            insert(session, KeyValue)
            .values(key="webhook_token", value=token)
            .on_conflict_do_nothing(index_elements=[KeyValue.key])
        )
        stored = await session.get(KeyValue, "webhook_token", populate_existing=True)
        assert stored is not None
        return stored.value, stored.value == token


async def _outcome(session: AsyncSession, rt: Runtime, incident: Incident, message: str) -> Outcome:
    await session.flush()
    await session.refresh(incident)
    return Outcome(incident=incidents.view(incident, rt.config), message=message)
