"""A planned maintenance window: what an operator announced, its life (SCHEDULED, RUNNING, OVERRUN, ENDED,
CANCELLED), and the ports the maintenance service stores windows and asks customs through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ecluse.clock import iso


class WindowState(StrEnum):
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    OVERRUN = "OVERRUN"  # its end has passed and customs has not answered yet
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


OPEN = frozenset({WindowState.SCHEDULED, WindowState.RUNNING, WindowState.OVERRUN})


@dataclass(frozen=True)
class Window:
    id: str
    system: str
    start: datetime
    end: datetime
    state: WindowState
    reference: str | None = None
    reason: str | None = None
    version: int = 0
    ended_at: datetime | None = None
    asked_at: datetime | None = None  # when customs was last asked after the end
    # who announced it, and who last moved its end or cancelled it: principals, as in a declaration's
    # history (None in windows stored before they were recorded)
    by: str | None = None
    changed_by: str | None = None

    @property
    def status_reference(self) -> str:
        """What the system's status record carries while this window holds it."""
        return self.reference or f"maintenance window {self.id}"

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.state in OPEN and self.start < end and start < self.end

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "start": iso(self.start),
            "end": iso(self.end),
            "reference": self.reference,
            "reason": self.reason,
            "state": self.state.value,
            "ended_at": iso(self.ended_at) if self.ended_at else None,
            "customs_asked_at": iso(self.asked_at) if self.asked_at else None,
            "scheduled_by": self.by,
            "changed_by": self.changed_by,
        }


class WindowChanged(Exception):
    """The window was changed by someone else since it was read (its version moved)."""


class WindowStore(Protocol):
    def add(self, window: Window) -> None: ...

    def get(self, system: str, window_id: str) -> Window | None: ...

    def of_system(self, system: str) -> list[Window]: ...

    def open_windows(self) -> list[Window]: ...

    def save(self, window: Window) -> Window:
        """Store `window` if the stored one still has version `window.version - 1`, else WindowChanged."""
        ...


class CustomsProbe(Protocol):
    def answers(self, system: str) -> bool:
        """Whether customs answers at all now (any answer, even "never received")."""
        ...
