"""Automatic outage detection: what the circuit breaker's verdicts do to a system's status.

Holding is the safe direction, so the circuit may always declare a system UNAVAILABLE (source AUTO)
when it is not already; it may end only its own outages (source AUTO). Anything an operator, a CID
alert, a feed or a maintenance window set wins: AUTO never overrides it.
"""

from __future__ import annotations

from ecluse.callers import DETECTION
from ecluse.clock import Clock
from ecluse.errors import EcluseError
from ecluse.ports import StatusBoard
from ecluse.status import Source, Status
from ecluse.systems import StatusChange

CIRCUIT_REFERENCE = "circuit breaker"


class CustomsUnreachable(Exception):
    """The system's circuit is open: customs is not called, the declaration is held."""

    def __init__(self, system: str) -> None:
        super().__init__(f"{system}: circuit open")
        self.system = system


class AutoDetection:
    def __init__(self, board: StatusBoard, clock: Clock) -> None:
        self._board = board
        self._clock = clock

    def customs_down(self, system: str, reason: str) -> bool:
        """The circuit opened. True when this put the system UNAVAILABLE."""
        if self._board.get(system).status is Status.UNAVAILABLE:
            return False  # already held, by whoever said so: leave their record alone
        change = StatusChange(Status.UNAVAILABLE, Source.AUTO, CIRCUIT_REFERENCE, reason, by=DETECTION)
        return self._apply(system, change)

    def customs_back(self, system: str) -> bool:
        """A probe got an answer. True when this ended an outage the circuit had declared."""
        if not self._board.get(system).auto_held:
            return False
        answered = "customs answered a probe"
        change = StatusChange(Status.AVAILABLE, Source.AUTO, CIRCUIT_REFERENCE, answered, by=DETECTION)
        return self._apply(system, change)

    def operator_says_available(self, system: str) -> bool:
        """Someone other than the circuit declared the system usable after the circuit opened."""
        state = self._board.get(system)
        return state.status is not Status.UNAVAILABLE and state.source not in (None, Source.AUTO)

    def _apply(self, system: str, change: StatusChange) -> bool:
        try:
            self._board.change(system, change, self._clock.now())
        except EcluseError:  # someone changed it at the same moment: theirs stands
            return False
        return True
