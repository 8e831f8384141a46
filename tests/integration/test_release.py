"""Release of held declarations against moto: oldest first, once each, at the set rate, never into an
unavailable system; a clock in the test's hands stands for the minutes that pass."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ecluse.callers import LOCAL
from ecluse.life_cycle import State
from ecluse.lodging import Lodging, validate
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.systems import Source, Status, StatusChange
from ecluse.throttle import ReleaseConfig
from local.simulated import SimulatedCustoms
from tests.conftest import drain_queue
from tests.factories import declaration_body


class RecordingQueue:
    """The real queue, noting when (on the test clock) each declaration was sent."""

    def __init__(self, queue, clock, fail_on: int | None = None) -> None:
        self.queue, self.clock, self.fail_on = queue, clock, fail_on
        self.sent: list[tuple[str, object]] = []

    def send(self, record):
        if self.fail_on is not None and len(self.sent) + 1 == self.fail_on:
            self.fail_on = None
            raise ConnectionError("SQS unreachable")
        self.queue.send(record)
        self.sent.append((record.lrn, self.clock.now()))


def _set(board, clock, status, source=Source.OPERATOR):
    board.change("DELTA_G", StatusChange(status, source, by="test"), clock.now())


def _hold(ledger, board, submit_queue, clock, count):
    _set(board, clock, Status.UNAVAILABLE)
    lodging = Lodging(ledger, submit_queue, clock)
    lrns = []
    for _ in range(count):
        lrns.append(lodging.lodge(validate(declaration_body()), LOCAL).record.lrn)
        clock.advance(milliseconds=5)
    return lrns


def _sent(sqs, aws):
    return [json.loads(m["Body"])["lrn"] for m in drain_queue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"])]


def test_backlog_is_released_oldest_first_once_available(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 25)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=600, burst=100), by="test", at=clock.now())
    release = Release(ledger, board, submit_queue, clock, run_seconds=60)
    assert release.run().holding == ["DELTA_G"]
    assert _sent(sqs, aws) == []
    _set(board, clock, Status.AVAILABLE)
    report = release.run()
    assert report.released == {"DELTA_G": 25}
    assert _sent(sqs, aws) == lrns
    assert board.get("DELTA_G").held == 0
    assert board.get("DELTA_G").lease_owner is None  # given back at the end of the run
    assert {ledger.get(lrn, LOCAL.declarant).state for lrn in lrns} == {State.RELEASED}


def test_rate_limits_each_run_and_the_next_run_continues_in_order(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 25)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=60, burst=10), by="test", at=clock.now())
    _set(board, clock, Status.AVAILABLE)
    release = Release(ledger, board, submit_queue, clock, run_seconds=0)  # one slice per run
    assert release.run().released == {"DELTA_G": 10}  # the burst
    clock.advance(seconds=5)
    assert release.run().released == {"DELTA_G": 5}  # five seconds' worth at one a second
    clock.advance(seconds=60)
    release.run()
    assert _sent(sqs, aws) == lrns[:25]
    assert board.get("DELTA_G").held == 0


def test_scheduled_runs_spread_releases_over_the_minute_at_the_rate(ledger, board, submit_queue, clock):
    """The DynamoDB adapters under the schedule (the 10 000 case runs on the in-memory twins)."""
    lrns = _hold(ledger, board, submit_queue, clock, 80)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=20, burst=5), by="test", at=clock.now())
    _set(board, clock, Status.AVAILABLE)
    queue = RecordingQueue(submit_queue, clock)
    start = clock.now()
    for minute in range(3):  # the schedule: one run a minute, each releasing for 55 s
        clock.moment = start + timedelta(minutes=minute)
        Release(ledger, board, queue, clock, run_seconds=55).run()
    first_sends = {}
    for lrn, moment in queue.sent:  # the sweep may re-send a RELEASED one nobody consumed here
        first_sends.setdefault(lrn, moment)
    assert list(first_sends) == lrns[: len(first_sends)]  # oldest first, no gap
    times = sorted(first_sends.values())
    assert max(sum(1 for u in times if t <= u < t + timedelta(seconds=60)) for t in times) <= 20 + 5
    assert len({t.replace(microsecond=0) for t in times}) > 10  # spread across the minute, not one burst
    assert 0.95 * (5 + 20 * 2.9) <= len(times) < 80  # the burst, then the rate for ~3 minutes


def test_outage_mid_drain_stops_at_the_next_release(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 30)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=600, burst=100), by="test", at=clock.now())
    _set(board, clock, Status.AVAILABLE)

    class DownAfterTwelve(RecordingQueue):
        def send(self, record):
            super().send(record)
            if len(self.sent) == 12:
                _set(board, clock, Status.UNAVAILABLE)

    Release(ledger, board, DownAfterTwelve(submit_queue, clock), clock, run_seconds=60).run()
    assert _sent(sqs, aws) == lrns[:12]
    assert board.get("DELTA_G").held == 18
    _set(board, clock, Status.AVAILABLE)  # back: resumes where it stopped
    Release(ledger, board, submit_queue, clock, run_seconds=60).run()
    assert _sent(sqs, aws) == lrns[12:]


def test_paused_release_waits_and_resumes(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 5)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=60, burst=10, paused=True), by="test", at=clock.now())
    _set(board, clock, Status.AVAILABLE)
    assert Release(ledger, board, submit_queue, clock, run_seconds=60).run().released == {}
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=60, burst=10), by="test", at=clock.now())
    Release(ledger, board, submit_queue, clock, run_seconds=0).run()
    assert _sent(sqs, aws) == lrns


def test_crash_between_ledger_and_queue_loses_nothing_and_lodges_once(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 5)
    _set(board, clock, Status.AVAILABLE)
    with pytest.raises(ConnectionError):
        Release(ledger, board, RecordingQueue(submit_queue, clock, fail_on=3), clock).run()
    delivered = _sent(sqs, aws)
    assert delivered == lrns[:2]
    assert ledger.get(lrns[2], LOCAL.declarant).state is State.RELEASED  # recorded, its message lost
    assert board.get("DELTA_G").lease_owner is None  # the crashed run gave its lease back
    release = Release(ledger, board, submit_queue, clock)
    release.run()  # before releasing younger ones, the drain sends again what is RELEASED
    delivered += _sent(sqs, aws)
    assert delivered == lrns  # the lost one first: receipt order kept, and no copy of the others
    clock.advance(minutes=3)
    release.run()  # the sweep re-sends what is still RELEASED; SQS drops copies sent within 5 minutes
    customs = SimulatedCustoms()
    submission = Submission(ledger, customs, clock, max_attempts=3)
    for lrn in delivered + _sent(sqs, aws) + delivered:  # duplicates included, as SQS may deliver them
        submission.handle(lrn, LOCAL.declarant)
    assert sorted(lrn for _, lrn in customs.attempts) == sorted(lrns)
    assert {ledger.get(lrn, LOCAL.declarant).state for lrn in lrns} == {State.ACCEPTED}


def test_fast_path_send_failure_is_recovered_by_the_sweep(ledger, board, submit_queue, clock, sqs, aws):
    lodging = Lodging(ledger, RecordingQueue(submit_queue, clock, fail_on=1), clock)
    record = lodging.lodge(validate(declaration_body()), LOCAL).record
    assert record.state is State.RELEASED
    assert _sent(sqs, aws) == []
    clock.advance(minutes=3)
    Release(ledger, board, submit_queue, clock).run()
    assert _sent(sqs, aws) == [record.lrn]


def test_a_second_run_leaves_a_drain_to_the_lease_holder(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 12)
    _set(board, clock, Status.AVAILABLE)
    assert board.acquire_lease("DELTA_G", "other-run", clock.now(), clock.now() + timedelta(seconds=90))
    assert Release(ledger, board, submit_queue, clock).run().released == {}
    clock.advance(seconds=91)  # the other run died without giving the lease back: it expires
    assert Release(ledger, board, submit_queue, clock).run().released == {"DELTA_G": 10}
    assert _sent(sqs, aws) == lrns[:10]


def test_two_runs_started_at_once_release_each_declaration_once(ledger, board, submit_queue, clock, sqs, aws):
    """Both read the same oldest page (a stale index); the transactions let one release each declaration,
    even if both believed they held the lease."""
    lrns = _hold(ledger, board, submit_queue, clock, 10)
    _set(board, clock, Status.AVAILABLE)
    snapshot = list(ledger.oldest("DELTA_G", State.QUEUED, 100))

    class StartedTogether:
        def __getattr__(self, name):
            return getattr(ledger, name)

        def oldest(self, system, state, limit):
            return snapshot[:limit]

    queue = RecordingQueue(submit_queue, clock)
    first = Release(StartedTogether(), board, queue, clock, owner="run-a").run()
    board.release_lease("DELTA_G", "run-a")
    second = Release(StartedTogether(), board, queue, clock, owner="run-b").run()
    assert first.released == {"DELTA_G": 10}
    assert second.released == {}
    assert [lrn for lrn, _ in queue.sent] == lrns
    assert board.get("DELTA_G").held == 0


def test_cancelled_while_held_is_skipped(ledger, board, submit_queue, clock, sqs, aws):
    lrns = _hold(ledger, board, submit_queue, clock, 3)
    Lodging(ledger, submit_queue, clock).cancel(lrns[1], LOCAL)
    _set(board, clock, Status.AVAILABLE)
    Release(ledger, board, submit_queue, clock).run()
    assert _sent(sqs, aws) == [lrns[0], lrns[2]]


def test_deadline_at_risk_is_reported_with_the_rate_that_meets_it(ledger, board, submit_queue, clock):
    _hold(ledger, board, submit_queue, clock, 30)
    board.set_release("DELTA_G", ReleaseConfig(rate_per_minute=1, burst=1, paused=True), by="test", at=clock.now())
    _set(board, clock, Status.AVAILABLE)  # DELTA G: 24 h to re-integrate from now
    clock.advance(hours=23, minutes=50)
    report = Release(ledger, board, submit_queue, clock).run()
    assert report.at_risk["DELTA_G"]["at_risk"] is True
    assert report.at_risk["DELTA_G"]["rate_to_meet_deadline"] == 3  # 30 in the 10 minutes left


def test_held_again_then_released_within_five_minutes_is_not_deduplicated_away(
    ledger, board, submit_queue, clock, sqs, aws
):
    record = Lodging(ledger, submit_queue, clock).lodge(validate(declaration_body()), LOCAL).record
    _set(board, clock, Status.UNAVAILABLE)  # down before the consumer got to it: held again
    assert (
        Submission(ledger, SimulatedCustoms(), clock, max_attempts=3).handle(record.lrn, LOCAL.declarant).action
        == "requeued"
    )
    _set(board, clock, Status.AVAILABLE)
    Release(ledger, board, submit_queue, clock).run()
    # the first message (still in the queue here) and the new release's: SQS FIFO would drop a second
    # message with the first one's deduplication id for five minutes
    assert _sent(sqs, aws) == [record.lrn, record.lrn]


def test_declaration_cancelled_as_the_release_function_takes_it_is_skipped_and_the_run_goes_on(api, aws, sqs):
    """The release function's conditional write loses to the ERP's cancel. It must learn the declaration's
    state from that write, within its own permissions (tests/aws_permissions.py checks them after each
    test): a GetItem it is not allowed would abort the whole run on AWS."""
    from local.functions import LambdaContext, load

    api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE"})
    lrns = [api.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(3)]
    api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE"})
    release = load("release", {**aws.env("release"), "RELEASE_RUN_SECONDS": "0"})
    ledger = release.release._ledger
    take = ledger.move

    def cancelled_meanwhile(record, move, at):
        if record.lrn == lrns[0] and move.target is State.RELEASED:
            assert api.call("DELETE", f"/declarations/{lrns[0]}")[0] == 200  # the ERP, at that moment
        return take(record, move, at)

    ledger.move = cancelled_meanwhile
    report = release.lambda_handler({}, LambdaContext(function_name="release"))
    assert report["released"] == {"DELTA_G": 2}
    assert _sent(sqs, aws) == lrns[1:]
    assert api.call("GET", f"/declarations/{lrns[0]}")[1]["state"] == "CANCELLED"
