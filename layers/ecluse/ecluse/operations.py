"""What operators see and set about customs systems: the system answer and status changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ecluse import systems
from ecluse.clock import Clock, iso
from ecluse.systems import Source, Status, StatusChange, SystemState


class StatusRequest(BaseModel):
    """`PUT /systems/{system}/status`: what the operator (or a feed) says about a system."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Status
    source: Source = Source.OPERATOR
    reference: str | None = Field(
        default=None, max_length=120, description='DA number, "Alerte CID", ticket…'
    )
    reason: str | None = Field(default=None, max_length=500)
    authorised_from: AwareDatetime | None = Field(
        default=None, description="when the authority authorises the fallback procedure (ISO 8601 with zone)"
    )

    def change(self) -> StatusChange:
        return StatusChange(self.status, self.source, self.reference, self.reason, self.authorised_from)


class Board(Protocol):
    def get(self, system: str) -> SystemState: ...

    def all(self) -> list[SystemState]: ...

    def change(self, system: str, change: StatusChange, at: datetime) -> SystemState: ...

    def history(self, system: str, limit: int = 20) -> list[dict]: ...


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def view(state: SystemState, now: datetime) -> dict[str, Any]:
    known = systems.lookup(state.system)
    rate = known.default_rate_per_minute
    drain_end = (
        now + timedelta(minutes=state.held / rate)
        if state.held and state.status is not Status.UNAVAILABLE
        else None
    )
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
        "authorised_from": _when(state.authorised_from),
        "outage_ended_at": _when(state.outage_ended_at),
        "held": state.held,
        "emergency": state.emergency,
        "release": {"rate_per_minute": rate, "burst": known.default_burst, "paused": False},
        "reintegration_deadline": _when(state.reintegration_deadline),
        "projected_drain_end": _when(drain_end),
    }


class Operations:
    def __init__(self, board: Board, clock: Clock) -> None:
        self._board = board
        self._clock = clock

    def list(self) -> list[dict]:
        now = self._clock.now()
        return [view(s, now) for s in self._board.all()]

    def get(self, system: str) -> dict:
        systems.lookup(system)
        return {**view(self._board.get(system), self._clock.now()), "history": self._board.history(system)}

    def set_status(self, system: str, request: StatusRequest) -> dict:
        systems.lookup(system)
        now = self._clock.now()
        return view(self._board.change(system, request.change(), now), now)
