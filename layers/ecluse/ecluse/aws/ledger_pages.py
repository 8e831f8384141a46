"""Reading the declarations table page by page: listings along its indexes, an LRN across declarants,
and the RELEASED declarations whose queue message may have been lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ecluse.aws import ledger_items
from ecluse.aws.items import from_item, to_value
from ecluse.aws.ledger_items import BY_DECLARANT, INDEX_FOR
from ecluse.clock import iso
from ecluse.life_cycle import State
from ecluse.records import Record

# A declarant's listing filters its partition by system and state: DynamoDB counts a page's Limit before
# the filter, so one answer reads a few pages to fill itself, never more than this many.
MAX_FILTERED_READS = 10


def page(
    db: Any,
    table: str,
    *,
    system: str | None,
    state: State | None,
    limit: int,
    token: str | None,
    declarant: str | None = None,
) -> tuple[list[Record], str | None]:
    """Oldest first along the index that fits; a declarant's own partition when `declarant` is given."""
    if declarant is not None:
        return _declarants_page(db, table, declarant, system, state, limit, token)
    if system is None and state is None:
        raise ValueError("the ledger lists by system, by state, by declarant or several")  # Lodging says so first
    index, key_name = INDEX_FOR[(system is not None, state is not None)]
    key_value = {"system_state": f"{system}#{state}", "system": system, "state": state}[key_name]
    query = _query(table, index, key_name, str(key_value), limit)
    if token:
        query["ExclusiveStartKey"] = ledger_items.decode_token(token, ("lrn", "declarant", "order_key", key_name))
    answer = db.query(**query)
    records = [ledger_items.record(from_item(i)) for i in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    return records, (ledger_items.encode_token(from_item(last)) if last else None)


def _declarants_page(
    db: Any, table: str, declarant: str, system: str | None, state: State | None, limit: int, token: str | None
) -> tuple[list[Record], str | None]:
    index, key_name = BY_DECLARANT
    query = _query(table, index, key_name, declarant, limit)
    filters = {"system": system, "state": state.value if state else None}
    wanted = {name: value for name, value in filters.items() if value is not None}
    if wanted:
        query["FilterExpression"] = " AND ".join(f"#{name} = :{name}" for name in wanted)
        query["ExpressionAttributeNames"].update({f"#{name}": name for name in wanted})
        query["ExpressionAttributeValues"].update({f":{name}": to_value(value) for name, value in wanted.items()})
    if token:
        query["ExclusiveStartKey"] = ledger_items.decode_token(token, ("lrn", "declarant", "order_key"))
    found: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    for _ in range(MAX_FILTERED_READS):
        answer = db.query(**query)
        found += [from_item(i) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        if not last or len(found) >= limit:
            break
        query["ExclusiveStartKey"] = last
    if len(found) > limit:  # the next page starts after the last one shown
        found = found[:limit]
        last = ledger_items.key(found[-1]["lrn"], declarant) | {"order_key": to_value(found[-1]["order_key"])}
    records = [ledger_items.record(values) for values in found]
    return records, (ledger_items.encode_token(from_item(last)) if last else None)


def _query(table: str, index: str, key_name: str, key_value: str, limit: int) -> dict[str, Any]:
    return {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":k": to_value(key_value)},
        "Limit": limit,
    }


def find(db: Any, table: str, lrn: str) -> list[Record]:
    """Every declarant's declaration under `lrn`: one partition of the table, read consistently."""
    paginator = db.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="lrn = :lrn",
        ExpressionAttributeValues={":lrn": to_value(lrn)},
        ConsistentRead=True,
    )
    return [ledger_items.record(from_item(item)) for answer in pages for item in answer.get("Items", [])]


def stale_released(db: Any, table: str, before: datetime, limit: int) -> list[Record]:
    """RELEASED declarations, any system, enqueued before `before`: their SQS send may have been lost.
    One query on the by_state index serves every system; it pages, because DynamoDB applies a page's
    Limit before the filter and stale ones may sit behind fresh ones."""
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": "by_state",
        "KeyConditionExpression": "#state = :released",
        "FilterExpression": "attribute_not_exists(enqueued_at) OR enqueued_at < :before",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {
            ":released": to_value(State.RELEASED.value),
            ":before": to_value(iso(before)),
        },
        "Limit": 100,
    }
    found: list[Record] = []
    while len(found) < limit:
        answer = db.query(**query)
        found += [ledger_items.record(from_item(i)) for i in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found[:limit]
