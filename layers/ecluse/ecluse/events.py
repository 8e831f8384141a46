"""Events for the ERP: what changed, told as it happens instead of polled (docs/events.md).

Built from what the ledger and the systems table recorded (the tables' change streams), so a change is
never lost because telling it failed: the stream keeps it until it is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecluse.clock import iso
from ecluse.life_cycle import State
from ecluse.records import Record
from ecluse.systems import SystemState

SOURCE = "ecluse"
DECLARATION_STATE_CHANGED = "Declaration State Changed"
SYSTEM_STATUS_CHANGED = "System Status Changed"
DEADLINE_AT_RISK = "Reintegration Deadline At Risk"
# The kinds that are every ERP's business (they name no declarant): an ERP's webhook is told of these and
# of its own declarations' events only (template.yaml, WebhookRule). A kind not listed reaches no webhook.
EVERYONES = (SYSTEM_STATUS_CHANGED, DEADLINE_AT_RISK)


@dataclass(frozen=True)
class Event:
    detail_type: str
    detail: dict[str, Any]
    resources: tuple[str, ...] = field(default_factory=tuple)


def declaration_changed(before: Record | None, after: Record) -> Event | None:
    """The declaration's state moved (or it was just lodged); None for any other write (a re-send noted,
    a sending error recorded with its state unchanged)."""
    if before is not None and before.state is after.state:
        return None
    last = after.history[-1] if after.history else None
    previous = before.state.value if before is not None else State.RECEIVED.value
    return Event(
        DECLARATION_STATE_CHANGED,
        {
            "lrn": after.lrn,
            "declarant": after.declarant,  # whose: a rule routes each ERP's own events to it
            "system": after.system,
            "state": after.state.value,
            "previous_state": previous,
            "at": last.at if last else after.received_at,
            "detail": last.detail if last else "",
            "by": last.by if last else None,
            "reason": last.reason if last else None,
            "mrn": after.mrn,
            "marks": list(after.marks),
            "references": list(after.references),
            "customs_errors": list(after.customs_errors),
            "sequence": len(after.history),  # orders and deduplicates one declaration's events
        },
    )


def system_changed(before: SystemState | None, after: SystemState, at: datetime) -> Event | None:
    """A status change (status, source or reference: each one bumps the record's version); None for the
    counters, the release bucket and the lease, which the same item also carries."""
    if after.version == (before.version if before is not None else 0):
        return None  # the item was written, its status was not (a first write may be a counter)
    return Event(
        SYSTEM_STATUS_CHANGED,
        {
            "system": after.system,
            "status": after.status.value,
            "previous_status": before.status.value if before is not None else None,
            "mode": after.mode.value,
            "source": after.source.value if after.source else None,
            "reference": after.reference,
            "reason": after.reason,
            "by": after.by,
            "at": iso(after.since if after.since and (before is None or before.status is not after.status) else at),
        },
    )


def deadline_at_risk(system: str, risk: dict[str, Any]) -> Event:
    """From a release run's report of a system whose backlog will not be re-integrated in time."""
    return Event(
        DEADLINE_AT_RISK,
        {
            "system": system,
            "deadline": risk.get("deadline"),
            "projected_drain_end": risk.get("projected_drain_end"),
            "rate_to_meet_deadline": risk.get("rate_to_meet_deadline"),
        },
    )
