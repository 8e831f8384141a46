"""Release: held declarations go back to customs oldest first, at the rate the operator set.

One run lasts `run_seconds` (a scheduled Lambda runs about a minute; `make run` ticks more often) and
releases in slices as the token bucket refills, so releases are spread across the minute instead of
one burst per tick. Per system, only the holder of a lease (a conditional write on the system's item)
releases; every release is one transaction that moves the declaration, decrements the backlog,
persists the bucket, and fails if the lease was lost, the release paused or the system went
UNAVAILABLE, so a drain stops at once. Declarations recorded RELEASED whose queue message may never
have been sent are re-sent (SQS deduplicates by LRN; the submitter skips what moved on).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ecluse.clock import Clock, iso
from ecluse.declarations import Record, State
from ecluse.drain import outlook
from ecluse.fallback import anticipation_expired, reintegration_marks, reintegration_order
from ecluse.ledger import HeldAgainMeanwhile, Move, ReleaseGrant, StateConflict, SystemHolding
from ecluse.lodging import SubmitQueue
from ecluse.systems import Mode, SystemState
from ecluse.throttle import TokenBucket

RESEND_AFTER = timedelta(minutes=2)
LEASE_MARGIN = timedelta(seconds=30)
PROBE_INTERVAL = timedelta(seconds=60)
SLICE = 10  # declarations per query and per transaction burst; the status is re-read between slices
MIN_SLEEP = 0.2


class StatusBoard(Protocol):
    def all(self) -> list[SystemState]: ...

    def acquire_lease(self, system: str, owner: str, now: datetime, until: datetime) -> bool: ...

    def release_lease(self, system: str, owner: str) -> None: ...


@dataclass
class ReleaseReport:
    released: dict[str, int] = field(default_factory=dict)
    resent: dict[str, int] = field(default_factory=dict)
    holding: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    at_risk: dict[str, dict] = field(default_factory=dict)


@dataclass
class _Drain:
    """One system being drained by this run: its bucket and its releases of the last minute."""

    system: str
    bucket: TokenBucket
    recent: deque[datetime] = field(default_factory=deque)
    stopped: bool = False

    def count_recent(self, now: datetime) -> int:
        while self.recent and now - self.recent[0] >= timedelta(minutes=1):
            self.recent.popleft()
        return len(self.recent)


class Release:
    def __init__(
        self,
        ledger: Any,
        board: StatusBoard,
        queue: SubmitQueue,
        clock: Clock,
        *,
        run_seconds: float = 0.0,
        owner: str | None = None,
        probe_after: timedelta = PROBE_INTERVAL,
        resend_after: timedelta = RESEND_AFTER,
    ) -> None:
        self._ledger = ledger
        self._board = board
        self._queue = queue
        self._clock = clock
        self._run = timedelta(seconds=run_seconds)
        self._owner = owner or uuid.uuid4().hex
        self._probe_after = probe_after
        self._resend_after = resend_after

    def run(self) -> ReleaseReport:
        report = ReleaseReport()
        started = self._clock.now()
        for record in self._resend_stale(started):
            report.resent[record.system] = report.resent.get(record.system, 0) + 1
        drains: dict[str, _Drain] = {}
        try:
            while True:
                now = self._clock.now()
                wake = now + self._run
                active = False
                report.holding, report.at_risk = [], {}
                for state in self._board.all():
                    if state.auto_held and self._probe(state, now):
                        report.probes.append(state.system)
                    risk = outlook(state, now)
                    if risk.at_risk:
                        report.at_risk[state.system] = {
                            "held": state.held,
                            "deadline": iso(state.reintegration_deadline) if state.reintegration_deadline else None,
                            **risk.as_dict(),
                        }
                    if state.mode is Mode.HOLDING:
                        report.holding.append(state.system)
                    drain = self._drain_for(state, drains, started)
                    if drain is None:
                        continue
                    released, wait = self._slice(drain, state, now)
                    if released:
                        report.released[state.system] = report.released.get(state.system, 0) + released
                    if wait is not None:  # more to release once the bucket refills
                        active = True
                        wake = min(wake, now + timedelta(seconds=wait))
                now = self._clock.now()
                if not active or now - started >= self._run:
                    return report
                self._clock.sleep(max((min(wake, started + self._run) - now).total_seconds(), MIN_SLEEP))
        finally:
            for system in drains:
                self._board.release_lease(system, self._owner)

    def _drain_for(self, state: SystemState, drains: dict[str, _Drain], started: datetime) -> _Drain | None:
        """This run's drain of `state.system`, starting it (taking the lease) if it has work to do."""
        drain = drains.get(state.system)
        if drain and drain.stopped:
            return None
        if state.mode is not Mode.DRAINING or state.release_config.paused:
            return None
        if drain is None:
            now = self._clock.now()
            until = started + self._run + LEASE_MARGIN
            if not self._board.acquire_lease(state.system, self._owner, now, until):
                return None  # another run is draining it
            self._resend_released(state.system)
            bucket = state.bucket or TokenBucket.full(state.release_config, now)
            drain = drains[state.system] = _Drain(state.system, bucket)
        return drain

    def _slice(self, drain: _Drain, state: SystemState, now: datetime) -> tuple[int, float | None]:
        """Release what the bucket allows now (at most one slice), held and fallback declarations merged in
        receipt order; seconds until the next slice, or None when there is nothing left to release now
        (backlog empty, system down, paused, lease lost)."""
        config = state.release_config
        bucket = drain.bucket.refilled(config, now)
        slice_size = min(SLICE, config.burst)
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
        return released, bucket.seconds_until(slice_size, config)

    def _candidates(self, state: SystemState, wanted: int) -> list[Record]:
        queued = list(self._ledger.oldest(state.system, State.QUEUED, wanted)) if state.held else []
        fallback = list(self._ledger.oldest(state.system, State.EMERGENCY, wanted)) if state.emergency else []
        ready = [r for r in fallback if not r.control_pending]  # re-integrated once released after a control
        return reintegration_order(state.system, queued, ready)[:wanted]

    def _release_move(self, record: Record, bucket: TokenBucket, drain: _Drain, now: datetime, epoch: int) -> Move:
        grant = ReleaseGrant(self._owner, bucket, drain.count_recent(now))
        if record.state is State.EMERGENCY:
            marks, references = reintegration_marks(record)
            return Move(
                State.RELEASED,
                f"re-integrated after the fallback procedure with {', '.join([*marks, *references])}",
                frozenset({State.EMERGENCY}),
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
            held_delta=-1,
            grant=grant,
            epoch=epoch,
            fields={"enqueued_at": iso(now), "probe": False, "release_epoch": epoch},
        )

    def _redeclare(self, record: Record, now: datetime) -> None:
        move = Move(
            State.REDECLARE,
            f"its anticipation period ended at {record.anticipation_expires_at}, during the outage: customs has "
            "deleted it; lodge a new declaration for the goods' actual situation (seed 004)",
            frozenset({State.QUEUED}),
            held_delta=-1,
        )
        with contextlib.suppress(StateConflict):
            self._ledger.move(record, move, now)

    def _probe(self, state: SystemState, now: datetime) -> bool:
        """Let one held declaration test a system the circuit breaker holds (source AUTO)."""
        due = (state.probe_until is None or state.probe_until < now) and (
            state.since is None or now - state.since >= self._probe_after
        )
        if not (state.held and due):
            return False
        for record in self._ledger.oldest(state.system, State.QUEUED, 1):
            move = Move(
                State.RELEASED,
                "released as a probe: customs stopped answering; this one tests whether it is back",
                frozenset({State.QUEUED}),
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

    def _resend_released(self, system: str) -> None:
        """Before draining a system, send again what it has RELEASED: a run that died between the ledger
        and the queue left one without its message, and releasing younger ones first would let them
        overtake it. SQS drops the copies of messages it already has (same deduplication id)."""
        token = None
        while True:
            records, token = self._ledger.page(system=system, state=State.RELEASED, limit=100, token=token)
            for record in records:
                self._queue.send(record)
            if not token:
                return

    def _resend_stale(self, now: datetime) -> list[Record]:
        stale: list[Record] = self._ledger.stale_released(now - self._resend_after, SLICE * 10)
        for record in stale:
            self._queue.send(record)
            self._ledger.mark_enqueued(record, now)
        return stale
