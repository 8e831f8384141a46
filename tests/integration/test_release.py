"""Release of held declarations: oldest first, once each, never into an unavailable system."""

from __future__ import annotations

import json

import pytest

from ecluse.declarations import State
from ecluse.gateway.simulated import SimulatedCustoms
from ecluse.lodging import Lodging, validate
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.systems import Source, Status, StatusChange
from tests.conftest import drain_queue
from tests.factories import declaration_body


class FlakyQueue:
    """The real queue, failing the Nth send: a crash between the ledger write and the SQS send."""

    def __init__(self, queue, fail_on: int) -> None:
        self.queue, self.fail_on, self.sends = queue, fail_on, 0

    def send(self, record):
        self.sends += 1
        if self.sends == self.fail_on:
            raise ConnectionError("SQS unreachable")
        self.queue.send(record)


def _set(board, clock, status):
    board.change("DELTA_G", StatusChange(status, Source.OPERATOR), clock.now())


def _hold(ledger, board, submit_queue, clock, count):
    _set(board, clock, Status.UNAVAILABLE)
    lodging = Lodging(ledger, submit_queue, clock)
    lrns = []
    for _ in range(count):
        lrns.append(lodging.lodge(validate(declaration_body())).record.lrn)
        clock.advance(milliseconds=5)
    return lrns


def _sent(sqs, aws):
    return [json.loads(m["Body"])["lrn"] for m in drain_queue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"])]


def test_backlog_is_released_oldest_first_once_available(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 25)
    release = Release(ledger, board, submit_queue, clock, batch=100)
    assert release.run().holding == ["DELTA_G"]
    assert _sent(sqs, aws) == []
    _set(board, clock, Status.AVAILABLE)
    report = release.run()
    assert report.released == {"DELTA_G": 25}
    assert _sent(sqs, aws) == lrns
    assert board.get("DELTA_G").held == 0
    assert {ledger.get(lrn).state for lrn in lrns} == {State.RELEASED}


def test_batch_limits_one_run_and_the_next_run_continues_in_order(
    ledger, board, submit_queue, clock, sqs, aws
):
    lrns = _hold(ledger, board, submit_queue, clock, 7)
    _set(board, clock, Status.AVAILABLE)
    release = Release(ledger, board, submit_queue, clock, batch=3)
    sent = []
    for _ in range(3):
        release.run()
        sent += _sent(sqs, aws)
    assert sent == lrns


def test_outage_mid_release_stops_it(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 30)
    _set(board, clock, Status.AVAILABLE)

    class DownAfterTwelve:
        def __init__(self) -> None:
            self.sends = 0

        def send(self, record):
            submit_queue.send(record)
            self.sends += 1
            if self.sends == 12:
                _set(board, clock, Status.UNAVAILABLE)

    Release(ledger, board, DownAfterTwelve(), clock, batch=100).run()
    sent = _sent(sqs, aws)
    assert sent == lrns[: len(sent)]
    assert len(sent) <= 20  # stopped within one slice of the outage
    assert board.get("DELTA_G").held == 30 - len(sent)


def test_crash_between_ledger_and_queue_loses_nothing_and_lodges_once(
    ledger, board, submit_queue, clock, sqs, aws
):
    lrns = _hold(ledger, board, submit_queue, clock, 5)
    _set(board, clock, Status.AVAILABLE)
    with pytest.raises(ConnectionError):
        Release(ledger, board, FlakyQueue(submit_queue, fail_on=3), clock, batch=100).run()
    delivered = _sent(sqs, aws)
    assert delivered == lrns[:2]
    assert ledger.get(lrns[2]).state is State.RELEASED  # recorded, its message lost
    release = Release(ledger, board, submit_queue, clock, batch=100)
    release.run()
    delivered += _sent(sqs, aws)
    assert delivered == [lrns[0], lrns[1], lrns[3], lrns[4]]
    clock.advance(minutes=3)
    release.run()  # the sweep re-sends every RELEASED declaration not yet submitted, the lost one included
    resent = _sent(sqs, aws)
    assert lrns[2] in resent
    customs = SimulatedCustoms()
    submission = Submission(ledger, customs, clock, max_attempts=3)
    for lrn in delivered + resent:  # duplicates included, as SQS may deliver them
        submission.handle(lrn)
    assert sorted(lrn for _, lrn in customs.attempts) == sorted(lrns)
    assert {ledger.get(lrn).state for lrn in lrns} == {State.ACCEPTED}


def test_fast_path_send_failure_is_recovered_by_the_sweep(ledger, board, submit_queue, clock, sqs, aws):
    lodging = Lodging(ledger, FlakyQueue(submit_queue, fail_on=1), clock)
    record = lodging.lodge(validate(declaration_body())).record
    assert record.state is State.RELEASED
    assert _sent(sqs, aws) == []
    clock.advance(minutes=3)
    Release(ledger, board, submit_queue, clock, batch=10).run()
    assert _sent(sqs, aws) == [record.lrn]


def test_two_runs_started_at_once_release_each_declaration_once(ledger, board, submit_queue, clock, sqs, aws):
    """Both runs read the same oldest page before either writes (moto is not safe under threads, so the
    interleaving is made explicit): the conditional moves let only one of them release each declaration."""
    lrns = _hold(ledger, board, submit_queue, clock, 12)
    _set(board, clock, Status.AVAILABLE)
    snapshot = list(ledger.oldest("DELTA_G", State.QUEUED, 100))

    class StartedTogether:
        def __getattr__(self, name):
            return getattr(ledger, name)

        def oldest(self, system, state, limit):
            return snapshot if state is State.QUEUED else ledger.oldest(system, state, limit)

    sends = []

    class CountingQueue:
        def send(self, record):
            sends.append(record.lrn)
            submit_queue.send(record)

    first = Release(StartedTogether(), board, CountingQueue(), clock, batch=100).run()
    second = Release(StartedTogether(), board, CountingQueue(), clock, batch=100).run()
    assert first.released == {"DELTA_G": 12}
    assert second.released.get("DELTA_G", 0) == 0
    assert sends == lrns
    assert board.get("DELTA_G").held == 0


def test_cancelled_while_held_is_skipped(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 3)
    Lodging(ledger, submit_queue, clock).cancel(lrns[1])
    _set(board, clock, Status.AVAILABLE)
    Release(ledger, board, submit_queue, clock, batch=10).run()
    assert _sent(sqs, aws) == [lrns[0], lrns[2]]
