"""What operators see and set about customs systems: the system answer and status changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ecluse import systems
from ecluse.callers import Caller, Reason
from ecluse.clock import Clock, iso
from ecluse.declarations import CalendarAwareDatetime
from ecluse.drain import outlook
from ecluse.errors import EcluseError, FieldProblem
from ecluse.policies import Policy
from ecluse.ports import StatusBoard
from ecluse.status import Source, Status
from ecluse.systems import StatusChange, SystemState
from ecluse.throttle import ReleaseConfig


class StatusRequest(BaseModel):
    """`PUT /systems/{system}/status`: what the operator (or a feed) says about a system."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    status: Status
    source: Source = Source.OPERATOR
    reference: str | None = Field(default=None, max_length=120, description='DA number, "Alerte CID", ticket…')
    reason: Reason = None
    authorised_from: CalendarAwareDatetime | None = Field(
        default=None, description="when the authority authorises the fallback procedure (ISO 8601 with zone)"
    )

    def change(self, by: str) -> StatusChange:
        return StatusChange(self.status, self.source, self.reference, self.reason, self.authorised_from, by=by)


class ReleaseRequest(ReleaseConfig):
    """`PUT /systems/{system}/release`: the throttle, and why it changes."""

    reason: Reason = None


class OldestHeld(Protocol):
    def __call__(self, system: str) -> datetime | None: ...


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def view(state: SystemState, now: datetime, oldest_held_at: datetime | None = None) -> dict[str, Any]:
    known = systems.lookup(state.system)
    config = state.release_config
    drain = outlook(state, now)
    counted = state.released_counted_at
    recent = state.released_last_minute if counted and now - counted < timedelta(minutes=1) else 0
    return {
        "system": state.system,
        "country": known.country,
        "name": known.name,
        "status": state.status.value,
        "mode": state.mode.value,
        "since": _when(state.since),
        "source": state.source.value if state.source else None,
        "reference": state.reference,
        "reason": state.reason,
        "by": state.by,
        "authorised_from": _when(state.authorised_from),
        "outage_ended_at": _when(state.outage_ended_at),
        "held": state.held,
        "oldest_held_age_seconds": round((now - oldest_held_at).total_seconds()) if oldest_held_at else None,
        "emergency": state.emergency,
        "release": config.model_dump(),
        "release_changed": {
            "by": state.release_by,
            "at": _when(state.release_changed_at),
            "reason": state.release_reason,
        }
        if state.release_by
        else None,
        "released_last_minute": recent,
        "reintegration_deadline": _when(state.reintegration_deadline),
        "projected_drain_end": _when(drain.projected_end),
        "deadline": drain.as_dict(),
    }


def continuity(policy: Policy) -> dict[str, Any]:
    """What a system's continuity policy asks of its operator (the console's forms say it): the evidence
    each outage source needs for the fallback, the sources the authority buffers, the re-integration delay."""
    return {
        "reintegration_hours": policy.reintegration.deadline_hours,
        "fallback_allowed": policy.fallback.allowed,
        "fallback_urgent_only": policy.fallback.urgent_only,
        "evidence": {source.value: kind.value for source, kind in policy.fallback.evidence.items() if kind},
        "sends_through": sorted(source.value for source in policy.passable_sources),
        "sources": list(policy.sources),
    }


class Operations:
    def __init__(self, board: StatusBoard, clock: Clock, oldest_held: OldestHeld) -> None:
        self._board = board
        self._clock = clock
        self._oldest_held = oldest_held

    def _view(self, state: SystemState) -> dict[str, Any]:
        oldest = self._oldest_held(state.system) if state.held else None
        return view(state, self._clock.now(), oldest)

    def list(self) -> list[dict[str, Any]]:
        return [self._view(s) for s in self._board.all()]

    def get(self, system: str) -> dict[str, Any]:
        systems.lookup(system)
        state = self._board.get(system)
        return {**self._view(state), "policy": continuity(state.policy), "history": self._board.history(system)}

    def set_status(self, system: str, request: StatusRequest, caller: Caller) -> dict[str, Any]:
        systems.lookup(system)
        if request.source is Source.AUTO:
            raise EcluseError(
                "source_reserved",
                "source AUTO is set by Écluse's own outage detection; use OPERATOR",
                [FieldProblem("source", "source_reserved", "use OPERATOR, CID_ALERT, SELF_TRIGGERED, …")],
                422,
            )
        return self._view(self._board.change(system, request.change(caller.principal), self._clock.now()))

    def set_release(self, system: str, request: ReleaseRequest, caller: Caller) -> dict[str, Any]:
        systems.lookup(system)
        config = ReleaseConfig(rate_per_minute=request.rate_per_minute, burst=request.burst, paused=request.paused)
        changed = self._board.set_release(
            system, config, by=caller.principal, at=self._clock.now(), reason=request.reason
        )
        return self._view(changed)
