"""Release: move held declarations of available systems to the submit queue, oldest first.

Also re-sends declarations recorded RELEASED whose queue message may never have been sent (a crash or
an SQS error between the ledger write and the send): SQS FIFO deduplication by LRN and the submitter's
conditional moves make a re-send harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from ecluse.clock import Clock, iso
from ecluse.declarations import Record, State
from ecluse.ledger import Move, StateConflict
from ecluse.lodging import SubmitQueue
from ecluse.systems import Mode, SystemState

RESEND_AFTER = timedelta(minutes=2)
SLICE = 10  # the status is re-read between slices: an outage mid-drain stops the release within one slice


class StatusBoard(Protocol):
    def all(self) -> list[SystemState]: ...

    def get(self, system: str) -> SystemState: ...


@dataclass
class ReleaseReport:
    released: dict[str, int] = field(default_factory=dict)
    resent: dict[str, int] = field(default_factory=dict)
    holding: list[str] = field(default_factory=list)


class Release:
    def __init__(self, ledger: Any, board: StatusBoard, queue: SubmitQueue, clock: Clock, batch: int) -> None:
        self._ledger = ledger
        self._board = board
        self._queue = queue
        self._clock = clock
        self._batch = batch

    def run(self) -> ReleaseReport:
        report = ReleaseReport()
        for record in self._resend_stale():
            report.resent[record.system] = report.resent.get(record.system, 0) + 1
        for system in self._board.all():
            if system.mode is Mode.HOLDING:
                report.holding.append(system.system)
            elif system.mode is Mode.DRAINING:
                report.released[system.system] = self._release(system.system)
        return report

    def _release(self, system: str) -> int:
        released = 0
        for index, record in enumerate(self._ledger.oldest(system, State.QUEUED, self._batch)):
            if index and index % SLICE == 0 and not self._still_open(system):
                break
            try:
                moved = self._ledger.move(
                    record,
                    Move(
                        State.RELEASED,
                        "released to customs from the backlog, oldest first",
                        frozenset({State.QUEUED}),
                        held_delta=-1,
                        fields={"enqueued_at": iso(self._clock.now())},
                    ),
                    self._clock.now(),
                )
            except StateConflict:
                continue  # cancelled, switched to the fallback, or released by a concurrent run
            self._queue.send(moved)
            released += 1
        return released

    def _still_open(self, system: str) -> bool:
        return self._board.get(system).mode is not Mode.HOLDING

    def _resend_stale(self) -> list[Record]:
        now = self._clock.now()
        stale: list[Record] = self._ledger.stale_released(now - RESEND_AFTER, self._batch)
        for record in stale:
            self._queue.send(record)
            self._ledger.mark_enqueued(record, now)
        return stale
