"""The ledger port: where declarations and their history live. `aws.dynamodb_ledger` implements it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ecluse.life_cycle import TRANSITIONS, State
from ecluse.records import Record
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

    def __post_init__(self) -> None:
        # The life cycle has one definition (life_cycle.TRANSITIONS): a move outside it is a bug.
        illegal = sorted(s.value for s in self.expected if self.target not in TRANSITIONS[s])
        if illegal or not self.expected:
            raise ValueError(f"no transition to {self.target} from {illegal or 'nothing'}")
        if len(self.detail) > MAX_DETAIL:  # an error text quoted in it must not grow the item without bound
            object.__setattr__(self, "detail", self.detail[: MAX_DETAIL - 1] + "…")


class Ledger(Protocol):
    """Where declarations and their history live: every change a conditional move (`Move`)."""

    def add(self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None) -> Record:
        """Record a new declaration: RELEASED when `hold_reason` is None (only if the system is NORMAL,
        else FastPathClosed), QUEUED with that reason otherwise. DuplicateLrn if the LRN exists."""
        ...

    def get(self, lrn: str, *, with_body: bool = False) -> Record | None: ...

    def move(self, record: Record, move: Move, at: datetime) -> Record: ...

    def page(
        self, *, system: str | None, state: State | None, limit: int, token: str | None
    ) -> tuple[list[Record], str | None]: ...

    def oldest(self, system: str, state: State, limit: int) -> Iterable[Record]: ...

    def oldest_held_at(self, system: str) -> datetime | None: ...

    def stale_released(self, before: datetime, limit: int) -> list[Record]:
        """RELEASED declarations, any system, enqueued before `before`: their queue message may be lost."""
        ...

    def mark_enqueued(self, record: Record, at: datetime) -> None:
        """Note a re-send; a declaration that moved on meanwhile needs no note."""
        ...


def back_in_line(record: Record, detail: str, expected: frozenset[State], **changes: Any) -> Move:
    """A declaration held again on its way to customs goes back where it waited: a held one to QUEUED (the
    backlog), a fallback one being re-integrated to EMERGENCY (its goods left under the fallback: it is
    not held, and is re-integrated in the fallback's line, before held ones where the policy says so)."""
    if record.fallback_at:
        return Move(
            State.EMERGENCY,
            f"{detail} (a fallback declaration: back among those awaiting re-integration)",
            expected,
            emergency_delta=+1,
            **changes,
        )
    return Move(State.QUEUED, detail, expected, held_delta=+1, **changes)
