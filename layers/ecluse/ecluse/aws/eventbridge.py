"""Events to the ERP's EventBridge bus (source `ecluse`)."""

from __future__ import annotations

import json
from typing import Any

from ecluse.events import SOURCE, Event


class PublishFailed(Exception):
    """EventBridge took not every entry: the stream record is told again."""


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._events = client
        self._bus = bus_name

    def publish(self, events: list[Event]) -> None:
        for start in range(0, len(events), 10):  # PutEvents takes ten entries at most
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail),
                    "EventBusName": self._bus,
                    **({"Resources": list(event.resources)} if event.resources else {}),
                }
                for event in events[start : start + 10]
            ]
            answer = self._events.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                failed = [e.get("ErrorCode") for e in answer.get("Entries", []) if e.get("ErrorCode")]
                raise PublishFailed(f"{len(failed)} event(s) refused: {sorted(set(failed))}")
