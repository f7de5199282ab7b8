"""Steps: the playbook's checklist, worked through in the incident channel.

Steps are copied from the playbook when the incident opens (only those whose ``when``
matches the opening alert), so editing a playbook never rewrites a running incident.
A step's automated check runs when the step becomes current, and again on request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import effects, timeline
from bot.config import Playbook
from bot.errors import UserError
from bot.models import Incident, StepProgress, StepState
from bot.timeline import Kind


async def create(
    session: AsyncSession, incident: Incident, playbook: Playbook, *, now: datetime
) -> list[StepProgress]:
    values = [
        {
            "incident_id": incident.id,
            "position": position,
            "title": step.title,
            "role": step.role,
            "details": step.details,
            "check": step.check.model_dump(mode="json") if step.check else None,
        }
        for position, step in enumerate(
            s for s in playbook.steps if all(m.matches(incident.labels) for m in s.when)
        )
    ]
    if not values:
        return []
    # One multi-row INSERT: added as objects, SQLite would take a statement per step.
    inserted = await session.scalars(insert(StepProgress).returning(StepProgress), values)
    rows = sorted(inserted, key=lambda row: row.position)
    effects.post_steps(session, incident, now=now)
    _check_if_due(session, rows[0], now=now)
    return rows


async def current(session: AsyncSession, incident_id: int) -> StepProgress | None:
    query = (
        select(StepProgress)
        .where(StepProgress.incident_id == incident_id, StepProgress.state == StepState.PENDING)
        .order_by(StepProgress.position)
        .limit(1)
    )
    return await session.scalar(query)


async def find(session: AsyncSession, step_id: int) -> StepProgress:
    step = await session.get(StepProgress, step_id)
    if step is None:
        raise UserError("That step no longer exists.")
    return step


async def finish(
    session: AsyncSession,
    incident: Incident,
    step: StepProgress,
    actor: str,
    *,
    now: datetime,
    skipped_because: str | None = None,
) -> None:
    """Mark a step done (or skipped, with the reason) and move the checklist on."""
    if not incident.is_open:
        raise UserError(f"Incident #{incident.number} is resolved; its steps are closed.")
    if step.state != StepState.PENDING:
        who = f" by <@{step.done_by}>" if step.done_by else ""
        raise UserError(f"Step {step.position + 1} was already {step.state}{who}.")
    step.state = StepState.SKIPPED if skipped_because is not None else StepState.DONE
    step.done_by, step.done_at, step.note = actor, now, skipped_because
    if skipped_because is None:
        text = f"Step {step.position + 1} done: {step.title}"
        kind = Kind.STEP_DONE
    else:
        text = f"Step {step.position + 1} skipped: {step.title} — {skipped_because}"
        kind = Kind.STEP_SKIPPED
    await timeline.record(
        session, incident, kind, text, now=now, actor=actor, data={"step_id": step.id}
    )
    await _changed(session, incident, now=now)
    following = await current(session, incident.id)
    if following is not None:
        _check_if_due(session, following, now=now)


def request_check(session: AsyncSession, step: StepProgress, *, now: datetime) -> None:
    if step.check is None:
        raise UserError(f"Step {step.position + 1} has no automated check.")
    effects.run_check(session, step, now=now)


async def record_check(
    session: AsyncSession,
    incident: Incident,
    step: StepProgress,
    *,
    outcome: str,
    detail: str,
    value: str | None,
    duration_ms: int,
    now: datetime,
) -> None:
    step.check_outcome, step.check_detail, step.checked_at = outcome, detail, now
    event = await timeline.record(
        session,
        incident,
        Kind.CHECK_RESULT,
        f"Check for step {step.position + 1} ({step.title}): {outcome} — {detail}",
        now=now,
        data={
            "step_id": step.id,
            "outcome": outcome,
            "value": value,
            "duration_ms": duration_ms,
        },
    )
    effects.post_event(session, event, now=now)
    await _changed(session, incident, now=now)


def _check_if_due(session: AsyncSession, step: StepProgress, *, now: datetime) -> None:
    if step.check is not None:
        effects.run_check(session, step, now=now, automatic=True)


async def _changed(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    effects.refresh_steps(session, incident, now=now)
    effects.refresh_card(session, incident, now=now)
