"""Sending errors trip a circuit per system that holds it (source AUTO); a probe ends it; an operator's
word wins; an unreadable store sends nothing. moto for AWS, the simulated customs system for customs."""

from __future__ import annotations

import time
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from ecluse.aws.customs_circuit import CircuitBreakingGateway, circuit_config, dynamodb_persistence
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.callers import LOCAL
from ecluse.detection import AutoDetection
from ecluse.gateway import SendingError
from ecluse.life_cycle import State
from ecluse.lodging import Lodging, validate
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.systems import Source, Status, StatusChange
from local.simulated import SimulatedCustoms
from tests.factories import declaration_body


@pytest.fixture(autouse=True)
def _fresh_circuit_counters():
    # Powertools keeps per-environment failure counters at module level, as a Lambda environment would
    from aws_lambda_powertools.utilities.circuit_breaker import base

    for counters in (base._LOCAL_FAILURES, base._LOCAL_SUCCESSES, base._LAST_OBSERVED_STATE):
        counters.clear()


@pytest.fixture
def customs():
    return SimulatedCustoms()


@pytest.fixture
def submission(aws, ledger, board, customs, clock, dynamodb):
    detection = AutoDetection(board, clock)
    persistence = dynamodb_persistence(dynamodb, aws.env("api")["SYSTEMS_TABLE"])
    gateway = CircuitBreakingGateway(customs, persistence, detection, circuit_config(3, recovery_seconds=1))
    return Submission(ledger, gateway, clock, max_attempts=8, detection=detection)


def _lodge(ledger, submit_queue, clock, count):
    lodging = Lodging(ledger, submit_queue, clock)
    return [lodging.lodge(validate(declaration_body()), LOCAL).record.lrn for _ in range(count)]


def _fail(submission, lrn):
    with pytest.raises(SendingError):
        submission.handle(lrn, LOCAL.declarant)


def test_three_sending_errors_hold_the_system_and_a_probe_brings_it_back(
    ledger, board, submit_queue, submission, customs, clock
):
    customs.set_outage("DELTA_G", "server_error")
    lrns = _lodge(ledger, submit_queue, clock, 3)
    for lrn in lrns:
        _fail(submission, lrn)
    state = board.get("DELTA_G")
    assert (state.status, state.source, state.mode.value) == (Status.UNAVAILABLE, Source.AUTO, "HOLDING")
    assert "3 sending errors" in state.reason
    # SQS redelivers them: they are held in the ledger, not retried into the void
    assert [submission.handle(lrn, LOCAL.declarant).action for lrn in lrns] == ["requeued"] * 3
    assert board.get("DELTA_G").held == 3
    newcomer = _lodge(ledger, submit_queue, clock, 1)[0]
    assert ledger.get(newcomer, LOCAL.declarant).state is State.QUEUED

    customs.set_outage("DELTA_G", None)
    time.sleep(1.1)  # the circuit's recovery timeout runs on the wall clock
    clock.advance(minutes=2)
    release = Release(ledger, board, submit_queue, clock, probe_after=timedelta(seconds=60))
    report = release.run()
    assert report.probes == ["DELTA_G"]
    probe = ledger.get(lrns[0], LOCAL.declarant)
    assert (probe.state, probe.probe) == (State.RELEASED, True)
    assert submission.handle(lrns[0], LOCAL.declarant).action == "accepted"
    state = board.get("DELTA_G")
    assert (state.status, state.source) == (Status.AVAILABLE, Source.AUTO)
    release.run()
    for lrn in [*lrns[1:], newcomer]:
        assert submission.handle(lrn, LOCAL.declarant).action == "accepted"
    assert [r.lrn for r in customs.received] == [*lrns, newcomer]  # in order, once each


def test_a_failed_probe_holds_it_again(ledger, board, submit_queue, submission, customs, clock):
    customs.set_outage("DELTA_G", "timeout")
    lrns = _lodge(ledger, submit_queue, clock, 3)
    for lrn in lrns:
        _fail(submission, lrn)
    time.sleep(1.1)
    clock.advance(minutes=2)
    for lrn in lrns:
        submission.handle(lrn, LOCAL.declarant)  # requeued
    Release(ledger, board, submit_queue, clock).run()
    assert submission.handle(lrns[0], LOCAL.declarant).action == "requeued"
    assert board.get("DELTA_G").auto_held
    assert ledger.get(lrns[0], LOCAL.declarant).state is State.QUEUED


def test_auto_never_overrides_an_operator_and_the_operator_wins(
    ledger, board, submit_queue, submission, customs, clock
):
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), clock.now())
    detection = AutoDetection(board, clock)
    assert detection.customs_down("DELTA_G", "errors") is False
    assert board.get("DELTA_G").source is Source.CID_ALERT
    assert detection.customs_back("DELTA_G") is False  # a CID alert is ended by the CID, not by a probe
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.CID_ALERT, by="test"), clock.now())

    customs.set_outage("DELTA_G", "server_error")
    lrns = _lodge(ledger, submit_queue, clock, 4)
    for lrn in lrns[:3]:
        _fail(submission, lrn)
    assert board.get("DELTA_G").auto_held
    customs.set_outage("DELTA_G", None)
    # the operator knows better than the circuit (which would still refuse for a while)
    board.change(
        "DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, reason="provider fixed it", by="test"), clock.now()
    )
    assert submission.handle(lrns[3], LOCAL.declarant).action == "accepted"


def test_unreadable_systems_table_sends_nothing(aws, ledger, submit_queue, customs, clock, dynamodb):
    systems_table = aws.env("api")["SYSTEMS_TABLE"]
    [lrn] = _lodge(ledger, submit_queue, clock, 1)

    class SystemsTableDown:
        """The DynamoDB client, failing every call that touches the systems table."""

        def __init__(self, client) -> None:
            self._client = client
            self.exceptions = client.exceptions

        def __getattr__(self, name):
            call = getattr(self._client, name)

            def guarded(**kwargs):
                if systems_table in repr(kwargs):
                    raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, name)
                return call(**kwargs)

            return guarded

    broken = SystemsTableDown(boto3.client("dynamodb"))
    from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard

    board = DynamoDbStatusBoard(broken, systems_table)
    detection = AutoDetection(board, clock)
    gateway = CircuitBreakingGateway(customs, dynamodb_persistence(broken, systems_table), detection)
    submission = Submission(
        DynamoDbLedger(broken, aws.env("api")["DECLARATIONS_TABLE"], systems_table),
        gateway,
        clock,
        8,
        detection,
    )
    with pytest.raises(ClientError):
        submission.handle(lrn, LOCAL.declarant)  # SQS will deliver it again
    assert customs.attempts == []
    assert ledger.get(lrn, LOCAL.declarant).state is State.RELEASED  # visible, unchanged


def test_failed_declaration_redriven_from_the_dead_letter_queue_is_tried_again(ledger, submit_queue, customs, clock):
    customs.set_outage("DELTA_G", "server_error")
    [lrn] = _lodge(ledger, submit_queue, clock, 1)
    submission = Submission(ledger, customs, clock, max_attempts=1)
    assert submission.handle(lrn, LOCAL.declarant).action == "failed"  # its one attempt spent: dead-lettered
    assert ledger.get(lrn, LOCAL.declarant).state is State.FAILED
    customs.set_outage("DELTA_G", None)
    assert submission.handle(lrn, LOCAL.declarant).action == "accepted"
    assert len(customs.received) == 1
