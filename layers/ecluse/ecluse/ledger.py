"""The ledger port: where declarations and their history live. `aws.dynamodb_ledger` implements it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ecluse.declarations import Declaration, Record, State


class FastPathClosed(Exception):
    """The system is unavailable or has a backlog: the newcomer must be held behind it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DuplicateLrn(Exception):
    def __init__(self, existing: Record) -> None:
        super().__init__(existing.lrn)
        self.existing = existing


class StateConflict(Exception):
    """The declaration was not in a state the move starts from (someone else moved it first)."""

    def __init__(self, lrn: str, current: State | None) -> None:
        super().__init__(f"{lrn} is {current}")
        self.lrn = lrn
        self.current = current


class SystemHolding(Exception):
    """The customs system is UNAVAILABLE: nothing may be sent to it."""


@dataclass(frozen=True)
class Move:
    """One conditional transition, with what else must change in the same write."""

    target: State
    detail: str
    expected: frozenset[State]
    held_delta: int = 0  # the system's backlog counter moves in the same transaction
    require_open_system: bool = False  # refuse if the system is UNAVAILABLE, in the same transaction
    count_attempt: bool = False
    fields: dict | None = None


class Ledger(Protocol):
    def add(
        self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None
    ) -> Record:
        """Record a new declaration: RELEASED when `hold_reason` is None (only if the system is NORMAL,
        else FastPathClosed), QUEUED with that reason otherwise. DuplicateLrn if the LRN exists."""
        ...

    def get(self, lrn: str, *, with_body: bool = False) -> Record | None: ...

    def move(self, record: Record, move: Move, at: datetime) -> Record: ...

    def page(
        self, *, system: str | None, state: State | None, limit: int, token: str | None
    ) -> tuple[list[Record], str | None]: ...

    def oldest(self, system: str, state: State, limit: int) -> Iterable[Record]: ...
