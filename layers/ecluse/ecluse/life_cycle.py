"""A declaration's life cycle: its states and the only moves between them.

Every function reads and writes states; only the API validates a body (ecluse.declarations), so the
states live apart from the body's models, which the other functions do not import.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "RECEIVED"
    QUEUED = "QUEUED"
    RELEASED = "RELEASED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EMERGENCY = "EMERGENCY"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    REDECLARE = "REDECLARE"


# The only moves the ledger will write (README.md, "States"); ledger.Move refuses any
# other. SUBMITTED -> SUBMITTED records another sending attempt after a retryable sending error.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.QUEUED, State.RELEASED, State.CANCELLED}),
    State.QUEUED: frozenset({State.RELEASED, State.EMERGENCY, State.CANCELLED, State.REDECLARE, State.SUBMITTED}),
    # a fallback declaration held again on its way to customs goes back to EMERGENCY, not QUEUED (ledger.back_in_line)
    State.RELEASED: frozenset({State.SUBMITTED, State.QUEUED, State.EMERGENCY, State.FAILED}),
    State.SUBMITTED: frozenset(
        {State.SUBMITTED, State.ACCEPTED, State.REJECTED, State.FAILED, State.QUEUED, State.EMERGENCY}
    ),
    State.EMERGENCY: frozenset({State.RELEASED, State.EMERGENCY}),  # EMERGENCY again: a control recorded
    State.FAILED: frozenset({State.RELEASED, State.SUBMITTED, State.QUEUED, State.EMERGENCY}),
    State.ACCEPTED: frozenset(),
    State.REJECTED: frozenset(),
    State.CANCELLED: frozenset(),
    State.REDECLARE: frozenset(),
}
# Record.customs_lookup: what customs answered when asked about an LRN it may have received
RECEIVED_BY_CUSTOMS, NOT_RECEIVED = "received", "not_received"
