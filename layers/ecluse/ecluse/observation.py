"""What the dashboard and the alarms watch, per customs system, computed once a minute by the monitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ecluse.drain import outlook
from ecluse.systems import Mode, SystemState

STALLED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Gauges:
    system: str
    held: int
    emergency: int
    released_last_minute: int
    oldest_held_minutes: float | None  # how long the oldest held declaration has waited
    oldest_submitted_minutes: float | None  # the oldest sent to customs and still without an answer
    deadline_margin_minutes: float | None  # re-integration deadline minus projected end (< 0: late)
    stalled: bool  # available with a backlog, not paused, and nothing released for five minutes


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def gauges(
    state: SystemState, now: datetime, oldest_held_at: datetime | None, oldest_submitted_at: datetime | None
) -> Gauges:
    counted = state.released_counted_at
    recent = state.released_last_minute if counted and now - counted < timedelta(minutes=1) else 0
    drain = outlook(state, now)
    margin = None
    if state.reintegration_deadline and state.backlog:
        end = drain.projected_end
        margin = _minutes(state.reintegration_deadline - end) if end else _minutes(state.reintegration_deadline - now)
    moments = [m for m in (counted, state.outage_ended_at, state.since) if m]
    quiet_since = max(moments) if moments else None
    stalled = (
        state.mode is Mode.DRAINING
        and not state.release_config.paused
        and quiet_since is not None
        and now - quiet_since >= STALLED_AFTER
    )
    return Gauges(
        system=state.system,
        held=state.held,
        emergency=state.emergency,
        released_last_minute=recent,
        oldest_held_minutes=_minutes(now - oldest_held_at) if oldest_held_at else None,
        oldest_submitted_minutes=_minutes(now - oldest_submitted_at) if oldest_submitted_at else None,
        deadline_margin_minutes=margin,
        stalled=stalled,
    )
