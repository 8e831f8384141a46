"""The declarations table's items: a declaration as stored, read back, and the listing pages' tokens."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecluse.aws.items import to_item
from ecluse.callers import Caller
from ecluse.clock import iso
from ecluse.errors import invalid_next_token, too_large
from ecluse.life_cycle import State
from ecluse.records import HistoryEntry, Record

if TYPE_CHECKING:
    from ecluse.declarations import Declaration  # lodged by the API alone

# DynamoDB items stop at 400 KB; the compressed body must leave room for history and indexes.
MAX_STORED_BODY_BYTES = 300_000
# Attributes the listing indexes project (INCLUDE): everything an answer shows, never the body.
LISTED = (
    "system", "state", "received_at", "history", "marks", "references", "mrn", "customs_errors", "attempts",
    "enqueued_at", "urgent", "anticipation_expires_at", "fallback_at", "fallback_mode", "control_pending",
)  # fmt: skip
# (listed by system, listed by state) -> the index and its partition key; a declarant's listing reads
# its own partition of by_declarant, filtered by system and state
INDEX_FOR = {
    (True, True): ("by_system_state", "system_state"),
    (True, False): ("by_system", "system"),
    (False, True): ("by_state", "state"),
}
BY_DECLARANT = ("by_declarant", "declarant")
# Written on the copies decision 16's migration makes of items keyed by LRN alone: their stream INSERT is
# not a change to tell the ERP (stream_events)
MIGRATED = "migrated_at"


def key(lrn: str, declarant: str) -> dict[str, Any]:
    """A declaration's key: its declarant and its LRN (decision 16)."""
    return to_item({"lrn": lrn, "declarant": declarant})


def stored_body(declaration: Declaration) -> bytes:
    body = gzip.compress(json.dumps(declaration.model_dump(mode="json")).encode())
    if len(body) > MAX_STORED_BODY_BYTES:
        raise too_large(
            f"the declaration compresses to {len(body)} bytes, over the {MAX_STORED_BODY_BYTES} bytes "
            "Écluse can store; split it into several declarations"
        )
    return body


def new_item(
    declaration: Declaration,
    fingerprint: str,
    at: datetime,
    body: bytes,
    hold_reason: str | None,
    epoch: int,
    caller: Caller,
) -> dict[str, Any]:
    """A newcomer's item, `caller`'s: RELEASED in `epoch` when `hold_reason` is None, QUEUED for that
    reason otherwise."""
    received_at = iso(at)
    state = State.RELEASED if hold_reason is None else State.QUEUED
    detail = "system available and nothing held: sent to customs" if hold_reason is None else hold_reason
    lodged = "lodged by an operator" if caller.operator else "lodged by the ERP"
    return {
        "lrn": declaration.lrn,
        "declarant": caller.declarant,
        "system": declaration.system,
        "state": state.value,
        "system_state": f"{declaration.system}#{state.value}",
        "received_at": received_at,
        "order_key": f"{received_at}#{declaration.lrn}",
        "updated_at": received_at,
        "enqueued_at": received_at if state is State.RELEASED else None,
        "release_epoch": epoch if state is State.RELEASED else None,
        "fingerprint": fingerprint,
        "urgent": declaration.urgent,
        "anticipation_expires_at": iso(declaration.anticipation_expires_at)
        if declaration.anticipated and declaration.anticipation_expires_at
        else None,
        "attempts": 0,
        "history": [
            {"state": State.RECEIVED.value, "at": received_at, "detail": lodged, "by": caller.principal},
            {"state": state.value, "at": received_at, "detail": detail, "by": caller.principal},
        ],
        "marks": [],
        "references": [],
        "body": body,
    }


def state_of(item: dict[str, Any] | None) -> State | None:
    """The state in an item returned by a failed condition (ALL_OLD); None when there is no such item."""
    return State(item["state"]["S"]) if item and "state" in item else None


def record(values: dict[str, Any], with_body: bool = False) -> Record:
    body = None
    if with_body and "body" in values:
        body = json.loads(gzip.decompress(values["body"]))
    return Record(
        lrn=values["lrn"],
        declarant=values["declarant"],
        system=values["system"],
        state=State(values["state"]),
        received_at=values["received_at"],
        history=tuple(HistoryEntry(**h) for h in values.get("history", [])),
        marks=tuple(values.get("marks", [])),
        references=tuple(values.get("references", [])),
        mrn=values.get("mrn"),
        customs_errors=tuple(values.get("customs_errors", [])),
        attempts=int(values.get("attempts", 0)),
        fingerprint=values.get("fingerprint", ""),
        urgent=bool(values.get("urgent", False)),
        probe=bool(values.get("probe", False)),
        anticipation_expires_at=values.get("anticipation_expires_at"),
        fallback_at=values.get("fallback_at"),
        fallback_mode=values.get("fallback_mode"),
        control_pending=bool(values.get("control_pending", False)),
        release_epoch=int(values.get("release_epoch") or 0),
        customs_lookup=values.get("customs_lookup"),
        lookup_after=values.get("lookup_after"),
        body=body,
    )


def encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str, names: tuple[str, ...]) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise invalid_next_token() from None
    if not isinstance(key, dict) or set(key) != set(names) or not all(isinstance(v, str) for v in key.values()):
        raise invalid_next_token()
    return to_item(key)


def migrated(values: dict[str, Any], declarant: str, at: datetime) -> dict[str, Any]:
    """An item keyed by its LRN alone (before decision 16), as `declarant`'s: the same declaration, its
    history untouched, marked as a copy so that its stream INSERT is not told to the ERP again."""
    return {**values, "declarant": declarant, MIGRATED: iso(at)}
