"""Release: held declarations go back to customs oldest first, at the rate the operator set.

One run lasts `run_seconds` (a scheduled Lambda runs about a minute; `make run` ticks more often) and
releases in slices as the token bucket refills, so releases are spread across the minute instead of
one burst per tick. Per system, only the holder of a lease (a conditional write on the system's item)
releases (`release.slices`). Declarations recorded RELEASED whose queue message may never have been
sent are re-sent (`release.sweep`); a system the circuit holds gets a probe (`release.probe`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ecluse.clock import Clock
from ecluse.drain import risk_report
from ecluse.ledger import Ledger
from ecluse.ports import Spans, StatusBoard, SubmitQueue, no_spans
from ecluse.release.probe import PROBE_INTERVAL, Probe
from ecluse.release.settle import Settle
from ecluse.release.slices import MIN_SLEEP, Drain, Slices
from ecluse.release.sweep import RESEND_AFTER, Sweep
from ecluse.status import Mode
from ecluse.systems import SystemState
from ecluse.throttle import TokenBucket

LEASE_MARGIN = timedelta(seconds=30)


@dataclass
class ReleaseReport:
    released: dict[str, int] = field(default_factory=dict)
    resent: dict[str, int] = field(default_factory=dict)
    holding: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    at_risk: dict[str, dict[str, Any]] = field(default_factory=dict)


class Release:
    def __init__(
        self,
        ledger: Ledger,
        board: StatusBoard,
        queue: SubmitQueue,
        clock: Clock,
        *,
        run_seconds: float = 0.0,
        owner: str | None = None,
        probe_after: timedelta = PROBE_INTERVAL,
        resend_after: timedelta = RESEND_AFTER,
        spans: Spans = no_spans,
    ) -> None:
        self._ledger = ledger
        self._board = board
        self._clock = clock
        self._run = timedelta(seconds=run_seconds)
        self._owner = owner or uuid.uuid4().hex
        self._sweep = Sweep(ledger, queue, resend_after)
        self._probe = Probe(ledger, queue, self._owner, probe_after)
        self._slices = Slices(ledger, queue, self._owner)
        self._settle = Settle(ledger, board)
        self._span = spans  # a run lasts up to a minute: its phases are traced apart

    def run(self) -> ReleaseReport:
        report = ReleaseReport()
        started = self._clock.now()
        with self._span("release.sweep"):
            for record in self._sweep.stale(started):
                report.resent[record.system] = report.resent.get(record.system, 0) + 1
        drains: dict[str, Drain] = {}
        try:
            while True:
                wake = self._look(drains, report, started)
                now = self._clock.now()
                if wake is None or now - started >= self._run:
                    return report
                self._clock.sleep(max((min(wake, started + self._run) - now).total_seconds(), MIN_SLEEP))
        finally:
            for system in drains:
                self._board.release_lease(system, self._owner)

    def _look(self, drains: dict[str, Drain], report: ReleaseReport, started: datetime) -> datetime | None:
        """One look at every system: probe, report, release a slice of each drain. When to look again, or
        None when nothing is left to release in this run."""
        now = self._clock.now()
        wake, active = now + self._run, False
        report.holding, report.at_risk = [], {}
        for state in self._board.all():
            if not state.settled:  # releases of an earlier epoch go back in line before anything else
                with self._span("release.settle", system=state.system):
                    self._settle.run(state, now)
                state = self._board.get(state.system)  # with its new backlog
                if not state.settled:  # held again meanwhile: settled at the next look
                    active, wake = True, min(wake, now + timedelta(seconds=MIN_SLEEP))
                    continue
            self._observe(state, now, report)
            drain = self._drain_for(state, drains, started)
            if drain is None:
                continue
            with self._span("release.drain_slice", system=state.system):
                released, wait = self._slices.release(drain, state, now)
            if released:
                report.released[state.system] = report.released.get(state.system, 0) + released
            if wait is not None:  # more to release once the bucket refills
                active = True
                wake = min(wake, now + timedelta(seconds=wait))
        return wake if active else None

    def _observe(self, state: SystemState, now: datetime, report: ReleaseReport) -> None:
        """A probe where the circuit holds the system; the re-integration deadlines at risk; who holds."""
        if self._probe.due(state, now):
            with self._span("release.probe", system=state.system):
                probed = self._probe.send(state, now)
            if probed:
                report.probes.append(state.system)
        risk = risk_report(state, now)
        if risk is not None:
            report.at_risk[state.system] = risk
        if state.mode is Mode.HOLDING:
            report.holding.append(state.system)

    def _drain_for(self, state: SystemState, drains: dict[str, Drain], started: datetime) -> Drain | None:
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
            with self._span("release.resend_released", system=state.system):
                self._sweep.released(state.system)
            bucket = state.bucket or TokenBucket.full(state.release_config, now)
            drain = drains[state.system] = Drain(state.system, bucket)
        return drain
