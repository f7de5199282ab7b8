"""Silences and maintenance windows: matching alerts are stored and counted, never paged.

Silences live in the database, so every replica honours them and they survive restarts.
An alert is silenced when every matcher of an active silence holds for its labels, as
in Alertmanager.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.durations import parse_duration
from bot.errors import UserError
from bot.matchers import Matcher, MatcherError, parse_matchers
from bot.models import Silence
from bot.snapshot import SilenceView

MAX_SILENCE = timedelta(days=30)
_DURATION = re.compile(r"^\d+[wdhms](\d+[wdhms])*$")


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matchers: list[Matcher]
    duration: timedelta
    reason: str


def parse_request(text: str) -> SilenceRequest:
    """``<matchers> <duration> [reason]``, e.g. ``alertname=~"GPU.*" cluster=a100 2h rack 4``.

    Matchers come first (Alertmanager syntax, braces optional), then a duration, then free
    text. Spaces inside quoted values are kept.
    """
    tokens = _split(text)
    at = next((i for i, token in enumerate(tokens) if _DURATION.match(token)), None)
    if at is None or at == 0:
        raise UserError(
            "Usage: `/incident silence <matchers> <duration> [reason]`, e.g. "
            '`/incident silence alertname=~"GPU.*" cluster="a100" 2h rack maintenance`.'
        )
    try:
        matchers = [m for token in tokens[:at] for m in parse_matchers(token)]
    except MatcherError as exc:
        raise UserError(f"That matcher is not valid: {exc}") from None
    duration = parse_duration(tokens[at])
    if duration > MAX_SILENCE:
        raise UserError("A silence can last at most 30 days; make a new one when it ends.")
    if not matchers:
        raise UserError("Give at least one matcher, so a silence never hides every alert.")
    return SilenceRequest(matchers, duration, " ".join(tokens[at + 1 :]))


def _split(text: str) -> list[str]:
    """Split on spaces outside double quotes (matcher values may contain spaces)."""
    return re.findall(r'(?:[^\s"]+|"(?:\\.|[^"\\])*")+', text)


async def create(
    session: AsyncSession, request: SilenceRequest, actor: str, *, now: datetime
) -> Silence:
    silence = Silence(
        matchers=[str(m) for m in request.matchers],
        reason=request.reason,
        created_by=actor,
        starts_at=now,
        ends_at=now + request.duration,
        matched=0,
    )
    session.add(silence)
    await session.flush()
    return silence


async def active(session: AsyncSession, now: datetime) -> list[Silence]:
    return list(await session.scalars(_ACTIVE, {"now": now}))


# Built once: every intake commit asks (see ``sql.in_list`` for why).
_ACTIVE = (
    select(Silence)
    .where(Silence.starts_at <= bindparam("now"), Silence.ends_at > bindparam("now"))
    .order_by(Silence.id)
)


async def active_for_transaction(session: AsyncSession, now: datetime) -> list[Silence]:
    """Active silences, read once per transaction (a batch of webhook requests shares it)."""
    if "silences" not in session.info:
        session.info["silences"] = await active(session, now)
    return session.info["silences"]


def matching(silences: list[Silence], labels: dict[str, str]) -> Silence | None:
    return next(
        (s for s in silences if all(m.matches(labels) for m in _compiled(tuple(s.matchers)))), None
    )


@lru_cache(maxsize=1024)
def _compiled(matchers: tuple[str, ...]) -> tuple[Matcher, ...]:
    return tuple(m for text in matchers for m in parse_matchers(text))


async def end(session: AsyncSession, silence_id: int, actor: str, *, now: datetime) -> Silence:
    silence = await session.get(Silence, silence_id, with_for_update=True)
    if silence is None:
        raise UserError("That silence does not exist.")
    if silence.ends_at <= now:
        raise UserError(f"Silence {silence_id} has already ended.")
    silence.ends_at, silence.ended_by = now, actor
    return silence


def view(silence: Silence) -> SilenceView:
    return SilenceView(
        id=silence.id,
        matchers=list(silence.matchers),
        reason=silence.reason,
        created_by=silence.created_by,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        ended_by=silence.ended_by,
        matched=silence.matched,
    )
