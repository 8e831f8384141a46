"""Submission: lodge one released declaration with customs, at most once, and record customs' answer.

Safe under duplicate delivery: every step is a conditional move, and a declaration already sent once
(attempts > 0) is first looked up at customs, so a retry after a lost answer never lodges it twice.
A declaration found FAILED was redriven from the dead-letter queue by an operator: it is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecluse.clock import Clock
from ecluse.declarations import Record, State
from ecluse.detection import AutoDetection, CustomsUnreachable
from ecluse.gateway import CustomsGateway, Lodgement, Outcome, SendingError
from ecluse.ledger import Gate, HeldAgainMeanwhile, Ledger, Move, StateConflict, SystemHolding

SENDABLE = frozenset({State.RELEASED, State.SUBMITTED, State.FAILED})


@dataclass(frozen=True)
class SubmitResult:
    lrn: str
    state: State | None
    action: str  # "accepted", "rejected", "skipped", "requeued", "failed" (retry budget spent)


class Submission:
    def __init__(
        self,
        ledger: Ledger,
        gateway: CustomsGateway,
        clock: Clock,
        max_attempts: int,
        detection: AutoDetection | None = None,
    ) -> None:
        self._ledger = ledger
        self._gateway = gateway
        self._clock = clock
        self._max_attempts = max_attempts
        self._detection = detection

    def handle(self, lrn: str) -> SubmitResult:
        """Process one delivery of `lrn`. Raises SendingError when SQS should retry it; the retry budget
        is the ledger's count of sending attempts, not how often SQS delivered the message (a delivery
        postponed for lack of time, or skipped behind a failing one, sent nothing)."""
        record = self._ledger.get(lrn, with_body=True)
        if record is None or record.state not in SENDABLE:
            # Duplicate delivery of something already answered, cancelled or put back in the queue.
            return SubmitResult(lrn, record.state if record else None, "skipped")
        sent_before = record.attempts > 0
        try:
            record = self._ledger.move(
                record,
                Move(
                    State.SUBMITTED,
                    f"sending to customs (attempt {record.attempts + 1})",
                    frozenset({record.state}),
                    gate=Gate.OPEN_OR_AUTO if record.probe else Gate.OPEN,
                    count_attempt=True,
                    epoch=record.release_epoch,
                ),
                self._clock.now(),
            )
        except StateConflict as moved:
            return SubmitResult(lrn, moved.current, "skipped")
        except HeldAgainMeanwhile:
            return self._requeue(
                record,
                f"an older declaration for {record.system} was held again after this one was released: "
                "back in line behind it, to reach customs in receipt order",
                holds_again=False,
            )
        except SystemHolding:
            return self._requeue(record, f"{record.system} became UNAVAILABLE before sending: held again")
        try:
            outcome = self._send(record, sent_before)
        except CustomsUnreachable:
            return self._requeue(record, f"customs {record.system} is not answering (circuit open): held again")
        except SendingError as error:
            if record.probe:
                return self._requeue(record, f"probe got no answer ({error}): held again")
            return self._after_sending_error(record, error)
        if record.probe and self._detection:
            self._detection.customs_back(record.system)
        return self._record(record, outcome)

    def _send(self, record: Record, sent_before: bool) -> Outcome:
        try:
            return self._call(record, sent_before)
        except CustomsUnreachable:
            if not (self._detection and self._detection.operator_says_available(record.system)):
                raise
            reset = getattr(self._gateway, "reset", None)
            if reset is None:
                raise
            reset(record.system)  # an operator declared it available after the circuit opened: they win
            return self._call(record, sent_before)

    def _call(self, record: Record, sent_before: bool) -> Outcome:
        outcome = self._gateway.lookup(record.system, record.lrn) if sent_before else None
        return outcome if outcome is not None else self._gateway.lodge(_lodgement(record))

    def _after_sending_error(self, record: Record, error: SendingError) -> SubmitResult:
        """FAILED once the ledger's attempts reach the budget (the caller dead-letters it); otherwise
        noted, and SendingError raised again so that SQS delivers it once more after a back-off."""
        if record.attempts >= self._max_attempts:
            move = Move(
                State.FAILED,
                f"gave up after {record.attempts} sending attempts; last error {error}",
                frozenset({State.SUBMITTED}),
            )
            try:
                failed = self._ledger.move(record, move, self._clock.now())
            except StateConflict as lost:
                return SubmitResult(record.lrn, lost.current, "skipped")
            return SubmitResult(record.lrn, failed.state, "failed")
        move = Move(
            State.SUBMITTED,
            f"sending error ({error}); will ask customs again",
            frozenset({State.SUBMITTED}),
        )
        self._ledger.move(record, move, self._clock.now())
        raise error

    def _record(self, record: Record, outcome: Outcome) -> SubmitResult:
        if outcome.accepted:
            move = Move(
                State.ACCEPTED,
                f"accepted by customs, MRN {outcome.mrn}",
                frozenset({State.SUBMITTED}),
                fields={"mrn": outcome.mrn, "probe": False},
            )
        else:
            errors = [{"code": e.code, "message": e.message} for e in outcome.errors]
            summary = "; ".join(f"{e['code']}: {e['message']}" for e in errors) or "no reason given"
            move = Move(
                State.REJECTED,
                f"rejected by customs: {summary}",
                frozenset({State.SUBMITTED}),
                fields={"customs_errors": errors, "probe": False},
            )
        try:
            moved = self._ledger.move(record, move, self._clock.now())
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "accepted" if outcome.accepted else "rejected")

    def _requeue(self, record: Record, why: str, holds_again: bool = True) -> SubmitResult:
        """Back to the ledger, in its receipt order. When it was the next one for customs (`holds_again`),
        the system's hold epoch moves on: whatever was released after it is sent back in line too."""
        try:
            moved = self._ledger.move(
                record,
                Move(
                    State.QUEUED,
                    why,
                    frozenset({State.RELEASED, State.SUBMITTED, State.FAILED}),
                    held_delta=+1,
                    fields={"probe": False},
                    new_epoch=holds_again,
                ),
                self._clock.now(),
            )
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "requeued")


def _lodgement(record: Record) -> Lodgement:
    body: dict[str, Any] = record.body or {}
    return Lodgement(record.lrn, record.system, body, record.marks, record.references)
