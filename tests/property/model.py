"""The two event sources the property tests drive by hand, modelled in memory on the fake clock:

- `FifoSqs`: the submit queue as `SqsSubmitQueue` calls it (the real adapter is used on top of it, so the
  deduplication id is the shipped one): one message group per system delivered head first, a message gone
  only once deleted, deduplication ids remembered five minutes whether or not the message was consumed
  (as SQS FIFO does), and a send that can be made to fail once, as a Lambda dying between its ledger
  write and `SendMessage` leaves it.
- `CircuitCustoms`: the simulated customs behind a circuit per system, the shape of
  `aws.customs_circuit.CircuitBreakingGateway` (Powertools' breaker: `threshold` sending errors in a row
  open it and call `AutoDetection.customs_down`; while open, calls are refused with CustomsUnreachable;
  after `recovery` one call goes through; an answer closes it). It also records every lodgement that
  reaches a system an outage holds (docs/invariants.md, nothing sent while held), and can lose the answer to a
  lodgement customs did
  receive (a timeout after the fact), which is what the lookup before a resend exists for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ecluse.detection import AutoDetection, CustomsUnreachable
from ecluse.gateway import Lodgement, Outcome, SendingError
from local.simulated import SimulatedCustoms
from tests.fakes import FakeClock, InMemoryBoard

DEDUPLICATION_WINDOW = timedelta(minutes=5)


class LostSend(Exception):
    """The function died between its ledger write and SendMessage: the message never reached the queue."""


@dataclass
class Message:
    lrn: str
    declarant: str
    deduplication_id: str
    released: str | None = None  # which release of the declaration it is for


@dataclass
class FifoSqs:
    clock: FakeClock
    groups: dict[str, list[Message]] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)
    fail_next_send: bool = False
    sent: int = 0
    deduplicated: int = 0
    lost: int = 0

    def send_message(
        self, *, QueueUrl: str, MessageBody: str, MessageGroupId: str, MessageDeduplicationId: str
    ) -> dict[str, str]:
        if self.fail_next_send:
            self.fail_next_send = False
            self.lost += 1
            raise LostSend(MessageBody)
        now = self.clock.now()
        first_seen = self.seen.get(MessageDeduplicationId)
        if first_seen is not None and now - first_seen < DEDUPLICATION_WINDOW:
            self.deduplicated += 1
            return {"MessageId": "deduplicated"}
        self.seen[MessageDeduplicationId] = now
        self.sent += 1
        body = json.loads(MessageBody)
        message = Message(body["lrn"], body["declarant"], MessageDeduplicationId, body.get("released"))
        self.groups.setdefault(MessageGroupId, []).append(message)
        return {"MessageId": MessageDeduplicationId}

    def head(self, group: str) -> Message | None:
        messages = self.groups.get(group)
        return messages[0] if messages else None

    def delete_head(self, group: str) -> None:
        self.groups[group].pop(0)

    def waiting(self) -> int:
        return sum(len(m) for m in self.groups.values())

    def snapshot(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        return tuple((g, tuple((m.lrn, m.declarant) for m in ms)) for g, ms in sorted(self.groups.items()))


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: datetime | None = None


class CircuitCustoms:
    def __init__(
        self,
        customs: SimulatedCustoms,
        board: InMemoryBoard,
        clock: FakeClock,
        detection: AutoDetection,
        threshold: int = 3,
        recovery: timedelta = timedelta(seconds=60),
    ) -> None:
        self.customs = customs
        self._board = board
        self._clock = clock
        self._detection = detection
        self._threshold = threshold
        self._recovery = recovery
        self._circuits: dict[str, _Circuit] = {}
        self.lose_answer: set[str] = set()  # systems whose next lodgement is received, its answer lost
        self.sent_while_held: list[str] = []
        # every lodgement customs took in, in order, duplicates included (the simulated customs answers a
        # second one with duplicate_lrn and keeps only the first in its own `received`)
        # (lrn, system, mrn, party's EORI, whether it had been held by then)
        self.reached: list[tuple[str, str, str | None, str | None, bool]] = []
        self.was_held: Callable[[Lodgement], bool] = lambda _: True  # the machine tells, from its ledger
        self.refused = 0

    # the gateway
    def lodge(self, lodgement: Lodgement) -> Outcome:
        return self._through(lodgement.system, lambda: self._lodge(lodgement))

    def lookup(self, system: str, lrn: str, eori: str | None = None) -> Outcome | None:
        return self._through(system, lambda: self.customs.lookup(system, lrn, eori))

    def reset(self, system: str) -> None:
        self._circuits[system] = _Circuit()

    # the model
    def _lodge(self, lodgement: Lodgement) -> Outcome:
        state = self._board.get(lodgement.system)
        if state.holds and not state.auto_held:  # a probe may go to a system only the circuit holds
            self.sent_while_held.append(
                f"{lodgement.lrn} reached {lodgement.system} while it was {state.status} ({state.source}), held"
            )
        outcome = self.customs.lodge(lodgement)  # raises SendingError while customs is down: not received
        party = lodgement.declaration.get("declarant") or {}
        self.reached.append((lodgement.lrn, lodgement.system, outcome.mrn, party.get("eori"), self.was_held(lodgement)))
        if lodgement.system in self.lose_answer:
            self.lose_answer.discard(lodgement.system)
            raise SendingError("timeout", "customs received it; its answer was lost")
        return outcome

    def _through[T](self, system: str, call: Callable[[], T]) -> T:
        circuit = self._circuits.setdefault(system, _Circuit())
        now = self._clock.now()
        if circuit.opened_at is not None and now < circuit.opened_at + self._recovery:
            self.refused += 1
            raise CustomsUnreachable(system)
        try:
            result = call()
        except SendingError:
            circuit.failures += 1
            if circuit.opened_at is not None or circuit.failures >= self._threshold:  # half-open fails: open again
                circuit.opened_at = now
                self._detection.customs_down(system, f"customs stopped answering ({circuit.failures} errors)")
            raise
        self._circuits[system] = _Circuit()
        return result
