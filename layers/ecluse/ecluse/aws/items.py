"""DynamoDB attribute-value conversion, shared by the adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

# The systems table's item for a system's status, backlog counters, hold epoch and release lease.
STATUS_RECORD = "STATUS"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return value.value  # type: ignore[attr-defined]  # boto3-stubs omit Binary.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_dynamo(v)) for k, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], _serializer.serialize(_dynamo(value)))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    return value


def system_key(system: str) -> dict[str, Any]:
    """The key of `system`'s STATUS item in the systems table."""
    return to_item({"system": system, "record": STATUS_RECORD})


def partition_query(table: str, partition: str, prefix: str | None = None) -> dict[str, Any]:
    """A consistent query of one partition of the systems table (windows, feeds), or of the keys in it
    that start with `prefix`; page it with the client's `query` paginator."""
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#s = :p",
        "ExpressionAttributeNames": {"#s": "system"},
        "ExpressionAttributeValues": {":p": to_value(partition)},
        "ConsistentRead": True,
    }
    if prefix:
        query["KeyConditionExpression"] += " AND begins_with(#r, :prefix)"
        query["ExpressionAttributeNames"]["#r"] = "record"
        query["ExpressionAttributeValues"][":prefix"] = to_value(prefix)
    return query
