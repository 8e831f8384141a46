"""The ledger on DynamoDB: one item per declaration, every transition a conditional write.

History is appended with `list_append` in the same UpdateItem as the state change, so a declaration's
state and its history can never disagree. When the system's backlog counter (`held` on the systems
table's STATUS item) must move too, both go in one TransactWriteItems (`aws.system_conditions`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecluse import policies
from ecluse.aws import ledger_items, ledger_pages, system_conditions
from ecluse.aws.expressions import Expression
from ecluse.aws.items import from_item, to_item, to_value
from ecluse.callers import Caller
from ecluse.clock import iso, parse_iso
from ecluse.errors import conflict
from ecluse.ledger import DuplicateLrn, FastPathClosed, HeldAgainMeanwhile, Move, StateConflict, SystemHolding
from ecluse.life_cycle import State
from ecluse.records import HistoryEntry, Record, appended
from ecluse.status import Source, Status

if TYPE_CHECKING:
    from ecluse.declarations import Declaration  # lodged by the API alone


class _EpochMoved(Exception):
    """The fast path was refused only because this environment's idea of the hold epoch was stale."""


class DynamoDbLedger:
    def __init__(self, client: Any, declarations_table: str, systems_table: str) -> None:
        self._db = client
        self._table = declarations_table
        self._systems = systems_table
        # Each system's hold epoch as this environment last saw it. The fast path writes it on the
        # declaration and checks it in the same transaction; when it moved, the refusal returns the
        # system's item, and the fast path is tried once more with the epoch it holds.
        self._epochs: dict[str, int] = {}

    def add(
        self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None, caller: Caller
    ) -> Record:
        body = ledger_items.stored_body(declaration)
        if hold_reason is not None:
            return self._add(declaration, fingerprint, at, body, hold_reason, caller)
        try:
            return self._add(declaration, fingerprint, at, body, None, caller)
        except _EpochMoved:  # learnt the system's epoch from the refusal: once more with it
            return self._add(declaration, fingerprint, at, body, None, caller)

    def _add(
        self,
        declaration: Declaration,
        fingerprint: str,
        at: datetime,
        body: bytes,
        hold_reason: str | None,
        caller: Caller,
    ) -> Record:
        epoch = self._epochs.get(declaration.system, 0)
        values = ledger_items.new_item(declaration, fingerprint, at, body, hold_reason, epoch, caller)
        put = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(values),
                "ConditionExpression": "attribute_not_exists(lrn)",  # this declarant's LRN (decision 16)
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        if hold_reason is None:
            system = system_conditions.fast_path(declaration.system, epoch)
        else:
            system = Expression()
            system.adds.append(f"held {system.value('delta', 1)}")
        part = system_conditions.transaction_part(self._systems, declaration.system, system)
        reasons = self._transact([put, part] if part else [put])
        if reasons is not None:
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                existing = self.get(declaration.lrn, caller.declarant)
                if existing is None:  # deleted in between: cannot happen (no deletes), but never 5xx
                    raise conflict("lrn_conflict", "retry the request")
                raise DuplicateLrn(existing)
            self._fast_path_refused(declaration.system, from_item(reasons[1].get("Item") or {}), epoch)
        return ledger_items.record(values)

    def _fast_path_refused(self, system_id: str, system: dict[str, Any], epoch_used: int) -> None:
        """Why the fast path was refused: FastPathClosed with the reason, or _EpochMoved when only the
        hold epoch this environment knew was stale (it now knows the current one)."""
        epoch = int(system.get("epoch", 0))
        self._epochs[system_id] = epoch
        waiting = int(system.get("held", 0)) + int(system.get("emergency", 0))
        source = Source(system["source"]) if system.get("source") else None
        if system.get("status") == Status.UNAVAILABLE.value and not policies.policy(system_id).passes_through(source):
            raise FastPathClosed(f"held: {system_id} is UNAVAILABLE")
        if waiting > 0:
            raise FastPathClosed(f"held behind {waiting} declaration(s) already waiting for {system_id}")
        if epoch != epoch_used:
            raise _EpochMoved(system_id)
        if int(system.get("settled_epoch", 0)) != epoch:
            raise FastPathClosed(f"held: {system_id} is putting declarations held again back in line first")
        raise FastPathClosed(f"held: {system_id} refused the fast path")

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run a transaction; None when it went through, else the per-item cancellation reasons."""
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as error:
            reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or []
            if not any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise
            return reasons
        return None

    def get(self, lrn: str, declarant: str, *, with_body: bool = False) -> Record | None:
        answer = self._db.get_item(TableName=self._table, Key=ledger_items.key(lrn, declarant), ConsistentRead=True)
        item = answer.get("Item")
        return ledger_items.record(from_item(item), with_body) if item else None

    def find(self, lrn: str) -> list[Record]:
        return ledger_pages.find(self._db, self._table, lrn)

    def move(self, record: Record, move: Move, at: datetime) -> Record:
        update, history = self._declaration_update(record, move, at)
        system = system_conditions.for_move(record.system, move, at)
        part = system_conditions.transaction_part(self._systems, record.system, system)
        if part is None:
            try:
                self._db.update_item(**update)
            except self._db.exceptions.ConditionalCheckFailedException as lost:
                raise StateConflict(record.lrn, ledger_items.state_of(lost.response.get("Item"))) from None
        else:
            self._move_with_system(record, move, [{"Update": update}, part])
        fields = {**(move.fields or {})}
        return record.model_copy(
            update={
                "state": move.target,
                "history": history,
                "attempts": record.attempts + (1 if move.count_attempt else 0),
                **{k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items() if k in Record.model_fields},
            }
        )

    def _declaration_update(
        self, record: Record, move: Move, at: datetime
    ) -> tuple[dict[str, Any], tuple[HistoryEntry, ...]]:
        """The conditional UpdateItem of the declaration's item, and its history once written."""
        moment = iso(at)
        entry = move.entry(moment)
        history, compacted = appended(record.history, entry)
        expression = Expression()
        state = expression.name("state")
        expression.sets += [
            f"{state} = {expression.value('target', move.target.value)}",
            f"system_state = {expression.value('system_state', f'{record.system}#{move.target.value}')}",
            f"updated_at = {expression.value('at', moment)}",
            # rewritten whole when compacted: the oldest entries make room (records.MAX_HISTORY)
            f"history = {expression.value('history', [_stored(h) for h in history])}"
            if compacted
            else f"history = list_append(history, {expression.value('entry', [_stored(entry)])})",
        ]
        for index, (name, value) in enumerate((move.fields or {}).items()):
            expression.sets.append(f"{expression.alias(f'f{index}', name)} = {expression.value(f'f{index}', value)}")
        if move.count_attempt:
            expression.adds.append(f"attempts {expression.value('one', 1)}")
        expected = sorted(s.value for s in move.expected)
        expression.conditions.append(f"{state} IN {expression.values_in('e', expected)}")
        if move.if_attempts is not None:
            expression.conditions.append(f"attempts = {expression.value('attempts', move.if_attempts)}")
        update = {
            "TableName": self._table,
            "Key": ledger_items.key(record.lrn, record.declarant),
            "UpdateExpression": expression.update(),
            "ConditionExpression": expression.condition(),
            **expression.attributes(),
            # A lost condition returns the item as it is: no GetItem, which the release function may not call.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return update, history

    def _move_with_system(self, record: Record, move: Move, parts: list[dict[str, Any]]) -> None:
        """The declaration's update and its system's part in one transaction; why it was refused."""
        reasons = self._transact(parts)
        if reasons is None:
            return
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise StateConflict(record.lrn, ledger_items.state_of(reasons[0].get("Item")))
        system = from_item(reasons[1].get("Item") or {})
        if move.epoch is not None and int(system.get("epoch", 0)) != move.epoch:
            raise HeldAgainMeanwhile(record.system)
        raise SystemHolding(record.system)

    def page(
        self,
        *,
        system: str | None,
        state: State | None,
        limit: int,
        token: str | None,
        declarant: str | None = None,
    ) -> tuple[list[Record], str | None]:
        return ledger_pages.page(
            self._db, self._table, system=system, state=state, limit=limit, token=token, declarant=declarant
        )

    def oldest_held_at(self, system: str) -> datetime | None:
        records, _ = self.page(system=system, state=State.QUEUED, limit=1, token=None)
        return parse_iso(records[0].received_at) if records else None

    def oldest(self, system: str, state: State, limit: int) -> Iterable[Record]:
        records, _ = self.page(system=system, state=state, limit=limit, token=None)
        return records

    def stale_released(self, before: datetime, limit: int) -> list[Record]:
        return ledger_pages.stale_released(self._db, self._table, before, limit)

    def mark_enqueued(self, record: Record, at: datetime) -> None:
        """Note a re-send; a declaration that moved on meanwhile needs no note."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._table,
                Key=ledger_items.key(record.lrn, record.declarant),
                UpdateExpression="SET enqueued_at = :at",
                ConditionExpression="#state = :released",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":at": to_value(iso(at)), ":released": to_value(State.RELEASED.value)},
            )


def _stored(entry: HistoryEntry) -> dict[str, Any]:
    """A history entry as the item keeps it: who and why only when there is one."""
    return entry.model_dump(mode="json", exclude_none=True)
