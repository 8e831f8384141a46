"""A declaration as the ledger holds it: its state, its history (bounded) and what happened to it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from ecluse.life_cycle import NOT_RECEIVED, State


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    state: State
    at: str
    detail: str = ""
    # who: a principal (an ERP, an operator) or Écluse itself (callers.RELEASE…); None in entries before decision 16
    by: str | None = None
    reason: str | None = None  # why, as the person acting gave it (manual actions only)


MAX_HISTORY = 100  # entries one declaration keeps: a DynamoDB item stops at 400 KB, the body takes most
_KEPT_FIRST = 2  # RECEIVED and how it was first routed
_NOT_KEPT = re.compile(r"^(\d+) earlier entries not kept")


def appended(history: tuple[HistoryEntry, ...], entry: HistoryEntry) -> tuple[tuple[HistoryEntry, ...], bool]:
    """`history` with `entry` at its end, and whether older entries had to go: a declaration held and
    released again and again keeps its first entries, one that says how many were dropped, and the
    latest ones, so that its item never outgrows DynamoDB's limit."""
    entries = (*history, entry)
    if len(entries) <= MAX_HISTORY:
        return entries, False
    first, rest = entries[:_KEPT_FIRST], entries[_KEPT_FIRST:]
    latest = rest[-(MAX_HISTORY - _KEPT_FIRST - 1) :]
    dropped = rest[: len(rest) - len(latest)]
    count = sum(int(m.group(1)) if (m := _NOT_KEPT.match(e.detail)) else 1 for e in dropped)
    marker = HistoryEntry(
        state=dropped[-1].state,
        by=dropped[-1].by,
        at=dropped[-1].at,
        detail=f"{count} earlier entries not kept (a declaration keeps its first {_KEPT_FIRST} and its latest "
        f"{len(latest)}), the last of them at {dropped[-1].at}",
    )
    return (*first, marker, *latest), True


class Record(BaseModel):
    """A declaration as the ledger holds it: the body plus everything that happened to it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    lrn: str
    declarant: str  # who lodged it (callers.Caller.declarant): with the LRN, its key (decision 16)
    system: str
    state: State
    received_at: str
    history: tuple[HistoryEntry, ...] = ()
    marks: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    mrn: str | None = None
    customs_errors: tuple[dict[str, Any], ...] = ()
    attempts: int = 0
    fingerprint: str = ""
    urgent: bool = False
    probe: bool = False  # released to test a system held by the circuit breaker
    anticipation_expires_at: str | None = None  # an anticipated declaration's end of anticipation
    fallback_at: str | None = None  # when the fallback declaration was established (real clearance date)
    fallback_mode: str | None = None  # "document", or "record_in_books" (OEA)
    control_pending: bool = False  # physically controlled, goods not yet released after the control
    release_epoch: int = 0  # its system's hold epoch when it was last released (ledger.Move.epoch)
    # what customs answered when last asked about this LRN ("received" / "not_received"), reset when a
    # lodge goes out after it; not projected in the listing indexes (read it with `get`)
    customs_lookup: str | None = None
    lookup_after: str | None = None  # a lodgement got no answer: customs is asked about it from then on
    body: dict[str, Any] | None = None  # loaded only where needed (submission, idempotency), never listed

    @property
    def possibly_lodged(self) -> bool:
        """It went to customs at least once without an answer, and no lookup since said customs never got
        it: customs may hold it, so it must not be cancelled or lodged again under the fallback."""
        return self.attempts > 0 and self.customs_lookup != NOT_RECEIVED

    @property
    def party_eori(self) -> str | None:
        """Whose LRN it is at customs: the declaring party's EORI in the body (when it was loaded). The LRN
        is that party's own reference, and two ERPs of Écluse may use the same one (decision 16)."""
        party = (self.body or {}).get("declarant")
        return str(party["eori"]) if isinstance(party, dict) and party.get("eori") else None

    def summary(self) -> dict[str, Any]:
        return {
            "lrn": self.lrn,
            "system": self.system,
            "state": self.state.value,
            "received_at": self.received_at,
        }

    def answer(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "declarant": self.declarant,
            "history": [h.model_dump(mode="json") for h in self.history],
            "marks": list(self.marks),
            "references": list(self.references),
            "mrn": self.mrn,
            "customs_errors": list(self.customs_errors),
            "attempts": self.attempts,
            "urgent": self.urgent,
            "fallback": {
                "established_at": self.fallback_at,
                "mode": self.fallback_mode,
                "awaiting_release_after_control": self.control_pending,
            }
            if self.fallback_at
            else None,
        }


def release_mark(record: Record) -> str | None:
    """Which release of the declaration a queue message is for: the time of its latest RELEASED entry.
    A message of an earlier release, delivered late, must not send it ahead of its new turn."""
    released = [entry.at for entry in record.history if entry.state is State.RELEASED]
    return released[-1] if released else None
