"""Submission: lodge one released declaration with customs, at most once, and record customs' answer.

Safe under duplicate delivery: every step is a conditional move, and a declaration already sent once
(attempts > 0) is first looked up at customs, so a retry after a lost answer never lodges it twice.
A declaration found FAILED was redriven from the dead-letter queue by an operator: it is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ecluse.callers import SUBMIT
from ecluse.clock import Clock, iso, parse_iso
from ecluse.detection import AutoDetection, CustomsUnreachable
from ecluse.gateway import CustomsGateway, Lodgement, Outcome, SendingError
from ecluse.ledger import Gate, HeldAgainMeanwhile, Ledger, Move, StateConflict, SystemHolding, back_in_line
from ecluse.life_cycle import NOT_RECEIVED, RECEIVED_BY_CUSTOMS, State
from ecluse.records import Record, release_mark

MAX_CUSTOMS_ERRORS, MAX_ERROR_CODE, MAX_ERROR_MESSAGE = 50, 64, 500
SENDABLE = frozenset({State.RELEASED, State.SUBMITTED, State.FAILED})
# A lodgement that got no answer may still be in progress at customs: a lookup before the gateway has
# finished it (docs/gateway-protocol.md) could say "never received" and lead to a second lodging.
SETTLE = timedelta(seconds=60)


@dataclass(frozen=True)
class SubmitResult:
    lrn: str
    state: State | None
    action: str  # "accepted", "rejected", "skipped", "requeued", "failed" (retry budget spent)


@dataclass
class _Asked:
    """What one delivery learnt from customs about a declaration sent before (decision 10)."""

    found: bool = False  # a lookup answered with customs' answer
    not_received: bool = False  # a lookup answered that customs never received it
    lodging: bool = False  # a lodge went out after that: customs may hold it again
    timed_out: bool = False  # and got no answer in time: customs may still be working on it

    def known(self, settled_at: str) -> dict[str, Any]:
        """The ledger fields to write when no answer came back (nothing when nothing changed)."""
        if self.lodging:
            return {"customs_lookup": None, **({"lookup_after": settled_at} if self.timed_out else {})}
        return {"customs_lookup": NOT_RECEIVED} if self.not_received else {}


class Submission:
    def __init__(
        self,
        ledger: Ledger,
        gateway: CustomsGateway,
        clock: Clock,
        max_attempts: int,
        detection: AutoDetection | None = None,
        settle: timedelta = SETTLE,
    ) -> None:
        self._ledger = ledger
        self._gateway = gateway
        self._clock = clock
        self._max_attempts = max_attempts
        self._detection = detection
        self._settle = settle

    def handle(self, lrn: str, declarant: str | None, released: str | None = None) -> SubmitResult:
        """Process one delivery of `declarant`'s `lrn`. Raises SendingError when SQS should retry it; the
        retry budget is the ledger's count of sending attempts, not how often SQS delivered the message (a
        delivery postponed for lack of time, or skipped behind a failing one, sent nothing). `released` says
        which release the message is for (its latest RELEASED entry's time; None from older messages)."""
        record = self._read(lrn, declarant)
        if record is None or record.state not in SENDABLE:
            # Duplicate delivery of something already answered, cancelled or put back in the queue.
            return SubmitResult(lrn, record.state if record else None, "skipped")
        if released is not None and release_mark(record) != released:
            # A late copy of an earlier release's message: the declaration went back in line and was
            # released anew, with a message of its own in its new place.
            return SubmitResult(lrn, record.state, "skipped")
        sent_before = record.attempts > 0
        asked = _Asked()
        try:
            record = self._ledger.move(
                record,
                Move(
                    State.SUBMITTED,
                    f"sending to customs (attempt {record.attempts + 1})",
                    frozenset({record.state}),
                    by=SUBMIT,
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
            outcome = self._send(record, sent_before, asked)
        except CustomsUnreachable:
            return self._requeue(
                record, f"customs {record.system} is not answering (circuit open): held again{_told(asked)}", asked
            )
        except SendingError as error:
            if record.probe:
                return self._requeue(record, f"probe got no answer ({error}): held again{_told(asked)}", asked)
            return self._after_sending_error(record, error, asked)
        if record.probe and self._detection:
            self._detection.customs_back(record.system)
        return self._record(record, outcome, asked)

    def _read(self, lrn: str, declarant: str | None) -> Record | None:
        """A message written before decision 16 names no declarant (one redriven from the dead-letter
        queue): the LRN's only declaration, as the migration left it; none when several share it."""
        found = [declarant] if declarant is not None else [r.declarant for r in self._ledger.find(lrn)]
        return self._ledger.get(lrn, found[0], with_body=True) if len(found) == 1 else None

    def _send(self, record: Record, sent_before: bool, asked: _Asked) -> Outcome:
        try:
            return self._call(record, sent_before, asked)
        except CustomsUnreachable:
            if not (self._detection and self._detection.operator_says_available(record.system)):
                raise
            self._gateway.reset(record.system)  # an operator declared it available after the circuit opened
            return self._call(record, sent_before, asked)

    def _call(self, record: Record, sent_before: bool, asked: _Asked) -> Outcome:
        if sent_before and record.lookup_after and self._clock.now() < parse_iso(record.lookup_after):
            raise SendingError(
                "settling",
                f"customs may still be finishing the lodgement that timed out; asked from {record.lookup_after}",
            )
        outcome = self._gateway.lookup(record.system, record.lrn, record.party_eori) if sent_before else None
        asked.found, asked.not_received = outcome is not None, sent_before and outcome is None
        if outcome is not None:
            return outcome
        asked.lodging = True
        try:
            return self._gateway.lodge(_lodgement(record))
        except CustomsUnreachable:
            asked.lodging = False  # refused by the open circuit: nothing went out
            raise
        except SendingError as error:
            asked.timed_out = error.kind == "timeout"
            raise

    def _after_sending_error(self, record: Record, error: SendingError, asked: _Asked) -> SubmitResult:
        """FAILED once the ledger's attempts reach the budget (the caller dead-letters it); otherwise
        noted, and SendingError raised again so that SQS delivers it once more after a back-off."""
        fields = asked.known(self._settled_at()) or None
        if record.attempts >= self._max_attempts:
            move = Move(
                State.FAILED,
                f"gave up after {record.attempts} sending attempts; last error {error}",
                frozenset({State.SUBMITTED}),
                by=SUBMIT,
                fields=fields,
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
            by=SUBMIT,
            fields=fields,
        )
        self._ledger.move(record, move, self._clock.now())
        raise error

    def _record(self, record: Record, outcome: Outcome, asked: _Asked) -> SubmitResult:
        found = {"customs_lookup": RECEIVED_BY_CUSTOMS} if asked.found else {}
        told = "customs already had it (lookup): " if asked.found else ""
        if outcome.accepted:
            move = Move(
                State.ACCEPTED,
                f"{told}accepted by customs, MRN {outcome.mrn}",
                frozenset({State.SUBMITTED}),
                by=SUBMIT,
                fields={"mrn": outcome.mrn, "probe": False, **found},
            )
        else:
            # what customs says is kept, within bounds: its answer must not outgrow the declaration's item
            errors = [
                {"code": e.code[:MAX_ERROR_CODE], "message": e.message[:MAX_ERROR_MESSAGE]}
                for e in outcome.errors[:MAX_CUSTOMS_ERRORS]
            ]
            summary = "; ".join(f"{e['code']}: {e['message']}" for e in errors) or "no reason given"
            move = Move(
                State.REJECTED,
                f"{told}rejected by customs: {summary}",
                frozenset({State.SUBMITTED}),
                by=SUBMIT,
                fields={"customs_errors": errors, "probe": False, **found},
            )
        try:
            moved = self._ledger.move(record, move, self._clock.now())
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "accepted" if outcome.accepted else "rejected")

    def _requeue(self, record: Record, why: str, asked: _Asked | None = None, holds_again: bool = True) -> SubmitResult:
        """Back to the ledger, in its receipt order. When it was the next one for customs (`holds_again`),
        the system's hold epoch moves on: whatever was released after it is sent back in line too."""
        try:
            moved = self._ledger.move(
                record,
                back_in_line(
                    record,
                    why,
                    frozenset({State.RELEASED, State.SUBMITTED, State.FAILED}),
                    by=SUBMIT,
                    fields={"probe": False, **(asked.known(self._settled_at()) if asked else {})},
                    new_epoch=holds_again,
                ),
                self._clock.now(),
            )
        except StateConflict as lost:
            return SubmitResult(record.lrn, lost.current, "skipped")
        return SubmitResult(record.lrn, moved.state, "requeued")

    def _settled_at(self) -> str:
        return iso(self._clock.now() + self._settle)


def _told(asked: _Asked) -> str:
    return "; customs looked it up and never received it" if asked.not_received and not asked.lodging else ""


def _lodgement(record: Record) -> Lodgement:
    body: dict[str, Any] = record.body or {}
    return Lodgement(record.lrn, record.system, body, record.marks, record.references)
