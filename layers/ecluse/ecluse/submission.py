"""Submission: lodge one released declaration with customs, at most once, and record customs' answer.

Safe under duplicate delivery: every step is a conditional move, and a declaration already sent once
(attempts > 0) is first looked up at customs, so a retry after a lost answer never lodges it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecluse.clock import Clock
from ecluse.declarations import Record, State
from ecluse.gateway import CustomsGateway, Lodgement, Outcome, SendingError
from ecluse.ledger import Gate, Ledger, Move, StateConflict, SystemHolding

SENDABLE = frozenset({State.RELEASED, State.SUBMITTED})


@dataclass(frozen=True)
class SubmitResult:
    lrn: str
    state: State | None
    action: str  # "accepted", "rejected", "skipped", "requeued", "failed"


class Submission:
    def __init__(self, ledger: Ledger, gateway: CustomsGateway, clock: Clock, max_attempts: int) -> None:
        self._ledger = ledger
        self._gateway = gateway
        self._clock = clock
        self._max_attempts = max_attempts

    def handle(self, lrn: str, delivery: int = 1) -> SubmitResult:
        """Process one delivery of `lrn`. Raises SendingError when SQS should retry it."""
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
                ),
                self._clock.now(),
            )
        except StateConflict as moved:
            return SubmitResult(lrn, moved.current, "skipped")
        except SystemHolding:
            return self._requeue(record, f"{record.system} became UNAVAILABLE before sending: held again")
        try:
            outcome = self._gateway.lookup(record.system, lrn) if sent_before else None
            if outcome is None:
                outcome = self._gateway.lodge(_lodgement(record))
        except SendingError as error:
            if delivery >= self._max_attempts:
                self._ledger.move(
                    record,
                    Move(
                        State.FAILED,
                        f"gave up after {delivery} sending attempts; last error {error}",
                        frozenset({State.SUBMITTED}),
                    ),
                    self._clock.now(),
                )
            else:
                self._ledger.move(
                    record,
                    Move(
                        State.SUBMITTED,
                        f"sending error ({error}); will ask customs again",
                        frozenset({State.SUBMITTED}),
                    ),
                    self._clock.now(),
                )
            raise
        return self._record(record, outcome)

    def _record(self, record: Record, outcome: Outcome) -> SubmitResult:
        if outcome.accepted:
            move = Move(
                State.ACCEPTED,
                f"accepted by customs, MRN {outcome.mrn}",
                frozenset({State.SUBMITTED}),
                fields={"mrn": outcome.mrn},
            )
        else:
            errors = [{"code": e.code, "message": e.message} for e in outcome.errors]
            summary = "; ".join(f"{e['code']}: {e['message']}" for e in errors) or "no reason given"
            move = Move(
                State.REJECTED,
                f"rejected by customs: {summary}",
                frozenset({State.SUBMITTED}),
                fields={"customs_errors": errors},
            )
        try:
            moved = self._ledger.move(record, move, self._clock.now())
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "accepted" if outcome.accepted else "rejected")

    def _requeue(self, record: Record, why: str) -> SubmitResult:
        try:
            moved = self._ledger.move(
                record,
                Move(State.QUEUED, why, frozenset({State.RELEASED, State.SUBMITTED}), held_delta=+1),
                self._clock.now(),
            )
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "requeued")


def _lodgement(record: Record) -> Lodgement:
    body: dict[str, Any] = record.body or {}
    return Lodgement(record.lrn, record.system, body, record.marks, record.references)
