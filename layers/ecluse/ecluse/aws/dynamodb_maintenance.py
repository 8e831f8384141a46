"""Maintenance windows in the systems table: one partition (`MAINTENANCE`) whose items are keyed
`<system>#<window id>`, so that the monitor finds every open window of every system in one query. Every
change is conditional on the version read."""

from __future__ import annotations

from typing import Any

from ecluse.aws.items import from_item, partition_query, to_item, to_value
from ecluse.clock import iso, parse_iso
from ecluse.windows import OPEN, Window, WindowChanged, WindowState

PARTITION = "MAINTENANCE"


def _item(window: Window) -> dict[str, Any]:
    return to_item(
        {
            "system": PARTITION,
            "record": f"{window.system}#{window.id}",
            "window_system": window.system,
            "window_id": window.id,
            "start": iso(window.start),
            "end": iso(window.end),
            "window_state": window.state.value,
            "reference": window.reference,
            "reason": window.reason,
            "version": window.version,
            "ended_at": iso(window.ended_at) if window.ended_at else None,
            "asked_at": iso(window.asked_at) if window.asked_at else None,
            "by": window.by,
            "changed_by": window.changed_by,
        }
    )


def _window(item: dict[str, Any]) -> Window:
    values = from_item(item)
    return Window(
        id=values["window_id"],
        system=values["window_system"],
        start=parse_iso(values["start"]),
        end=parse_iso(values["end"]),
        state=WindowState(values["window_state"]),
        reference=values.get("reference"),
        reason=values.get("reason"),
        version=int(values.get("version", 0)),
        ended_at=parse_iso(values["ended_at"]) if values.get("ended_at") else None,
        asked_at=parse_iso(values["asked_at"]) if values.get("asked_at") else None,
        by=values.get("by"),
        changed_by=values.get("changed_by"),
    )


class DynamoDbWindowStore:
    def __init__(self, client: Any, systems_table: str) -> None:
        self._db = client
        self._table = systems_table

    def add(self, window: Window) -> None:
        self._db.put_item(
            TableName=self._table, Item=_item(window), ConditionExpression="attribute_not_exists(#r)",
            ExpressionAttributeNames={"#r": "record"},
        )  # fmt: skip

    def get(self, system: str, window_id: str) -> Window | None:
        answer = self._db.get_item(
            TableName=self._table, Key=to_item({"system": PARTITION, "record": f"{system}#{window_id}"}),
            ConsistentRead=True,
        )  # fmt: skip
        return _window(answer["Item"]) if "Item" in answer else None

    def of_system(self, system: str) -> list[Window]:
        return self._query(f"{system}#")

    def open_windows(self) -> list[Window]:
        return [w for w in self._query(None) if w.state in OPEN]

    def save(self, window: Window) -> Window:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_item(window),
                ConditionExpression="version = :seen",
                ExpressionAttributeValues={":seen": to_value(window.version - 1)},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            raise WindowChanged(window.id) from None
        return window

    def _query(self, prefix: str | None) -> list[Window]:
        """The windows whose key starts with `prefix` (one system's), or every window."""
        query = partition_query(self._table, PARTITION, prefix)
        pages = self._db.get_paginator("query").paginate(**query)
        return [_window(item) for page in pages for item in page.get("Items", [])]
