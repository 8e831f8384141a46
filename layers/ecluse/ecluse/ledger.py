"""The ledger port: where declarations and their history live. `aws.dynamodb_ledger` implements it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ecluse.callers import Caller
from ecluse.life_cycle import TRANSITIONS, State
from ecluse.records import HistoryEntry, Record
from ecluse.throttle import TokenBucket

if TYPE_CHECKING:
    from ecluse.declarations import Declaration  # the body's models: the API's alone (ecluse.life_cycle)

MAX_DETAIL = 1000  # characters of one history entry's detail


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
    """The system refused the move: UNAVAILABLE, release paused, or the release lease lost."""


class HeldAgainMeanwhile(SystemHolding):
    """The system's hold epoch moved since the declaration was released: an older declaration of its
    system was held again, and sending this one now would overtake it."""


class Gate(Enum):
    """What the system's status must allow for a move, checked in the same transaction."""

    NONE = "none"
    OPEN = "open"  # not UNAVAILABLE
    OPEN_OR_AUTO = "open_or_auto"  # not UNAVAILABLE, or held only by the circuit (a probe may go)


@dataclass(frozen=True)
class ReleaseGrant:
    """Written with a release: the lease holder's bucket after this release's token, and its count.
    A probe (probe_until set) is the one declaration let through to test an AUTO-held system."""

    owner: str
    bucket: TokenBucket
    released_last_minute: int
    probe_until: datetime | None = None


@dataclass(frozen=True)
class Move:
    """One conditional transition, with what else must change in the same write."""

    target: State
    detail: str
    expected: frozenset[State]
    held_delta: int = 0  # the system's backlog counter moves in the same transaction
    emergency_delta: int = 0  # and its count of fallback declarations awaiting re-integration
    gate: Gate = Gate.NONE
    grant: ReleaseGrant | None = None
    count_attempt: bool = False
    fields: dict[str, Any] | None = None
    epoch: int | None = None  # the system's hold epoch must still be this one (else HeldAgainMeanwhile)
    new_epoch: bool = False  # a declaration on its way to customs is held again: later releases are stale
    # only if nothing was sent to customs since the record was read (its attempts are still these)
    if_attempts: int | None = None
    by: str = field(kw_only=True)  # who moves it, recorded in its history entry (callers.Caller.principal…)
    reason: str | None = field(default=None, kw_only=True)  # why, as given by whoever asked for it

    def __post_init__(self) -> None:
        # The life cycle has one definition (life_cycle.TRANSITIONS): a move outside it is a bug.
        illegal = sorted(s.value for s in self.expected if self.target not in TRANSITIONS[s])
        if illegal or not self.expected:
            raise ValueError(f"no transition to {self.target} from {illegal or 'nothing'}")
        if len(self.detail) > MAX_DETAIL:  # an error text quoted in it must not grow the item without bound
            object.__setattr__(self, "detail", self.detail[: MAX_DETAIL - 1] + "…")
        if not self.by:
            raise ValueError("every move says who made it")

    def entry(self, at: str) -> HistoryEntry:
        """Its line in the declaration's history."""
        return HistoryEntry(state=self.target, at=at, detail=self.detail, by=self.by, reason=self.reason)


def back_in_line(record: Record, detail: str, expected: frozenset[State], *, by: str, **changes: Any) -> Move:
    """A declaration held again on its way to customs goes back to its line: a held one to QUEUED; a
    fallback declaration being re-integrated to EMERGENCY, among the fallback declarations it was released
    from (re-integrated in their own order; its goods moved under the fallback, so it is neither cancelled
    nor switched again)."""
    if record.fallback_at:
        return Move(State.EMERGENCY, detail, expected, emergency_delta=+1, by=by, **changes)
    return Move(State.QUEUED, detail, expected, held_delta=+1, by=by, **changes)


class Ledger(Protocol):
    """Where declarations and their history live: every change a conditional move (`Move`)."""

    def add(
        self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None, caller: Caller
    ) -> Record:
        """Record a new declaration of `caller` (its declarant, lodged by its principal): RELEASED when
        `hold_reason` is None (only if the system is NORMAL, else FastPathClosed), QUEUED with that reason
        otherwise. DuplicateLrn if this declarant already lodged the LRN."""
        ...

    def get(self, lrn: str, declarant: str, *, with_body: bool = False) -> Record | None:
        """The declaration `declarant` lodged under `lrn` (decision 16: the key is both)."""
        ...

    def find(self, lrn: str) -> list[Record]:
        """Every declarant's declaration under `lrn` (for operators, who reach them all), without bodies."""
        ...

    def move(self, record: Record, move: Move, at: datetime) -> Record: ...

    def page(
        self,
        *,
        system: str | None,
        state: State | None,
        limit: int,
        token: str | None,
        declarant: str | None = None,
    ) -> tuple[list[Record], str | None]:
        """Oldest first, by system, state, declarant or any of them (at least one)."""
        ...

    def oldest(self, system: str, state: State, limit: int) -> Iterable[Record]: ...

    def oldest_held_at(self, system: str) -> datetime | None: ...

    def stale_released(self, before: datetime, limit: int) -> list[Record]:
        """RELEASED declarations, any system, enqueued before `before`: their queue message may be lost."""
        ...

    def mark_enqueued(self, record: Record, at: datetime) -> None:
        """Note a re-send; a declaration that moved on meanwhile needs no note."""
        ...
