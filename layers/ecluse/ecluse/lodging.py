"""Lodging: accept a declaration once, route it (to customs now, or held in order), cancel a held one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ecluse import ownership
from ecluse.callers import Caller, Reason
from ecluse.clock import Clock
from ecluse.declarations import Declaration
from ecluse.errors import FieldProblem, conflict, filter_required, invalid, possibly_lodged
from ecluse.ledger import DuplicateLrn, FastPathClosed, Ledger, Move, StateConflict
from ecluse.life_cycle import State
from ecluse.ports import Log, SubmitQueue, UrgentFallback
from ecluse.records import Record

MAX_BODY_BYTES = 1024 * 1024
# After the fast path was refused for a system, newcomers go straight to the queue for a few seconds:
# one write instead of a refused transaction and a second one. Holding is always correct (the release
# run sends a held declaration as soon as the system is NORMAL); only the fast path needs the check.
REMEMBER_HOLDING = timedelta(seconds=5)


class CancelRequest(BaseModel):
    """`DELETE /declarations/{lrn}` may carry why, for the audit trail."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: Reason = None


@dataclass(frozen=True)
class Lodged:
    record: Record
    created: bool  # False when the ERP retried the same declaration


def problems_from_pydantic(errors: Sequence[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> list[FieldProblem]:
    """pydantic's errors as the contract's per-field details, with codes an ERP can switch on."""
    codes = {"missing": "missing_field", "extra_forbidden": "unknown_field"}
    problems = []
    for error in errors:
        location = [p for p in error.get("loc", ()) if p not in prefix]
        if not location and error["type"] == "missing":  # no body at all
            problems.append(FieldProblem("body", "invalid_body", "send a JSON object as the body"))
            continue
        field = ""
        for part in location:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        problems.append(FieldProblem(field or "body", codes.get(error["type"], error["type"]), error["msg"]))
    return problems


def validate(body: Any) -> Declaration:
    """The declaration, or a 422 listing every schema and rule violation at once (the model checks both;
    the API gets the same answer from the event handler's validation of the body)."""
    try:
        return Declaration.model_validate(body)
    except ValidationError as error:
        raise invalid(problems_from_pydantic(error.errors())) from None


class Lodging:
    def __init__(
        self,
        ledger: Ledger,
        queue: SubmitQueue,
        clock: Clock,
        logger: Log | None = None,
        fallback: UrgentFallback | None = None,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._clock = clock
        self._logger = logger
        self._fallback = fallback  # switches urgent held declarations when the system's policy allows
        self._holding: dict[str, tuple[datetime, str]] = {}  # system -> (until, why), this environment

    def lodge(self, declaration: Declaration, caller: Caller) -> Lodged:
        """Lodge `declaration` as `caller`'s: its declarant's LRN, whoever else uses the same one."""
        fingerprint = declaration.fingerprint()
        at = self._clock.now()
        remembered = self._holding.get(declaration.system)
        try:
            if remembered and at < remembered[0]:
                record = self._ledger.add(declaration, fingerprint, at, remembered[1], caller)
            else:
                try:
                    record = self._ledger.add(declaration, fingerprint, at, None, caller)
                except FastPathClosed as closed:
                    self._holding[declaration.system] = (at + REMEMBER_HOLDING, closed.reason)
                    record = self._ledger.add(declaration, fingerprint, at, closed.reason, caller)
        except DuplicateLrn as duplicate:
            if duplicate.existing.fingerprint != fingerprint:
                raise conflict(
                    "lrn_conflict",
                    f"LRN {declaration.lrn} was already lodged with different content; "
                    "use a new LRN for a new declaration",
                ) from None
            return Lodged(duplicate.existing, created=False)
        if record.state is State.RELEASED:
            self._enqueue(record)
        elif declaration.urgent and self._fallback:
            record = self._fallback.switch_urgent(record) or record
        return Lodged(record, created=True)

    def _enqueue(self, record: Record) -> None:
        try:
            self._queue.send(record)
        except Exception:
            # The declaration is recorded RELEASED; the release sweep re-sends what never reached the
            # queue, so the ERP still gets its 202 rather than a 5xx for our own transient failure.
            if self._logger:
                self._logger.exception(
                    "submit queue send failed; left for the release sweep", extra={"lrn": record.lrn}
                )

    def get(self, lrn: str, caller: Caller, declarant: str | None = None, *, with_body: bool = False) -> Record:
        return ownership.declaration(self._ledger, caller, lrn, declarant, with_body=with_body)

    def page(
        self,
        caller: Caller,
        *,
        system: str | None,
        state: State | None,
        limit: int,
        token: str | None,
        declarant: str | None = None,
    ) -> tuple[list[Record], str | None]:
        allowed, whose = ownership.listing(caller, declarant)
        if not allowed:
            return [], None
        if system is None and state is None and whose is None:
            raise filter_required()  # the ledger lists along one of its indexes
        return self._ledger.page(system=system, state=state, limit=limit, token=token, declarant=whose)

    def cancel(self, lrn: str, caller: Caller, declarant: str | None = None, reason: str | None = None) -> Record:
        record = self.get(lrn, caller, declarant)
        if record.state is State.CANCELLED:
            return record
        if record.state is not State.QUEUED:
            raise conflict(
                "not_cancellable",
                f"{lrn} is {record.state}: only a held (QUEUED) declaration can be cancelled",
            )
        if record.possibly_lodged:
            raise possibly_lodged(lrn, record.attempts, "cancelled")
        move = Move(
            State.CANCELLED,
            "cancelled by an operator" if caller.operator else "cancelled by the ERP",
            frozenset({State.QUEUED}),
            held_delta=-1,
            if_attempts=record.attempts,
            by=caller.principal,
            reason=reason,
        )
        try:
            return self._ledger.move(record, move, self._clock.now())
        except StateConflict as lost:
            raise conflict(
                "not_cancellable", f"{lrn} changed meanwhile (now {lost.current}): it can no longer be cancelled"
            ) from None
