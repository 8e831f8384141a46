"""The declaration: the ERP's body (the contract's shape, strict) and its life cycle."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

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


# The only moves the ledger will write (README.md, "States"); ledger.Move refuses any
# other. SUBMITTED -> SUBMITTED records another sending attempt after a retryable sending error.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.QUEUED, State.RELEASED, State.CANCELLED}),
    State.QUEUED: frozenset({State.RELEASED, State.EMERGENCY, State.CANCELLED, State.REDECLARE, State.SUBMITTED}),
    # back to QUEUED, or to EMERGENCY for a fallback declaration being re-integrated, when held again
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
            return cast("Declaration", handler(data))
        if not isinstance(data, Mapping):
            raise PydanticCustomError("invalid_body", "the body must be a JSON object (the declaration)")
        # a rule's field is already a path ("documents[0].code"): one loc part keeps it as written
        broken = [
            InitErrorDetails(type=PydanticCustomError(p.code, p.message), loc=(p.field,), input=data.get(p.field))
            for p in rules.violations(data)
        ]
        try:
            declaration = cast("Declaration", handler(data))
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
