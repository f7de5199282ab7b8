"""The pacer books Slack send slots: in order, on several limits at once, in flat memory."""

from __future__ import annotations

from datetime import timedelta

from bot.pacing import STALE, SWEEP_EVERY, Pacer
from tests.conftest import FakeClock

SECOND = timedelta(seconds=1)


def test_a_free_key_goes_now_and_later_tickets_queue_a_gap_apart(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    start = clock.now
    gaps = {"channel:C1": SECOND}
    assert pacer.book(1, gaps) is None
    assert pacer.book(2, gaps) == start + SECOND
    assert pacer.book(3, gaps) == start + 2 * SECOND


def test_a_ticket_keeps_its_slot_and_goes_once_its_time_has_come(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    start = clock.now
    gaps = {"channel:C1": SECOND}
    pacer.book(1, gaps)
    assert pacer.book(2, gaps) == start + SECOND
    assert pacer.book(2, gaps) == start + SECOND  # asking again early books nothing new
    assert pacer.book(3, gaps) == start + 2 * SECOND
    assert pacer.next_due() == start + SECOND
    clock.advance(seconds=1)
    assert pacer.book(2, gaps) is None
    assert pacer.next_due() == start + 2 * SECOND  # ticket 3's slot is still held


def test_a_send_waits_for_the_latest_of_its_keys_and_takes_them_all(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    start = clock.now
    edit = {"channel:C1": SECOND, "edit:C1:1.0": 3 * SECOND, "method:chat.update": SECOND}
    assert pacer.book(1, edit) is None
    assert pacer.book(2, {"channel:C2": SECOND}) is None  # another channel is free
    assert pacer.book(3, {"channel:C1": SECOND}) == start + SECOND
    assert pacer.book(4, edit) == start + 3 * SECOND  # the message's own edit gap
    # Ticket 4 took every key at +3 s; earlier holes stay free for others.
    assert pacer.book(5, {"channel:C1": SECOND}) == start + 2 * SECOND
    assert pacer.book(6, {"method:chat.update": SECOND}) == start + SECOND
    assert pacer.book(7, {"channel:C1": SECOND}) == start + 4 * SECOND  # no hole left


def test_a_message_does_not_wait_behind_an_edit_queued_for_the_workspace(
    clock: FakeClock,
) -> None:
    pacer = Pacer(clock)
    start = clock.now
    for n in range(10):  # ten edits elsewhere fill the chat.update budget for 12 s
        pacer.book(n, {f"channel:X{n}": SECOND, "method:chat.update": 1.2 * SECOND})
    edit = {"channel:C1": SECOND, "method:chat.update": 1.2 * SECOND}
    assert pacer.book(100, edit) == start + 12 * SECOND
    assert pacer.book(101, {"channel:C1": SECOND}) is None  # C1 is free until then
    assert pacer.book(102, {"channel:C1": SECOND}) == start + SECOND


def test_keys_free_again_and_lost_tickets_are_forgotten(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    for n in range(1000):  # a burst into one channel: all but the first are deferred
        pacer.book(n, {"channel:C1": SECOND, f"edit:C1:{n}": 3 * SECOND})
    assert len(pacer) > 1000
    clock.advance(seconds=(1000 * SECOND + STALE + SWEEP_EVERY).total_seconds())
    assert pacer.book(5000, {"channel:C2": SECOND}) is None  # nobody came back for theirs
    assert len(pacer) == 1  # only the span the last send keeps busy
    assert pacer.next_due() is None
