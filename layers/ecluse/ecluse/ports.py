"""The ports the domain talks through besides the ledger (`ledger.Ledger`), the clock (`clock.Clock`) and
customs (`gateway.CustomsGateway`): each defined once, implemented by the adapters in `aws/` and by the
in-memory twins in tests/fakes.py (tests/typed_ports.py has mypy check that both do)."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from ecluse.records import Record
from ecluse.systems import StatusChange, SystemState
from ecluse.throttle import ReleaseConfig


class StatusBoard(Protocol):
    """The systems' stored status: what operators set, the backlog counters, the release lease."""

    def get(self, system: str) -> SystemState: ...

    def all(self) -> list[SystemState]: ...

    def change(self, system: str, change: StatusChange, at: datetime) -> SystemState:
        """Apply `change`, conditional on the version read (else EcluseError status_changed_concurrently)."""
        ...

    def history(self, system: str, limit: int = 20) -> list[dict[str, Any]]: ...

    def set_release(
        self, system: str, config: ReleaseConfig, *, by: str, at: datetime, reason: str | None = None
    ) -> SystemState:
        """Set the release throttle, recording who changed it, when and why (the last change only)."""
        ...

    def acquire_lease(self, system: str, owner: str, now: datetime, until: datetime) -> bool:
        """Become the only release run for `system` until `until`, unless another run holds it."""
        ...

    def release_lease(self, system: str, owner: str) -> None: ...

    def settle(self, system: str, epoch: int) -> bool:
        """Record that every release of an earlier epoch is back in line (False if the epoch moved)."""
        ...


class SubmitQueue(Protocol):
    """Where released declarations wait for the submitter: FIFO per system, deduplicated per release."""

    def send(self, record: Record) -> None: ...


class UrgentFallback(Protocol):
    """Switches an urgent declaration held by an outage to the fallback procedure, when its policy allows."""

    def switch_urgent(self, record: Record) -> Record | None: ...


class Log(Protocol):
    """What the domain writes to the function's log (Powertools' Logger)."""

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


class Spans(Protocol):
    """Opens a tracing span (an X-Ray subsegment on Lambda: `aws.tracing.span`) around a phase of work."""

    def __call__(self, name: str, **annotations: str) -> AbstractContextManager[object]: ...


def no_spans(name: str, **annotations: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()
