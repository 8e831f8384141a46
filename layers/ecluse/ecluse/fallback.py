"""The fallback (emergency) procedure: switching held declarations to it, with the evidence and marks
their system's policy requires, and recording what happens to the goods afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecluse import ownership, policies
from ecluse.callers import FALLBACK, Caller, Reason
from ecluse.clock import Clock, iso
from ecluse.declarations import CalendarAwareDatetime
from ecluse.errors import EcluseError, FieldProblem, conflict, not_in_fallback, possibly_lodged
from ecluse.ledger import Ledger, Move, StateConflict
from ecluse.life_cycle import State
from ecluse.ports import StatusBoard
from ecluse.records import Record
from ecluse.status import Status


class EmergencyRequest(BaseModel):
    """`POST /declarations/{lrn}/emergency`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    mode: Literal["document", "record_in_books"] = Field(
        default="document",
        description="document: a fallback declaration (PDF/table) is lodged at the office; record_in_books: an "
        "authorised economic operator records the operation in its books (France: FR-DGDDI-SECOURS-DELTA-IMPORT, "
        "DGDDI 'Procédure de secours DELTA Import', fiche 2 étape 3)",
    )
    oea_authorisation: str | None = Field(default=None, max_length=35, description="needed for record_in_books")
    reason: Reason = None


class BulkEmergencyRequest(BaseModel):
    """`POST /systems/{system}/emergency`: switch held declarations in bulk, oldest first."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    urgent_only: bool = True
    limit: int = Field(default=100, ge=1, le=500)
    reason: Reason = None


class PhysicalControl(BaseModel):
    """`POST /declarations/{lrn}/physical-control`: customs physically controlled the goods."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    released_at: CalendarAwareDatetime | None = Field(
        default=None, description="when the goods were released after the control; null while they are not"
    )


@dataclass(frozen=True)
class Switched:
    switched: list[str]
    refused: list[dict[str, Any]]


class FallbackProcedure:
    def __init__(self, ledger: Ledger, board: StatusBoard, clock: Clock) -> None:
        self._ledger = ledger
        self._board = board
        self._clock = clock

    def switch(
        self, lrn: str, request: EmergencyRequest | None, caller: Caller, declarant: str | None = None
    ) -> Record:
        request = request or EmergencyRequest()
        # only the record-in-books checks read the body (restricted goods, tariff quotas)
        wanted = request.mode == "record_in_books"
        record = ownership.declaration(self._ledger, caller, lrn, declarant, with_body=wanted)
        return self._switch(record, request, caller.principal)

    def switch_urgent(self, record: Record) -> Record | None:
        """An urgent newcomer held by an outage: into the fallback at once when the policy allows it."""
        try:
            return self._switch(record, EmergencyRequest(), FALLBACK)
        except EcluseError:
            return None  # stays held; the reason is for whoever asks for the fallback explicitly

    def switch_all(self, system: str, request: BulkEmergencyRequest, caller: Caller) -> Switched:
        """An operator's switch of a system's held declarations, every declarant's, oldest first."""
        switched: list[str] = []
        refused: list[dict[str, Any]] = []
        for candidate in self._ledger.oldest(system, State.QUEUED, request.limit):
            if request.urgent_only and not candidate.urgent:
                continue
            if candidate.attempts:  # sent before: what customs answered since is not in the index
                candidate = self._ledger.get(candidate.lrn, candidate.declarant) or candidate
            try:  # otherwise the index page is enough: the move is conditional on the state it shows
                bulk = EmergencyRequest(reason=request.reason)
                switched.append(self._switch(candidate, bulk, caller.principal).lrn)
            except EcluseError as error:
                refused.append({"lrn": candidate.lrn, "code": error.code, "message": error.message})
                if error.code in (
                    "system_available",
                    "fallback_not_allowed",
                    "fallback_evidence_missing",
                    "fallback_not_yet_authorised",
                ):
                    break  # the same answer for every declaration of this system
        return Switched(switched, refused)

    def _switch(self, record: Record, request: EmergencyRequest, by: str) -> Record:
        if record.state is State.EMERGENCY:
            return record
        self._check_switchable(record)
        policy = policies.policy(record.system)
        system = self._board.get(record.system)
        now = self._clock.now()
        if system.status is not Status.UNAVAILABLE:
            raise conflict("system_available", f"{record.system} is {system.status}: lodge normally, no fallback")
        if not policy.fallback.allowed:
            raise conflict(
                "fallback_not_allowed",
                f"{record.system} has no fallback procedure on record: {policy.notes or 'see its policy'}",
            )
        if policy.fallback.urgent_only and not record.urgent:
            raise conflict(
                "fallback_urgent_only",
                f"{record.system}'s authority allows the fallback for urgent goods "
                "only: lodge it with urgent=true, or let it wait for the system",
            )
        if system.authorised_from and now < system.authorised_from:
            raise conflict(
                "fallback_not_yet_authorised",
                f"the fallback is authorised from {iso(system.authorised_from)}",
            )
        evidence = policy.evidence_reference(system.source, system.reference)
        if request.mode == "record_in_books":
            self._check_record_in_books(record, policy, request)
        marks = [policy.fallback.special_mention] if policy.fallback.special_mention else []
        code = policy.fallback.reference_code
        move = Move(
            State.EMERGENCY,
            f"switched to the fallback procedure ({request.mode}); evidence: {evidence}",
            frozenset({State.QUEUED}),
            held_delta=-1,
            emergency_delta=+1,
            if_attempts=record.attempts,
            by=by,
            reason=request.reason,
            fields={
                "marks": marks,
                "references": [f"{code} {evidence}" if code else evidence],
                "fallback_at": iso(now),
                "fallback_mode": request.mode,
            },
        )
        try:
            return self._ledger.move(record, move, now)
        except StateConflict as lost:
            raise conflict("not_switchable", f"{record.lrn} became {lost.current} meanwhile") from None

    @staticmethod
    def _check_switchable(record: Record) -> None:
        """Only a held declaration that cannot already be at customs switches."""
        if record.state in (State.RELEASED, State.SUBMITTED, State.ACCEPTED, State.REJECTED):
            raise conflict(
                "already_lodged",
                f"{record.lrn} is {record.state}: it was sent to customs; a declaration validated before the "
                "outage must not be lodged again under the fallback (FR-DGDDI-SECOURS-DELTA-IMPORT: DGDDI, "
                "'Procédure de secours DELTA Import', fiche 2 étape 3)",
            )
        if record.state is not State.QUEUED:
            raise conflict("not_switchable", f"{record.lrn} is {record.state}: only a held declaration can switch")
        if record.possibly_lodged:
            raise possibly_lodged(record.lrn, record.attempts, "switched to the fallback procedure")

    @staticmethod
    def _check_record_in_books(record: Record, policy: policies.Policy, request: EmergencyRequest) -> None:
        if not policy.fallback.record_in_books.allowed:
            raise conflict("record_in_books_not_allowed", f"{record.system}'s policy has no record-in-books facility")
        if not request.oea_authorisation:
            raise EcluseError(
                "oea_authorisation_required",
                "recording in the books is for authorised economic operators (OEA-C/OEA-F): give the authorisation",
                [FieldProblem("oea_authorisation", "missing_field", "the OEA authorisation number")],
                422,
            )
        body = record.body or {}
        restricted = sorted({d.get("code") for d in body.get("documents", [])} & policies.restricted_codes())
        if restricted:
            raise conflict(
                "record_in_books_refused_restricted_goods",
                f"documents {', '.join(restricted)} put the goods under prohibitions or restrictions: a fallback "
                "declaration must be lodged at the office (FR-DGDDI-SECOURS-DELTA-IMPORT: DGDDI, "
                "'Procédure de secours DELTA Import', fiche 2 étape 3)",
            )
        if any(item.get("quota_order_number") for item in body.get("items", [])):
            raise conflict(
                "record_in_books_refused_tariff_quota",
                "the declaration requests a tariff quota: a fallback declaration must be lodged at the office "
                "(FR-DGDDI-SECOURS-DELTA-IMPORT: DGDDI, 'Procédure de secours DELTA Import', fiche 2 étape 3)",
            )

    def physical_control(
        self, lrn: str, control: PhysicalControl, caller: Caller, declarant: str | None = None
    ) -> Record:
        """Record a physical control of fallback goods: re-integration waits for their release and then
        carries the policy's mark for it (F5200 in France)."""
        record = ownership.declaration(self._ledger, caller, lrn, declarant)
        if record.state is not State.EMERGENCY:
            raise not_in_fallback(
                lrn, record.state, "controls are recorded for fallback declarations awaiting re-integration"
            )
        mark = policies.policy(record.system).fallback.after_physical_control
        pending = control.released_at is None
        marks = list(record.marks)
        if mark and mark not in marks:
            marks.append(mark)
        detail = (
            f"goods released after the physical control at {iso(control.released_at)}"
            if control.released_at
            else "physical control recorded: re-integration waits for the release of the goods"
        )
        move = Move(
            State.EMERGENCY,
            detail,
            frozenset({State.EMERGENCY}),
            fields={"control_pending": pending, "marks": marks},
            by=caller.principal,
        )
        return self._ledger.move(record, move, self._clock.now())
