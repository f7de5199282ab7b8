"""Send slots for Slack's rate limits, booked before a call instead of apologised for after.

Slack limits messages per channel (about one a second) and each Web API method per
workspace (``chat.update`` is Tier 3, 50+/min), and answers 429 once they are exceeded.
During an alert storm many effects want the same channel or method at once, so the
gateway books a slot on every limit a call is subject to (its *keys*) before making it.
A call whose slot is in the future is deferred (``dispatcher.Deferred``) and comes back
then, holding its booking, so bookings are served in the order they were made.

State is in memory and per process: it paces what this process sends, and only one
replica delivers effects at a time (``bot.leadership``), so it sees them all. Lost bookings (an
effect that never came back) are pruned, so memory stays flat however many calls pass.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.clock import Clock

# A booking not claimed this long after its time is dropped: its effect went elsewhere.
STALE = timedelta(seconds=60)
SWEEP_EVERY = timedelta(seconds=5)


class Pacer:
    """Books send slots on several keys at once; a ticket (the effect id) holds its slot.

    Each booked send keeps each of its keys busy for that key's gap. A new send takes the
    earliest time at which all its keys are free for their gaps, which may be a hole
    before later bookings: a channel message need not wait behind an edit of that
    channel that is queued far ahead for the workspace-wide ``chat.update`` budget.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._busy: dict[str, list[tuple[datetime, datetime]]] = {}  # key -> booked spans
        self._held: dict[int, datetime] = {}  # ticket -> the slot it was told to come back at
        self._swept = datetime.min.replace(tzinfo=UTC)

    def book(self, ticket: int, gaps: Mapping[str, timedelta]) -> datetime | None:
        """None: send now. Otherwise the time to come back at, with the slot kept till then.

        ``gaps`` says, for each key, how long after this send the key stays taken.
        """
        now = self.clock()
        self._sweep(now)
        held = self._held.get(ticket)
        if held is not None:
            if held > now:
                return held
            del self._held[ticket]
            return None
        at = self._earliest(now, gaps)
        for key, gap in gaps.items():
            insort(self._busy.setdefault(key, []), (at, at + gap))
        if at <= now:
            return None
        self._held[ticket] = at
        return at

    def _earliest(self, now: datetime, gaps: Mapping[str, timedelta]) -> datetime:
        """Now, or the end of some booked span: the first time every key is free."""
        ends = {end for key in gaps for _, end in self._busy.get(key, ()) if end > now}
        for at in sorted({now, *ends}):
            if all(self._free(key, at, at + gap) for key, gap in gaps.items()):
                return at
        raise AssertionError("the latest end of all spans is always free")  # pragma: no cover

    def _free(self, key: str, start: datetime, end: datetime) -> bool:
        return all(e <= start or s >= end for s, e in self._busy.get(key, ()))

    def next_due(self) -> datetime | None:
        """The earliest slot a deferred ticket is waiting for, if any."""
        return min(self._held.values(), default=None)

    def __len__(self) -> int:
        """Spans and bookings kept: bounded by the sends of the last minute or so."""
        return sum(map(len, self._busy.values())) + len(self._held)

    def _sweep(self, now: datetime) -> None:
        """Forget spans that are over and bookings nobody came back for."""
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        busy = {key: [s for s in spans if s[1] > now] for key, spans in self._busy.items()}
        self._busy = {key: spans for key, spans in busy.items() if spans}
        self._held = {ticket: at for ticket, at in self._held.items() if at + STALE > now}
