"""The declaration: the ERP's body (the contract's shape, strict) and its life cycle."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ecluse import systems

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
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
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


def can_move(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


def sources_of(target: State) -> frozenset[State]:
    """Every state from which `target` may be reached: the condition of the conditional write."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


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

    def fingerprint(self) -> str:
        """Same LRN and same content means the ERP retried; anything else is a conflict."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
