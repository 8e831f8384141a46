"""The declaration: the ERP's body (the contract's shape, strict) and its life cycle."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ecluse import rules, systems

# Letters, digits and . _ / -, not only dots: "." and ".." would be path segments in the gateway's URL.
LRN_PATTERN = re.compile(r"^[A-Za-z0-9._/-]*[A-Za-z0-9_/-][A-Za-z0-9._/-]*$")
LRN_MAX = 22
LRN_RULE = "LRN must be 1 to 22 characters among letters, digits and . _ / -, not only dots"
# the ERP's native customs message, passed through; the whole body stays within 1 MiB anyway
MAX_MESSAGE_CHARS = 1_000_000
EORI_PATTERN = re.compile(r"^[A-Z]{2}[A-Za-z0-9]{1,15}$")
MAX_ITEMS = 999


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


# The only moves the ledger will write (ARCHITECTURE.md, "Declaration states"); ledger.Move refuses any
# other. SUBMITTED -> SUBMITTED records another sending attempt after a retryable sending error.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.QUEUED, State.RELEASED, State.CANCELLED}),
    State.QUEUED: frozenset({State.RELEASED, State.EMERGENCY, State.CANCELLED, State.REDECLARE, State.SUBMITTED}),
    State.RELEASED: frozenset({State.SUBMITTED, State.QUEUED, State.FAILED}),
    State.SUBMITTED: frozenset({State.SUBMITTED, State.ACCEPTED, State.REJECTED, State.FAILED, State.QUEUED}),
    State.EMERGENCY: frozenset({State.RELEASED, State.EMERGENCY}),  # EMERGENCY again: a control recorded
    State.FAILED: frozenset({State.RELEASED, State.SUBMITTED, State.QUEUED}),
    State.ACCEPTED: frozenset(),
    State.REJECTED: frozenset(),
    State.CANCELLED: frozenset(),
    State.REDECLARE: frozenset(),
}
# Record.customs_lookup: what customs answered when asked about an LRN it may have received
RECEIVED_BY_CUSTOMS, NOT_RECEIVED = "received", "not_received"


def is_lrn(value: str) -> bool:
    return len(value) <= LRN_MAX and LRN_PATTERN.fullmatch(value) is not None


def _in_calendar(value: datetime) -> datetime:
    """Every time is stored in UTC: one that leaves years 1-9999 once converted would fail there."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError(
            "date_out_of_range", "the date must stay between years 1 and 9999 once converted to UTC"
        ) from None
    return value


CalendarDatetime = Annotated[datetime, AfterValidator(_in_calendar)]
CalendarAwareDatetime = Annotated[AwareDatetime, AfterValidator(_in_calendar)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


NonNegativeKg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class Address(_Strict):
    street: str = Field(min_length=1, max_length=140)
    postcode: str = Field(max_length=17)
    city: str = Field(min_length=1, max_length=70)
    country: CountryCode


class Declarant(_Strict):
    eori: str
    name: str = Field(min_length=1, max_length=140)
    address: Address

    @field_validator("eori")
    @classmethod
    def _eori(cls, value: str) -> str:
        if not EORI_PATTERN.fullmatch(value):
            raise PydanticCustomError(
                "invalid_eori",
                "EORI must be a 2-letter country code followed by 1 to 15 letters or digits, e.g. FR12345678901234",
            )
        return value


class Money(_Strict):
    amount: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Item(_Strict):
    number: int = Field(ge=1, le=MAX_ITEMS)
    commodity_code: str = Field(pattern=r"^[0-9]{6,10}$")
    description: str = Field(min_length=1, max_length=512)
    procedure: str = Field(pattern=r"^[0-9]{4}$")
    origin: CountryCode
    net_mass_kg: NonNegativeKg
    value: Money
    quota_order_number: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="tariff quota requested")


class Document(_Strict):
    code: str = Field(max_length=4)
    reference: str = Field(max_length=70)


class Declaration(_Strict):
    """The body an ERP lodges. Unknown fields are refused so a typo never silently drops data."""

    lrn: str
    system: str
    declarant: Declarant
    kind: Literal["standard", "simplified"] = "standard"
    direction: Literal["import", "export", "transit"]
    customs_office: str = Field(pattern=r"^[A-Z]{2}[A-Z0-9]{6}$")
    incoterm: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    delivery_place: str | None = Field(default=None, max_length=70)
    gross_mass_kg: NonNegativeKg
    net_mass_kg: NonNegativeKg
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)
    documents: list[Document] = Field(default_factory=list, max_length=99)
    urgent: bool = False
    anticipated: bool = False
    anticipation_expires_at: CalendarDatetime | None = None
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)

    @field_validator("lrn")
    @classmethod
    def _lrn(cls, value: str) -> str:
        if not is_lrn(value):
            raise PydanticCustomError("invalid_lrn", LRN_RULE)
        return value

    @field_validator("system")
    @classmethod
    def _system(cls, value: str) -> str:
        if value not in systems.REGISTRY:
            raise PydanticCustomError(
                "unknown_system",
                "unknown customs system; use one of {known}",
                {"known": ", ".join(systems.REGISTRY)},
            )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _schema_and_rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Declaration:
        """The schema and the business rules in one pass, every violation in one error: the rules read the
        raw body (ecluse.rules), so they run even when the schema failed. The API validates the body with
        this model once, through the event handler; nothing checks it again."""
        if isinstance(data, cls):
            return handler(data)
        if not isinstance(data, Mapping):
            raise PydanticCustomError("invalid_body", "the body must be a JSON object (the declaration)")
        # a rule's field is already a path ("documents[0].code"): one loc part keeps it as written
        broken = [
            InitErrorDetails(type=PydanticCustomError(p.code, p.message), loc=(p.field,), input=data.get(p.field))
            for p in rules.violations(data)
        ]
        try:
            declaration = handler(data)
        except ValidationError as schema:
            if not broken:
                raise
            # the messages are rendered already; custom types (invalid_eori...) must be re-declared to be kept
            kept = [
                InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"]), loc=e["loc"], input=e["input"])
                for e in schema.errors()
            ]
            raise ValidationError.from_exception_data(cls.__name__, [*kept, *broken]) from None
        if broken:
            raise ValidationError.from_exception_data(cls.__name__, broken)
        return declaration

    def fingerprint(self) -> str:
        """Same LRN and same content means the ERP retried; anything else is a conflict."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    state: State
    at: str
    detail: str = ""


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
        at=dropped[-1].at,
        detail=f"{count} earlier entries not kept (a declaration keeps its first {_KEPT_FIRST} and its latest "
        f"{len(latest)}), the last of them at {dropped[-1].at}",
    )
    return (*first, marker, *latest), True


class Record(BaseModel):
    """A declaration as the ledger holds it: the body plus everything that happened to it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    lrn: str
    system: str
    state: State
    received_at: str
    history: tuple[HistoryEntry, ...] = ()
    marks: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    mrn: str | None = None
    customs_errors: tuple[dict, ...] = ()
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
    body: dict | None = None  # loaded only where needed (submission, idempotency), never listed

    @property
    def possibly_lodged(self) -> bool:
        """It went to customs at least once without an answer, and no lookup since said customs never got
        it: customs may hold it, so it must not be cancelled or lodged again under the fallback."""
        return self.attempts > 0 and self.customs_lookup != NOT_RECEIVED

    def summary(self) -> dict:
        return {
            "lrn": self.lrn,
            "system": self.system,
            "state": self.state.value,
            "received_at": self.received_at,
        }

    def answer(self) -> dict:
        return {
            **self.summary(),
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
