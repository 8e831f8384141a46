"""Continuity policies: per customs system, what happens during an outage and how the fallback works.

The rules are data (`data/policies.json`, versioned, each with its sources), validated here at load:
a malformed file fails the import, never a declaration. Unknown details stay `null` with a note.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecluse.errors import EcluseError, FieldProblem
from ecluse.status import Source

_BE_CALL = re.compile(r"^N\d+-D:\d{8}-T\d{6}$")


class Routing(StrEnum):
    HOLD = "hold"
    SEND_THROUGH = "send_through"  # the authority buffers what is sent during the outage


class Evidence(StrEnum):
    DA_NUMBER = "da_number"  # France, self-triggered: the assistance request's number
    CID_ALERT = "cid_alert"  # France, published alert: the words "Alerte CID"
    REFERENCE = "reference"
    TICKET = "ticket"
    MASTERTICKET = "masterticket"
    BE_CALL_NUMBER = "be_call_number"  # Belgium: call number and start time, N04737-D:20250613-T170000


_Strict = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RecordInBooks(BaseModel):
    model_config = _Strict
    allowed: bool


class Fallback(BaseModel):
    model_config = _Strict
    allowed: bool
    evidence: dict[Source, Evidence | None] = Field(default_factory=dict)
    special_mention: str | None = None
    reference_code: str | None = None
    after_physical_control: str | None = None
    record_in_books: RecordInBooks = RecordInBooks(allowed=False)
    urgent_only: bool = False


class Reintegration(BaseModel):
    model_config = _Strict
    deadline_hours: int | None
    restricted_goods_first: bool  # fallback declarations go back before held ones (reintegration.reintegration_order)
    marks: list[str]


class Policy(BaseModel):
    model_config = _Strict
    during_outage: Routing
    during_maintenance: Routing
    fallback: Fallback
    reintegration: Reintegration
    sources: list[str] = Field(min_length=1)
    notes: str | None = None

    def passes_through(self, source: Source | None) -> bool:
        """Whether declarations keep going to a system that is UNAVAILABLE for this reason."""
        if source is Source.AUTO:
            return False  # customs does not answer at all: sending is pointless
        routing = self.during_maintenance if source is Source.MAINTENANCE else self.during_outage
        return routing is Routing.SEND_THROUGH

    @property
    def passable_sources(self) -> frozenset[Source]:
        return frozenset(s for s in Source if self.passes_through(s))

    def evidence_reference(self, source: Source | None, reference: str | None) -> str:
        """The reference the fallback carries for an outage of this source, or why it cannot be used."""
        kind = self.fallback.evidence.get(source) if source else None
        if kind is None:
            known = ", ".join(s.value for s, k in self.fallback.evidence.items() if k)
            raise EcluseError(
                "fallback_evidence_missing",
                f"the outage is recorded with source {source}; this system's fallback needs an outage "
                f"declared by one of: {known} (PUT /systems/{{system}}/status with its reference)",
                [FieldProblem("source", "fallback_evidence_missing", f"declare the outage as one of {known}")],
                409,
            )
        if kind is Evidence.CID_ALERT:
            return "Alerte CID"
        text = (reference or "").strip()
        if kind is Evidence.BE_CALL_NUMBER and not _BE_CALL.fullmatch(text):
            raise _missing(source, "the call number and start time, e.g. N04737-D:20250613-T170000")
        if not text or (kind is Evidence.DA_NUMBER and text.lower() == "alerte cid"):
            what = {
                Evidence.DA_NUMBER: "the number of the assistance request (DA) filed for the self-triggered fallback",
                Evidence.TICKET: "the customs service desk's ticket number",
                Evidence.MASTERTICKET: "the masterticket of the planned work",
            }.get(kind, "the authority's reference for this outage")
            raise _missing(source, what)
        return text


def _missing(source: Source | None, what: str) -> EcluseError:
    return EcluseError(
        "fallback_evidence_missing",
        f"the {source} outage has no usable reference: set {what} as the outage's reference "
        "(PUT /systems/{system}/status)",
        [FieldProblem("reference", "fallback_evidence_missing", what)],
        409,
    )


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    version: str
    restricted_document_codes: dict[str, list[str] | str]
    policies: dict[str, Policy]

    @model_validator(mode="before")
    @classmethod
    def _resolve_same_as(cls, data: dict[str, Any]) -> dict[str, Any]:
        raw = dict(data["policies"])
        for name, entry in raw.items():
            if "same_as" in entry:
                base = {k: v for k, v in raw[entry["same_as"]].items() if k not in ("sources", "notes")}
                raw[name] = {**base, **{k: v for k, v in entry.items() if k != "same_as"}}
        return {**data, "policies": raw}

    @property
    def restricted_codes(self) -> frozenset[str]:
        codes = self.restricted_document_codes["codes"]
        return frozenset(codes if isinstance(codes, list) else [])


@cache
def load() -> PolicyFile:
    text = resources.files("ecluse").joinpath("data/policies.json").read_text(encoding="utf-8")
    return PolicyFile.model_validate(json.loads(text))


def policy(system: str) -> Policy:
    return load().policies[system]


def restricted_codes() -> frozenset[str]:
    return load().restricted_codes
