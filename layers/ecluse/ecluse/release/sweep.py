"""Re-sending what may never have reached the submit queue. A run that died between the ledger write
and `SendMessage` left a declaration RELEASED without its message; SQS drops the copies of messages it
already has (same deduplication id), so sending again is always safe (decision 11)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ecluse.ledger import Ledger
from ecluse.life_cycle import State
from ecluse.ports import SubmitQueue
from ecluse.records import Record

RESEND_AFTER = timedelta(minutes=2)
STALE_PER_RUN = 100


class Sweep:
    def __init__(self, ledger: Ledger, queue: SubmitQueue, resend_after: timedelta = RESEND_AFTER) -> None:
        self._ledger = ledger
        self._queue = queue
        self._resend_after = resend_after

    def stale(self, now: datetime) -> list[Record]:
        """Every system's RELEASED declarations enqueued longer ago than `resend_after`, sent again: the
        sweep for systems with nothing to drain."""
        stale = self._ledger.stale_released(now - self._resend_after, STALE_PER_RUN)
        for record in stale:
            self._queue.send(record)
            self._ledger.mark_enqueued(record, now)
        return stale

    def released(self, system: str) -> None:
        """Before draining a system, send again what it has RELEASED: releasing younger ones first would
        let them overtake one whose message was lost."""
        token = None
        while True:
            records, token = self._ledger.page(system=system, state=State.RELEASED, limit=100, token=token)
            for record in records:
                self._queue.send(record)
            if not token:
                return
