"""Draining one system: the lease that makes this run its only releaser, and the slices it releases as
the token bucket refills, held and fallback declarations merged in receipt order. Every release is one
transaction that moves the declaration, decrements the backlog, persists the bucket, and fails if the
lease was lost, the release paused or the system went UNAVAILABLE, so a drain stops at once."""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ecluse.callers import RELEASE
from ecluse.clock import iso
from ecluse.ledger import HeldAgainMeanwhile, Ledger, Move, ReleaseGrant, StateConflict, SystemHolding
from ecluse.life_cycle import State
from ecluse.ports import SubmitQueue
from ecluse.records import Record
from ecluse.reintegration import anticipation_expired, reintegration_marks, reintegration_order
from ecluse.systems import SystemState
from ecluse.throttle import TokenBucket

SLICE = 10  # declarations per query and per transaction burst; the status is re-read between slices
MIN_SLEEP = 0.2


@dataclass
class Drain:
    """One system being drained by this run: its bucket and its releases of the last minute."""

    system: str
    bucket: TokenBucket
    recent: deque[datetime] = field(default_factory=deque)
    stopped: bool = False

    def count_recent(self, now: datetime) -> int:
        while self.recent and now - self.recent[0] >= timedelta(minutes=1):
            self.recent.popleft()
        return len(self.recent)


class Slices:
    def __init__(self, ledger: Ledger, queue: SubmitQueue, owner: str) -> None:
        self._ledger = ledger
        self._queue = queue
        self._owner = owner

    def release(self, drain: Drain, state: SystemState, now: datetime) -> tuple[int, float | None]:
        """Release what the bucket allows now (at most one slice); seconds until the next slice, or None
        when there is nothing left to release now (backlog empty, system down, paused, lease lost)."""
        config = state.release_config
        bucket = drain.bucket.refilled(config, now)
        wanted = min(bucket.available, SLICE, state.backlog)
        candidates = self._candidates(state, wanted) if wanted else []
        released = 0
        epoch_moved = False
        for record in candidates:
            if record.state is State.QUEUED and anticipation_expired(record, now):
                self._redeclare(record, now)
                continue
            taken = bucket.take()
            drain.recent.append(now)
            try:
                moved = self._ledger.move(record, self._release_move(record, taken, drain, now, state.epoch), now)
            except StateConflict:
                drain.recent.pop()
                continue  # cancelled, switched to the fallback or released meanwhile: token kept
            except HeldAgainMeanwhile:
                drain.recent.pop()
                epoch_moved = True  # a declaration was held again: read the new epoch and go on
                break
            except SystemHolding:
                drain.recent.pop()
                drain.stopped = True  # down, paused or lease lost: stop at once
                break
            bucket = taken
            self._queue.send(moved)
            released += 1
        drain.bucket = bucket
        if epoch_moved:
            return released, MIN_SLEEP
        if drain.stopped or len(candidates) < wanted or state.backlog - released <= 0:
            return released, None
        return released, bucket.seconds_until(min(SLICE, config.burst), config)

    def _candidates(self, state: SystemState, wanted: int) -> list[Record]:
        queued = list(self._ledger.oldest(state.system, State.QUEUED, wanted)) if state.held else []
        fallback = list(self._ledger.oldest(state.system, State.EMERGENCY, wanted)) if state.emergency else []
        ready = [r for r in fallback if not r.control_pending]  # re-integrated once released after a control
        return reintegration_order(state.system, queued, ready)[:wanted]

    def _release_move(self, record: Record, bucket: TokenBucket, drain: Drain, now: datetime, epoch: int) -> Move:
        grant = ReleaseGrant(self._owner, bucket, drain.count_recent(now))
        if record.state is State.EMERGENCY:
            marks, references = reintegration_marks(record)
            return Move(
                State.RELEASED,
                f"re-integrated after the fallback procedure with {', '.join([*marks, *references])}",
                frozenset({State.EMERGENCY}),
                by=RELEASE,
                emergency_delta=-1,
                grant=grant,
                epoch=epoch,
                fields={
                    "enqueued_at": iso(now),
                    "probe": False,
                    "marks": marks,
                    "references": references,
                    "release_epoch": epoch,
                },
            )
        return Move(
            State.RELEASED,
            "released to customs from the backlog, oldest first",
            frozenset({State.QUEUED}),
            by=RELEASE,
            held_delta=-1,
            grant=grant,
            epoch=epoch,
            fields={"enqueued_at": iso(now), "probe": False, "release_epoch": epoch},
        )

    def _redeclare(self, record: Record, now: datetime) -> None:
        move = Move(
            State.REDECLARE,
            f"its anticipation period ended at {record.anticipation_expires_at}, during the outage: customs has "
            "deleted it; lodge a new declaration for the goods' actual situation (FR-DGDDI-SECOURS-DELTA-IMPORT: "
            "DGDDI, 'Procédure de secours DELTA Import', fiche 2 étape 4)",
            frozenset({State.QUEUED}),
            by=RELEASE,
            held_delta=-1,
        )
        with contextlib.suppress(StateConflict):
            self._ledger.move(record, move, now)
