"""A declaration that went to customs without an answer may be at customs: it is neither cancelled nor
switched to the fallback until a customs lookup says customs never received it (decision 10).
moto for AWS, the simulated customs system for customs, the real circuit breaker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecluse.aws.customs_circuit import CircuitBreakingGateway, circuit_config, dynamodb_persistence
from ecluse.callers import LOCAL
from ecluse.detection import AutoDetection, CustomsUnreachable
from ecluse.errors import EcluseError
from ecluse.fallback import BulkEmergencyRequest, FallbackProcedure
from ecluse.gateway import SendingError
from ecluse.life_cycle import State
from ecluse.lodging import Lodging, validate
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.systems import Source, Status, StatusChange
from local.simulated import SimulatedCustoms
from tests.factories import declaration_body


class Customs(SimulatedCustoms):
    """The simulated customs system, with what happens to the next lodgements set by the test:
    "answer_lost" (customs receives it, the answer never comes back), "circuit_open" (the circuit, opened
    meanwhile by another environment's failures, refuses the lodge after a lookup went through)."""

    def __init__(self, next_lodge: str | None = None) -> None:
        super().__init__()
        self.next_lodge = next_lodge

    def lodge(self, lodgement):
        if self.next_lodge == "circuit_open":
            raise CustomsUnreachable(lodgement.system)
        outcome = super().lodge(lodgement)
        if self.next_lodge == "answer_lost":
            raise SendingError("timeout", "no answer within 10 s")
        return outcome


@pytest.fixture(autouse=True)
def _fresh_circuit_counters():
    from aws_lambda_powertools.utilities.circuit_breaker import base

    for counters in (base._LOCAL_FAILURES, base._LOCAL_SUCCESSES, base._LAST_OBSERVED_STATE):
        counters.clear()


def _submission(aws, ledger, board, clock, dynamodb, customs):
    detection = AutoDetection(board, clock)
    persistence = dynamodb_persistence(dynamodb, aws.env("api")["SYSTEMS_TABLE"])
    gateway = CircuitBreakingGateway(customs, persistence, detection, circuit_config(3, recovery_seconds=60))
    return Submission(ledger, gateway, clock, max_attempts=8, detection=detection)


@pytest.fixture
def lodging(ledger, submit_queue, clock):
    return Lodging(ledger, submit_queue, clock)


@pytest.fixture
def fallback(ledger, board, clock):
    return FallbackProcedure(ledger, board, clock)


def test_held_again_after_answers_were_lost_it_is_neither_cancelled_nor_switched(
    aws, ledger, board, clock, dynamodb, lodging, fallback
):
    customs = Customs("answer_lost")
    submission = _submission(aws, ledger, board, clock, dynamodb, customs)
    lrns = [lodging.lodge(validate(declaration_body()), LOCAL).record.lrn for _ in range(3)]
    for lrn in lrns:  # three sending errors in a row open the circuit: the system is held (AUTO)
        with pytest.raises(SendingError):
            submission.handle(lrn, LOCAL.declarant)
    assert submission.handle(lrns[0], LOCAL.declarant).action == "requeued"
    assert ledger.get(lrns[0], LOCAL.declarant).state is State.QUEUED
    # the CID publishes its alert: the fallback is authorised, and the ERP wants to act on the held one
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), clock.now())

    with pytest.raises(EcluseError) as cancelled:
        lodging.cancel(lrns[0], LOCAL)
    with pytest.raises(EcluseError) as switched:
        fallback.switch(lrns[0], None, LOCAL)
    assert (cancelled.value.http_status, cancelled.value.code) == (409, "possibly_lodged")
    assert (switched.value.http_status, switched.value.code) == (409, "possibly_lodged")
    assert "customs may hold it" in switched.value.message
    assert ledger.get(lrns[0], LOCAL.declarant).state is State.QUEUED
    assert [r.lrn for r in customs.received] == lrns  # customs does hold all three


def test_bulk_switch_leaves_out_what_may_be_at_customs(aws, ledger, board, clock, dynamodb, lodging, fallback):
    submission = _submission(aws, ledger, board, clock, dynamodb, Customs("answer_lost"))
    lrns = [lodging.lodge(validate(declaration_body()), LOCAL).record.lrn for _ in range(3)]
    for lrn in lrns:
        with pytest.raises(SendingError):
            submission.handle(lrn, LOCAL.declarant)
    for lrn in lrns:
        submission.handle(lrn, LOCAL.declarant)
    never_sent = lodging.lodge(validate(declaration_body()), LOCAL).record.lrn  # held behind them, never sent
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), clock.now())
    result = fallback.switch_all("DELTA_G", BulkEmergencyRequest(urgent_only=False), LOCAL)
    assert result.switched == [never_sent]
    assert [(r["lrn"], r["code"]) for r in result.refused] == [(lrn, "possibly_lodged") for lrn in lrns]


def _not_received_then_held(aws, ledger, board, clock, dynamodb, lodging):
    """Sent once into a refused connection (customs never got it; nobody knows), then its retry's lookup
    answers that customs never received it, and the open circuit refuses the lodge: held again."""
    customs = Customs()
    customs.set_outage("DELTA_G", "connection_failed")
    submission = _submission(aws, ledger, board, clock, dynamodb, customs)
    lrn = lodging.lodge(validate(declaration_body()), LOCAL).record.lrn
    with pytest.raises(SendingError):
        submission.handle(lrn, LOCAL.declarant)
    assert ledger.get(lrn, LOCAL.declarant).possibly_lodged
    customs.set_outage("DELTA_G", None)
    customs.next_lodge = "circuit_open"
    assert submission.handle(lrn, LOCAL.declarant).action == "requeued"
    return customs, submission, lrn


def test_once_a_lookup_says_customs_never_received_it_it_can_be_cancelled(aws, ledger, board, clock, dynamodb, lodging):
    _, _, lrn = _not_received_then_held(aws, ledger, board, clock, dynamodb, lodging)
    held = ledger.get(lrn, LOCAL.declarant)
    assert (held.state, held.customs_lookup, held.possibly_lodged) == (State.QUEUED, "not_received", False)
    assert "customs looked it up and never received it" in held.history[-1].detail
    assert lodging.cancel(lrn, LOCAL).state is State.CANCELLED


def test_a_lodge_after_that_lookup_makes_it_possibly_lodged_again(aws, ledger, board, clock, dynamodb, lodging):
    customs, submission, lrn = _not_received_then_held(aws, ledger, board, clock, dynamodb, lodging)
    # released again as a probe: looked up (still not received), lodged, and the answer is lost
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.AUTO, reason="circuit", by="test"), clock.now())
    clock.advance(minutes=2)
    Release(ledger, board, _NoQueue(), clock, probe_after=timedelta(seconds=60)).run()
    assert ledger.get(lrn, LOCAL.declarant).probe
    customs.next_lodge = "answer_lost"
    assert submission.handle(lrn, LOCAL.declarant).action == "requeued"
    held = ledger.get(lrn, LOCAL.declarant)
    assert (held.state, held.customs_lookup, held.possibly_lodged) == (State.QUEUED, None, True)
    assert [r.lrn for r in customs.received] == [lrn]
    with pytest.raises(EcluseError, match="possibly_lodged"):
        lodging.cancel(lrn, LOCAL)


def test_found_by_the_lookup_the_history_says_customs_already_had_it(aws, ledger, board, clock, dynamodb, lodging):
    customs = Customs("answer_lost")
    submission = _submission(aws, ledger, board, clock, dynamodb, customs)
    lrn = lodging.lodge(validate(declaration_body()), LOCAL).record.lrn
    with pytest.raises(SendingError):
        submission.handle(lrn, LOCAL.declarant)
    customs.next_lodge = None
    clock.advance(minutes=1)  # customs has finished the lodgement whose answer was lost
    assert submission.handle(lrn, LOCAL.declarant).action == "accepted"
    accepted = ledger.get(lrn, LOCAL.declarant)
    assert accepted.customs_lookup == "received"
    assert accepted.history[-1].detail.startswith("customs already had it (lookup): accepted by customs, MRN")
    assert customs.attempts == [("DELTA_G", lrn)]  # found: not lodged again


class _NoQueue:
    def send(self, record):
        pass


class StillWorkingOnIt(SimulatedCustoms):
    """Customs takes longer than the client waits: the lodgement is only on record once it finishes."""

    def __init__(self) -> None:
        super().__init__()
        self.in_progress = []

    def lodge(self, lodgement):
        self.in_progress.append(lodgement)
        raise SendingError("timeout", "no answer within 10 s")

    def finish(self):
        for lodgement in self.in_progress:
            SimulatedCustoms.lodge(self, lodgement)
        self.in_progress = []


def test_a_timed_out_lodgement_is_not_looked_up_before_customs_can_have_finished_it(
    aws, ledger, board, clock, dynamodb, lodging
):
    customs = StillWorkingOnIt()
    lookups = []
    customs_lookup = customs.lookup
    customs.lookup = lambda system, lrn, eori=None: lookups.append(lrn) or customs_lookup(system, lrn, eori)
    submission = _submission(aws, ledger, board, clock, dynamodb, customs)
    lrn = lodging.lodge(validate(declaration_body()), LOCAL).record.lrn
    with pytest.raises(SendingError):
        submission.handle(lrn, LOCAL.declarant)
    clock.advance(seconds=10)  # SQS's first retry: customs is still working on the first lodgement
    with pytest.raises(SendingError, match="settling"):
        submission.handle(lrn, LOCAL.declarant)
    assert (lookups, len(customs.in_progress)) == ([], 1)  # neither asked (it would say "never") nor re-sent
    customs.finish()
    clock.advance(seconds=60)
    assert submission.handle(lrn, LOCAL.declarant).action == "accepted"
    assert lookups == [lrn]
    assert len(customs.received) == 1
