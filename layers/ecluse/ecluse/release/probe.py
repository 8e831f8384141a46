"""Probing a system the circuit breaker holds (source AUTO): one held declaration, released alone,
tests whether customs answers again; the next probe waits `probe_after`."""

from __future__ import annotations

from datetime import datetime, timedelta

from ecluse.callers import RELEASE
from ecluse.clock import iso
from ecluse.ledger import Ledger, Move, ReleaseGrant, StateConflict, SystemHolding
from ecluse.life_cycle import State
from ecluse.ports import SubmitQueue
from ecluse.systems import SystemState
from ecluse.throttle import TokenBucket

PROBE_INTERVAL = timedelta(seconds=60)


class Probe:
    def __init__(self, ledger: Ledger, queue: SubmitQueue, owner: str, probe_after: timedelta = PROBE_INTERVAL) -> None:
        self._ledger = ledger
        self._queue = queue
        self._owner = owner
        self._probe_after = probe_after

    def due(self, state: SystemState, now: datetime) -> bool:
        """Held by the circuit with declarations held, no probe in flight, the circuit open long enough."""
        return (
            state.auto_held
            and bool(state.held)
            and (state.probe_until is None or state.probe_until < now)
            and (state.since is None or now - state.since >= self._probe_after)
        )

    def send(self, state: SystemState, now: datetime) -> bool:
        """Release the oldest held declaration as the probe. False when none went (moved meanwhile, or
        another run's probe is in flight)."""
        for record in self._ledger.oldest(state.system, State.QUEUED, 1):
            move = Move(
                State.RELEASED,
                "released as a probe: customs stopped answering; this one tests whether it is back",
                frozenset({State.QUEUED}),
                by=RELEASE,
                held_delta=-1,
                grant=ReleaseGrant(self._owner, state.bucket or TokenBucket(0, now), 0, now + self._probe_after),
                epoch=state.epoch,
                fields={"enqueued_at": iso(now), "probe": True, "release_epoch": state.epoch},
            )
            try:
                moved = self._ledger.move(record, move, now)
            except (StateConflict, SystemHolding):
                return False
            self._queue.send(moved)
            return True
        return False
