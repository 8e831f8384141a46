"""Make the embedded AWS behave like AWS where Écluse's guarantees depend on it.

moto 5.2 differs from AWS in five ways that matter here (docs/decisions/0011-order-after-a-hold.md):
- it is not safe under concurrent requests: a failed `TransactWriteItems` restores a deep copy of every
  table it touched, taken before it ran, so writes made by other requests meanwhile are silently lost
  (a backlog counter then drifts from the ledger). DynamoDB applies each request atomically and a
  transaction in isolation.
- that deep copy makes every transaction cost O(table), so a backlog of thousands cannot be drained.
- a cancelled transaction leaves in the tables' streams the records of the writes it undid; DynamoDB
  streams record only what was written.
- an SQS FIFO queue deduplicates a message only against the messages it still holds; AWS drops any
  message whose deduplication id was sent in the last 5 minutes, consumed or not. Re-sending a release
  whose message was already consumed would deliver it again here, never on AWS.
- an SQS FIFO queue counts a message whose visibility timeout has run out as still in flight until its
  receive loop reaches it. When a failed message and the ones skipped behind it in its group come back
  together (the submitter's back-off), the first is passed over because the later ones still look in
  flight, and a later one is delivered first. On AWS a message is in flight only while it is invisible,
  and the group comes back in order.

`apply()` serialises DynamoDB requests (one at a time, as a linearizable store answers them), rolls a
cancelled transaction back item by item, remembers FIFO deduplication ids for 5 minutes and blocks a FIFO
group only while one of its messages is invisible, so Lambda
handlers can run concurrently against it as they do on AWS. Call it before the first request; it is
idempotent.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    original_call = DynamoHandler.call_action

    @functools.wraps(original_call)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original_call(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    _deduplicate_for_five_minutes()
    _fifo_groups_in_flight_only_while_invisible()
    _applied = True


def _fifo_groups_in_flight_only_while_invisible() -> None:
    from moto.sqs.models import Queue

    def pending_message_groups(self: Any) -> set[str]:
        return {m.group_id for m in self._pending_messages if m.group_id is not None and not m.visible}

    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[assignment,method-assign]


def _deduplicate_for_five_minutes() -> None:
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue

    original_add = Queue.add_message

    @functools.wraps(original_add)
    def add_message(self: Any, message: Any) -> None:
        if self.fifo_queue and message.deduplication_id:
            with _LOCK:
                seen: dict[str, int] = self.__dict__.setdefault("_sent_deduplication_ids", {})
                now = message.sent_timestamp
                for known in [k for k, at in seen.items() if now - at >= DEDUPLICATION_TIME_IN_SECONDS * 1000]:
                    del seen[known]
                if message.deduplication_id in seen:
                    return  # SQS answers as if it were sent, and delivers nothing
                seen[message.deduplication_id] = now
        original_add(self, message)

    Queue.add_message = add_message  # type: ignore[method-assign]


def _item_key(backend: Any, table_name: str, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        key: dict[str, Any] = op["Key"]
        return key
    table = backend.get_table(table_name)
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _streams(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, int]:
    """How many records each touched table's stream holds before the transaction."""
    lengths = {}
    for item in transact_items:
        name = next(iter(item.values())).get("TableName")
        table = backend.tables.get(name)
        if table is not None and table.stream_shard is not None:
            lengths[name] = len(table.stream_shard.items)
    return lengths


def _restore(backend: Any, snapshots: list[tuple[str, dict[str, Any], Any]], streams: dict[str, int]) -> None:
    """Undo a cancelled transaction: its items as they were, and nothing of it in the tables' streams
    (DynamoDB streams record only what was written)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    for table_name, key, before in reversed(snapshots):
        table = backend.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        if before is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = before
        else:
            table.items[hash_value] = before
    for name, length in streams.items():
        del backend.tables[name].stream_shard.items[length:]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's own implementation, with an item-level backup instead of a copy of every table."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        streams = _streams(self, transact_items)
        snapshots: list[tuple[str, dict[str, Any], Any]] = []
        targets: set[tuple[str, str]] = set()
        errors: list[tuple[Any, Any, Any]] = []
        for item in transact_items:
            original_item = None
            if len(item) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                key = _item_key(self, table_name, op_type, op)
                target = (str(table_name), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(table_name, key)
                snapshots.append((table_name, key, copy.deepcopy(current)))
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                _restore(self, snapshots, streams)
                raise
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))
            except Exception as error:  # as moto does: any other failure cancels the transaction
                errors.append((type(error).__name__, str(error), original_item))
        if any(code is not None for code, _, _ in errors):
            _restore(self, snapshots, streams)
            raise TransactionCanceledException(errors)
