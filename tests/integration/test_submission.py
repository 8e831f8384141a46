"""Submission against moto and the simulated customs system: at most once, every failure visible."""

from __future__ import annotations

import pytest

from ecluse.callers import LOCAL
from ecluse.gateway import CustomsError, Outcome, SendingError
from ecluse.life_cycle import State
from ecluse.lodging import Lodging, validate
from ecluse.submission import Submission
from local.simulated import SimulatedCustoms
from tests.factories import declaration_body


class LostAnswerCustoms(SimulatedCustoms):
    """Customs that receives the declaration but whose answer never comes back (a timeout after send)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next_answer = True

    def lodge(self, lodgement):
        outcome = super().lodge(lodgement)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise SendingError("timeout", "answer lost")
        return outcome


@pytest.fixture
def customs():
    return SimulatedCustoms()


@pytest.fixture
def lodging(ledger, submit_queue, clock):
    return Lodging(ledger, submit_queue, clock)


def _released(lodging, **overrides):
    return lodging.lodge(validate(declaration_body(**overrides)), LOCAL).record


def test_accepted_declaration_records_the_mrn(ledger, lodging, customs, clock):
    record = _released(lodging)
    result = Submission(ledger, customs, clock, max_attempts=5).handle(record.lrn, LOCAL.declarant)
    stored = ledger.get(record.lrn, LOCAL.declarant)
    assert result.action == "accepted"
    assert stored.state is State.ACCEPTED
    assert stored.mrn == customs.received[0].outcome.mrn
    assert [h.state for h in stored.history] == [
        State.RECEIVED,
        State.RELEASED,
        State.SUBMITTED,
        State.ACCEPTED,
    ]


def test_rejection_keeps_customs_errors(ledger, lodging, customs, clock):
    record = _released(lodging)
    customs.reject_next(record.lrn, "E1234", "commodity code unknown")
    Submission(ledger, customs, clock, max_attempts=5).handle(record.lrn, LOCAL.declarant)
    stored = ledger.get(record.lrn, LOCAL.declarant)
    assert stored.state is State.REJECTED
    assert stored.customs_errors == ({"code": "E1234", "message": "commodity code unknown"},)
    assert "E1234" in stored.history[-1].detail


def test_duplicate_delivery_lodges_once(ledger, lodging, customs, clock):
    record = _released(lodging)
    submission = Submission(ledger, customs, clock, max_attempts=5)
    submission.handle(record.lrn, LOCAL.declarant)
    again = submission.handle(record.lrn, LOCAL.declarant)
    assert again.action == "skipped"
    assert customs.attempts == [("DELTA_G", record.lrn)]


def test_sending_error_leaves_it_submitted_and_visible_then_retry_succeeds(ledger, lodging, customs, clock):
    record = _released(lodging)
    submission = Submission(ledger, customs, clock, max_attempts=5)
    customs.set_outage("DELTA_G", "server_error")
    with pytest.raises(SendingError):
        submission.handle(record.lrn, LOCAL.declarant)
    stored = ledger.get(record.lrn, LOCAL.declarant)
    assert stored.state is State.SUBMITTED
    assert "sending error" in stored.history[-1].detail
    customs.set_outage("DELTA_G", None)
    assert submission.handle(record.lrn, LOCAL.declarant).action == "accepted"
    assert len(customs.received) == 1


def test_lost_answer_is_looked_up_not_lodged_again(ledger, lodging, clock):
    customs = LostAnswerCustoms()
    record = _released(lodging)
    submission = Submission(ledger, customs, clock, max_attempts=5)
    with pytest.raises(SendingError):
        submission.handle(record.lrn, LOCAL.declarant)
    clock.advance(minutes=1)  # customs has finished whatever it was doing with it
    assert submission.handle(record.lrn, LOCAL.declarant).action == "accepted"
    assert customs.attempts == [("DELTA_G", record.lrn)]  # one lodgement, then a lookup
    assert ledger.get(record.lrn, LOCAL.declarant).mrn == customs.received[0].outcome.mrn


def test_retry_budget_ends_in_failed_with_the_reason(ledger, lodging, customs, clock):
    record = _released(lodging)
    customs.set_outage("DELTA_G", "timeout")
    submission = Submission(ledger, customs, clock, max_attempts=3)
    for _ in range(2):
        with pytest.raises(SendingError):  # SQS brings it back after a back-off
            submission.handle(record.lrn, LOCAL.declarant)
    assert submission.handle(record.lrn, LOCAL.declarant).action == "failed"  # for the dead-letter queue, not a retry
    stored = ledger.get(record.lrn, LOCAL.declarant)
    assert stored.state is State.FAILED
    assert stored.attempts == 3
    assert "3 sending attempts" in stored.history[-1].detail


def test_system_down_before_sending_holds_it_again(ledger, lodging, board, customs, clock):
    from ecluse.systems import Source, Status, StatusChange

    record = _released(lodging)
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), clock.now())
    result = Submission(ledger, customs, clock, max_attempts=5).handle(record.lrn, LOCAL.declarant)
    assert result.action == "requeued"
    assert ledger.get(record.lrn, LOCAL.declarant).state is State.QUEUED
    assert board.get("DELTA_G").held == 1
    assert customs.attempts == []


def test_cancelled_declaration_is_never_sent(ledger, lodging, board, customs, clock):
    from ecluse.systems import Source, Status, StatusChange

    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), clock.now())
    record = _released(lodging)
    lodging.cancel(record.lrn, LOCAL)
    assert Submission(ledger, customs, clock, max_attempts=5).handle(record.lrn, LOCAL.declarant).action == "skipped"
    assert customs.attempts == []


class VerboseCustoms(SimulatedCustoms):
    """Customs that rejects with far more, and far longer, errors than anyone needs."""

    def lodge(self, lodgement):
        super().lodge(lodgement)
        errors = tuple(CustomsError(f"E{n:04d}" * 40, "the value is wrong " * 200) for n in range(300))
        return Outcome(False, errors=errors)


def test_a_rejection_keeps_what_customs_said_within_bounds(ledger, lodging, clock):
    record = _released(lodging)
    assert (
        Submission(ledger, VerboseCustoms(), clock, max_attempts=5).handle(record.lrn, LOCAL.declarant).action
        == "rejected"
    )
    stored = ledger.get(record.lrn, LOCAL.declarant)
    assert len(stored.customs_errors) == 50
    assert all(len(e["message"]) <= 500 and len(e["code"]) <= 64 for e in stored.customs_errors)
    assert len(stored.history[-1].detail) <= 1000
