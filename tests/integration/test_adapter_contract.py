"""The in-memory twins used for the 10 000-declaration tests behave like the DynamoDB adapters: the
same checks run against both."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecluse.callers import LOCAL
from ecluse.ledger import DuplicateLrn, FastPathClosed, Gate, Move, ReleaseGrant, StateConflict, SystemHolding
from ecluse.life_cycle import State
from ecluse.lodging import validate
from ecluse.systems import Source, Status, StatusChange
from ecluse.throttle import ReleaseConfig, TokenBucket
from tests.factories import declaration_body
from tests.fakes import InMemoryBoard, InMemoryLedger, Store


@pytest.fixture(params=["dynamodb", "memory"])
def adapters(request):
    if request.param == "memory":
        store = Store()
        return InMemoryLedger(store), InMemoryBoard(store)
    return request.getfixturevalue("ledger"), request.getfixturevalue("board")


def _declaration(**overrides):
    return validate(declaration_body(**overrides))


def _down(board, clock, source=Source.OPERATOR):
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, source, by="test"), clock.now())


def test_fast_path_only_when_normal_and_backlog_counted(adapters, clock):
    ledger, board = adapters
    assert ledger.add(_declaration(), "f", clock.now(), None, LOCAL).state is State.RELEASED
    _down(board, clock)
    with pytest.raises(FastPathClosed):
        ledger.add(_declaration(), "f", clock.now(), None, LOCAL)
    held = ledger.add(_declaration(), "f", clock.now(), "held", LOCAL)
    assert held.state is State.QUEUED
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    with pytest.raises(FastPathClosed):  # backlog: the newcomer waits
        ledger.add(_declaration(), "f", clock.now(), None, LOCAL)
    assert board.get("DELTA_G").held == 1


def test_duplicate_lrn(adapters, clock):
    ledger, _ = adapters
    declaration = _declaration()
    ledger.add(declaration, "f1", clock.now(), None, LOCAL)
    with pytest.raises(DuplicateLrn) as duplicate:
        ledger.add(declaration, "f2", clock.now(), None, LOCAL)
    assert duplicate.value.existing.fingerprint == "f1"


def test_oldest_first_and_conditional_moves(adapters, clock):
    ledger, board = adapters
    _down(board, clock)
    lrns = []
    for _ in range(3):
        lrns.append(ledger.add(_declaration(), "f", clock.now(), "held", LOCAL).lrn)
        clock.advance(milliseconds=1)
    assert [r.lrn for r in ledger.oldest("DELTA_G", State.QUEUED, 2)] == lrns[:2]
    first = ledger.get(lrns[0], LOCAL.declarant)
    move = Move(State.CANCELLED, "x", frozenset({State.QUEUED}), held_delta=-1, by="test")
    ledger.move(first, move, clock.now())
    with pytest.raises(StateConflict) as conflict:
        ledger.move(first, move, clock.now())
    assert conflict.value.current is State.CANCELLED
    assert board.get("DELTA_G").held == 2


def test_gates(adapters, clock):
    ledger, board = adapters
    record = ledger.add(_declaration(), "f", clock.now(), None, LOCAL)
    _down(board, clock)
    submit = Move(State.SUBMITTED, "x", frozenset({State.RELEASED}), gate=Gate.OPEN, by="test")
    with pytest.raises(SystemHolding):
        ledger.move(record, submit, clock.now())
    probe_submit = Move(State.SUBMITTED, "x", frozenset({State.RELEASED}), gate=Gate.OPEN_OR_AUTO, by="test")
    with pytest.raises(SystemHolding):  # an operator's outage: no probe gets through
        ledger.move(record, probe_submit, clock.now())
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.AUTO, by="test"), clock.now())
    assert ledger.move(record, probe_submit, clock.now()).state is State.SUBMITTED


def test_release_grant_needs_the_lease_and_an_open_unpaused_system(adapters, clock):
    ledger, board = adapters
    _down(board, clock)
    records = [ledger.add(_declaration(), "f", clock.now(), "held", LOCAL) for _ in range(3)]
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    grant = ReleaseGrant("run-a", TokenBucket(4.0, clock.now()), 1)
    release = Move(State.RELEASED, "x", frozenset({State.QUEUED}), held_delta=-1, grant=grant, by="test")
    with pytest.raises(SystemHolding):  # no lease
        ledger.move(records[0], release, clock.now())
    assert board.acquire_lease("DELTA_G", "run-a", clock.now(), clock.now() + timedelta(seconds=60))
    assert not board.acquire_lease("DELTA_G", "run-b", clock.now(), clock.now() + timedelta(seconds=60))
    ledger.move(records[0], release, clock.now())
    state = board.get("DELTA_G")
    assert (state.held, state.bucket.tokens, state.released_last_minute) == (2, 4.0, 1)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=60, burst=10, paused=True), by="test", at=clock.now())
    with pytest.raises(SystemHolding):
        ledger.move(records[1], release, clock.now())
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=60, burst=10), by="test", at=clock.now())
    _down(board, clock)
    with pytest.raises(SystemHolding):
        ledger.move(records[1], release, clock.now())
    board.release_lease("DELTA_G", "run-a")
    assert board.acquire_lease("DELTA_G", "run-b", clock.now(), clock.now() + timedelta(seconds=60))


def test_probe_grant_only_into_an_auto_held_system_once_per_interval(adapters, clock):
    ledger, board = adapters
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.AUTO, by="test"), clock.now())
    records = [ledger.add(_declaration(), "f", clock.now(), "held", LOCAL) for _ in range(2)]
    grant = ReleaseGrant("run", TokenBucket(0, clock.now()), 0, probe_until=clock.now() + timedelta(seconds=60))
    probe = Move(State.RELEASED, "probe", frozenset({State.QUEUED}), held_delta=-1, grant=grant, by="test")
    ledger.move(records[0], probe, clock.now())
    with pytest.raises(SystemHolding):  # one probe at a time
        ledger.move(records[1], probe, clock.now())
    assert board.get("DELTA_G").held == 1


def test_stale_released_are_found_for_the_sweep(adapters, clock):
    ledger, _ = adapters
    record = ledger.add(_declaration(), "f", clock.now(), None, LOCAL)
    assert ledger.stale_released(clock.now() - timedelta(minutes=2), 10) == []
    clock.advance(minutes=3)
    assert [r.lrn for r in ledger.stale_released(clock.now() - timedelta(minutes=2), 10)] == [record.lrn]
    ledger.mark_enqueued(record, clock.now())
    assert ledger.stale_released(clock.now() - timedelta(minutes=2), 10) == []


def test_a_move_read_before_a_send_loses_to_it(adapters, clock):
    """A cancel or a fallback switch decided on a read taken before the declaration was sent again must
    not apply to it once it may be at customs (decision 10)."""
    ledger, board = adapters
    _down(board, clock)
    held = ledger.add(_declaration(), "f", clock.now(), "held", LOCAL)
    sent = Move(State.SUBMITTED, "sending", frozenset({State.QUEUED}), held_delta=-1, count_attempt=True, by="test")
    back = Move(State.QUEUED, "held again", frozenset({State.SUBMITTED}), held_delta=+1, by="test")
    ledger.move(ledger.move(held, sent, clock.now()), back, clock.now())
    cancel = Move(State.CANCELLED, "x", frozenset({State.QUEUED}), held_delta=-1, if_attempts=held.attempts, by="test")
    with pytest.raises(StateConflict) as conflict:
        ledger.move(held, cancel, clock.now())
    assert conflict.value.current is State.QUEUED
    assert ledger.get(held.lrn, LOCAL.declarant).attempts == 1
    assert board.get("DELTA_G").held == 1


def test_a_declaration_held_and_released_again_and_again_keeps_a_bounded_history(adapters, clock):
    from ecluse.records import MAX_HISTORY

    ledger, _ = adapters
    record = ledger.add(_declaration(), "f", clock.now(), "held", LOCAL)
    for cycle in range(80):
        clock.advance(seconds=1)
        record = ledger.move(
            record,
            Move(State.RELEASED, f"out {cycle}", frozenset({State.QUEUED}), held_delta=-1, by="test"),
            clock.now(),
        )
        record = ledger.move(
            record,
            Move(State.QUEUED, f"back {cycle}", frozenset({State.RELEASED}), held_delta=+1, by="test"),
            clock.now(),
        )
    history = ledger.get(record.lrn, LOCAL.declarant).history
    assert len(history) == MAX_HISTORY
    assert [h.state for h in history[:2]] == [State.RECEIVED, State.QUEUED]  # how it came in stays
    assert history[2].detail.startswith(f"{2 + 160 - MAX_HISTORY + 1} earlier entries not kept")
    assert history[-1].detail == "back 79"
    assert record.history == history  # what the move returned is what is stored


def test_a_history_entry_quoting_a_long_error_is_cut(adapters, clock):
    ledger, _ = adapters
    record = ledger.add(_declaration(), "f", clock.now(), "held", LOCAL)
    moved = ledger.move(
        record, Move(State.CANCELLED, "x" * 5000, frozenset({State.QUEUED}), held_delta=-1, by="test"), clock.now()
    )
    assert len(ledger.get(moved.lrn, LOCAL.declarant).history[-1].detail) == 1000


def test_the_sweep_finds_a_stale_release_behind_fresh_ones(adapters, clock):
    ledger, _ = adapters
    started = clock.now()
    fresh = [ledger.add(_declaration(), "f", started, None, LOCAL) for _ in range(120)]
    for record in fresh:  # re-sent a moment ago: their messages are in the queue
        ledger.mark_enqueued(record, started + timedelta(minutes=5))
    clock.advance(seconds=1)
    stale = ledger.add(_declaration(), "f", clock.now(), None, LOCAL)  # received after them, never re-sent
    found = ledger.stale_released(started + timedelta(minutes=3), 100)
    assert [r.lrn for r in found] == [stale.lrn]
