"""Runs a step's automated check as an effect, and records what it found.

A check is an outbound HTTP call, so like a Slack message it is an effect: written in
the transaction that made the step current, run by the dispatcher after commit. The
result is stored in its own short transaction; the HTTP call holds no database lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from bot import incidents, steps
from bot.checks import parse_check, run_check
from bot.dispatcher import PermanentError
from bot.incidents import IncidentRef
from bot.models import StepState
from bot.runtime import Runtime


class CheckRunner:
    def __init__(
        self, rt: Runtime, client: httpx.AsyncClient, env: Mapping[str, str] = os.environ
    ) -> None:
        self.rt = rt
        self.client = client
        self.env = env

    async def run(self, payload: dict[str, Any]) -> None:
        async with self.rt.db.read() as session:
            step = await steps.find(session, payload["step_id"])
            incident = await incidents.find(session, IncidentRef(id=step.incident_id))
            if step.check is None:
                raise PermanentError(f"step {step.id} has no check")
            check, labels = parse_check(step.check), dict(incident.labels)
        if step.state != StepState.PENDING and payload.get("when_current"):
            return  # the step was finished before its automatic check came round
        result = await run_check(check, labels, client=self.client, env=self.env)
        async with self.rt.unit_of_work() as session:
            step = await steps.find(session, payload["step_id"])
            incident = await incidents.find(session, IncidentRef(id=step.incident_id))
            await steps.record_check(
                session,
                incident,
                step,
                outcome=result.outcome,
                detail=result.detail,
                value=result.value,
                duration_ms=result.duration_ms,
                now=self.rt.clock(),
            )
