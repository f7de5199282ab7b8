"""Delivers page notifications to outbound pagers (PagerDuty, Opsgenie, signed webhooks).

The event is built from the page as it is now: a trigger still waiting on a retry when
the page was acknowledged is dropped, so nobody's phone rings after someone has it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from bot import incidents
from bot.dispatcher import Claimed, PermanentError
from bot.incidents import IncidentRef
from bot.models import Page, PageState
from bot.pagers import PageEvent, dedup_key_for, send
from bot.runtime import Runtime


class PagerDelivery:
    def __init__(
        self, rt: Runtime, client: httpx.AsyncClient, env: Mapping[str, str] = os.environ
    ) -> None:
        self.rt = rt
        self.client = client
        self.env = env

    async def deliver(self, effect: Claimed) -> None:
        payload = effect.payload
        pager = self.rt.config.oncall.pagers.get(payload["pager"])
        if pager is None:
            raise PermanentError(f"no pager named {payload['pager']!r} any more")
        event = await self._event(payload["page_id"], payload["action"])
        if event is not None:
            await send(pager, event, client=self.client, env=self.env)

    async def _event(self, page_id: int, action: str) -> PageEvent | None:
        async with self.rt.db.transaction() as session:
            page = await session.get(Page, page_id)
            if page is None:
                raise PermanentError(f"page {page_id} is gone")
            if action == "trigger" and page.state != PageState.PENDING:
                return None  # acknowledged, escalated or cancelled before it went out
            incident = await incidents.find(session, IncidentRef(id=page.incident_id))
        return PageEvent(
            action=action,  # type: ignore[arg-type]
            dedup_key=dedup_key_for(incident.number, page.id),
            incident_number=incident.number,
            title=incident.title,
            severity=incident.severity,
            role=page.role,
            user=page.user_id,
            summary=f"#{incident.number} {incident.title} ({self.rt.config.role_name(page.role)})",
            channel_url=None,
        )
