"""Status feeds in the systems table: partition `FEEDS`, one item per feed, every change conditional on
the version read."""

from __future__ import annotations

from typing import Any

from ecluse.aws.items import from_item, partition_query, to_item, to_value
from ecluse.clock import iso, parse_iso
from ecluse.feed_config import Component, Feed, FeedChanged, Seen

PARTITION = "FEEDS"


def _item(feed: Feed) -> dict[str, Any]:
    return to_item(
        {
            "system": PARTITION,
            "record": feed.name,
            "url": feed.url,
            "components": [c.model_dump() for c in feed.components],
            "interval_seconds": feed.interval_seconds,
            "version": feed.version,
            "last_polled_at": iso(feed.last_polled_at) if feed.last_polled_at else None,
            "last_error": feed.last_error,
            "failed_polls": feed.failed_polls,
            "seen": {s: {"status": v.component_status, "at": iso(v.at)} for s, v in feed.seen.items()},
            "holding": dict(feed.holding),
            "changed_by": feed.changed_by,
        }
    )


def _feed(item: dict[str, Any]) -> Feed:
    values = from_item(item)
    return Feed(
        name=values["record"],
        url=values["url"],
        components=tuple(Component.model_validate(c) for c in values.get("components", [])),
        interval_seconds=int(values["interval_seconds"]),
        version=int(values.get("version", 0)),
        last_polled_at=parse_iso(values["last_polled_at"]) if values.get("last_polled_at") else None,
        last_error=values.get("last_error"),
        failed_polls=int(values.get("failed_polls", 0)),
        seen={s: Seen(v["status"], parse_iso(v["at"])) for s, v in (values.get("seen") or {}).items()},
        holding=dict(values.get("holding") or {}),
        changed_by=values.get("changed_by"),
    )


class DynamoDbFeedStore:
    def __init__(self, client: Any, systems_table: str) -> None:
        self._db = client
        self._table = systems_table

    def _key(self, name: str) -> dict[str, Any]:
        return to_item({"system": PARTITION, "record": name})

    def put(self, feed: Feed) -> Feed:
        return self.save(feed)

    def save(self, feed: Feed) -> Feed:
        first = feed.version == 1
        condition = "attribute_not_exists(#r)" if first else "version = :seen"
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_item(feed),
                ConditionExpression=condition,
                **({"ExpressionAttributeNames": {"#r": "record"}} if first else {}),
                **({} if first else {"ExpressionAttributeValues": {":seen": to_value(feed.version - 1)}}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            raise FeedChanged(feed.name) from None
        return feed

    def get(self, name: str) -> Feed | None:
        answer = self._db.get_item(TableName=self._table, Key=self._key(name), ConsistentRead=True)
        return _feed(answer["Item"]) if "Item" in answer else None

    def all(self) -> list[Feed]:
        query = partition_query(self._table, PARTITION)
        pages = self._db.get_paginator("query").paginate(**query)
        return [_feed(item) for page in pages for item in page.get("Items", [])]

    def delete(self, name: str) -> bool:
        answer = self._db.delete_item(TableName=self._table, Key=self._key(name), ReturnValues="ALL_OLD")
        return "Attributes" in answer
