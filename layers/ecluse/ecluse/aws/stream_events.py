"""The tables' change streams (DynamoDB Streams, new and old images) read as events for the ERP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ecluse.aws.dynamodb_status_board import _state
from ecluse.aws.items import STATUS_RECORD, from_item
from ecluse.aws.ledger_items import MIGRATED
from ecluse.aws.ledger_items import record as ledger_record
from ecluse.events import Event, declaration_changed, system_changed


def events_of(stream_record: dict[str, Any]) -> list[Event]:
    change = stream_record.get("dynamodb") or {}
    keys = from_item(change.get("Keys") or {})
    old = from_item(change["OldImage"]) if change.get("OldImage") else None
    new = from_item(change["NewImage"]) if change.get("NewImage") else None
    if new is None:
        return []  # nothing Écluse writes is ever deleted but feeds, which tell nothing
    if "lrn" in keys:
        if old is None and MIGRATED in new:
            return []  # decision 16's copy of a declaration already told: nothing changed
        event = declaration_changed(ledger_record(old) if old else None, ledger_record(new))
    elif keys.get("record") == STATUS_RECORD:
        system = str(keys["system"])
        at = _moment(change.get("ApproximateCreationDateTime"))
        event = system_changed(_state(system, old) if old else None, _state(system, new), at)
    else:
        event = None  # history items, circuits, windows, feeds: told through their STATUS item
    return [event] if event else []


def _moment(stamp: Any) -> datetime:
    """Lambda gives the record's time in epoch seconds; the streams API, read directly, a datetime."""
    if isinstance(stamp, datetime):
        return stamp.astimezone(UTC)
    return datetime.fromtimestamp(float(stamp or 0), UTC)
