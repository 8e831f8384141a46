"""The ledger on DynamoDB: one item per declaration, every transition a conditional write.

History is appended with `list_append` in the same UpdateItem as the state change, so a declaration's
state and its history can never disagree. When the system's backlog counter (`held` on the systems
table's STATUS item) must move too, both go in one TransactWriteItems.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ecluse import policies
from ecluse.aws.items import from_item, to_item, to_value
from ecluse.clock import iso, parse_iso
from ecluse.declarations import Declaration, HistoryEntry, Record, State, appended
from ecluse.errors import EcluseError
from ecluse.ledger import DuplicateLrn, FastPathClosed, Gate, HeldAgainMeanwhile, Move, StateConflict, SystemHolding
from ecluse.systems import Source, Status

STATUS_RECORD = "STATUS"
# DynamoDB items stop at 400 KB; the compressed body must leave room for history and indexes.
MAX_STORED_BODY_BYTES = 300_000
# Attributes the listing indexes project (INCLUDE): everything an answer shows, never the body.
LISTED = (
    "system", "state", "received_at", "history", "marks", "references", "mrn", "customs_errors", "attempts",
    "enqueued_at", "urgent", "anticipation_expires_at", "fallback_at", "fallback_mode", "control_pending",
)  # fmt: skip
_INDEX_FOR = {
    (True, True): ("by_system_state", "system_state"),
    (True, False): ("by_system", "system"),
    (False, True): ("by_state", "state"),
}


def _open_condition(system: str, names: dict[str, Any], values: dict[str, Any], also: Source | None = None) -> str:
    """The system is not holding: not UNAVAILABLE, or UNAVAILABLE for a reason its policy sends through
    (planned maintenance where the authority buffers), or for `also` (a probe into an AUTO outage)."""
    names["#status"] = "status"
    values[":down"] = Status.UNAVAILABLE.value
    passing = sorted(policies.policy(system).passable_sources | ({also} if also else set()))
    if not passing:
        return "(attribute_not_exists(#status) OR #status <> :down)"
    names["#source"] = "source"
    values.update({f":pass{i}": source.value for i, source in enumerate(passing)})
    listed = ", ".join(f":pass{i}" for i in range(len(passing)))
    return f"(attribute_not_exists(#status) OR #status <> :down OR #source IN ({listed}))"


class _EpochMoved(Exception):
    """The fast path was refused only because this environment's idea of the hold epoch was stale."""


def _epoch_condition(epoch: int, names: dict[str, Any], values: dict[str, Any]) -> str:
    """The system's hold epoch is still `epoch` (a system never held again has none: epoch 0)."""
    names["#epoch"] = "epoch"
    values[":epoch"] = epoch
    return "(attribute_not_exists(#epoch) OR #epoch = :epoch)" if epoch == 0 else "#epoch = :epoch"


def _state_of(item: dict[str, Any] | None) -> State | None:
    """The state in an item returned by a failed condition (ALL_OLD); None when there is no such item."""
    return State(item["state"]["S"]) if item and "state" in item else None


def _order_key(received_at: str, lrn: str) -> str:
    return f"{received_at}#{lrn}"


def _record(values: dict[str, Any], with_body: bool = False) -> Record:
    body = None
    if with_body and "body" in values:
        body = json.loads(gzip.decompress(values["body"]))
    return Record(
        lrn=values["lrn"],
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


class DynamoDbLedger:
    def __init__(self, client: Any, declarations_table: str, systems_table: str) -> None:
        self._db = client
        self._table = declarations_table
        self._systems = systems_table
        # Each system's hold epoch as this environment last saw it. The fast path writes it on the
        # declaration and checks it in the same transaction; when it moved, the refusal returns the
        # system's item, and the fast path is tried once more with the epoch it holds.
        self._epochs: dict[str, int] = {}

    def _system_key(self, system: str) -> dict[str, Any]:
        return to_item({"system": system, "record": STATUS_RECORD})

    def add(self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None) -> Record:
        body = gzip.compress(json.dumps(declaration.model_dump(mode="json")).encode())
        if len(body) > MAX_STORED_BODY_BYTES:
            raise EcluseError(
                "payload_too_large",
                f"the declaration compresses to {len(body)} bytes, over the {MAX_STORED_BODY_BYTES} bytes "
                "Écluse can store; split it into several declarations",
                http_status=413,
            )
        if hold_reason is not None:
            return self._add(declaration, fingerprint, at, body, hold_reason)
        try:
            return self._add(declaration, fingerprint, at, body, None)
        except _EpochMoved:  # learnt the system's epoch from the refusal: once more with it
            return self._add(declaration, fingerprint, at, body, None)

    def _add(
        self, declaration: Declaration, fingerprint: str, at: datetime, body: bytes, hold_reason: str | None
    ) -> Record:
        received_at = iso(at)
        state = State.RELEASED if hold_reason is None else State.QUEUED
        detail = "system available and nothing held: sent to customs" if hold_reason is None else hold_reason
        epoch = self._epochs.get(declaration.system, 0)
        values = {
            "lrn": declaration.lrn,
            "system": declaration.system,
            "state": state.value,
            "system_state": f"{declaration.system}#{state.value}",
            "received_at": received_at,
            "order_key": _order_key(received_at, declaration.lrn),
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
                {"state": State.RECEIVED.value, "at": received_at, "detail": "lodged by the ERP"},
                {"state": state.value, "at": received_at, "detail": detail},
            ],
            "marks": [],
            "references": [],
            "body": body,
        }
        put = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(values),
                "ConditionExpression": "attribute_not_exists(lrn)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        if state is State.RELEASED:
            check_names: dict[str, str] = {}
            check_values: dict[str, Any] = {":zero": 0}
            open_system = _open_condition(declaration.system, check_names, check_values)
            same_epoch = _epoch_condition(epoch, check_names, check_values)
            system_part = {
                "ConditionCheck": {
                    "TableName": self._systems,
                    "Key": self._system_key(declaration.system),
                    "ConditionExpression": f"{open_system} AND {same_epoch} "
                    "AND (attribute_not_exists(held) OR held <= :zero) "
                    "AND (attribute_not_exists(emergency) OR emergency <= :zero)",
                    "ExpressionAttributeNames": check_names,
                    "ExpressionAttributeValues": {k: to_value(v) for k, v in check_values.items()},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        else:
            system_part = self._held_update(declaration.system, +1)
        reasons = self._transact([put, system_part])
        if reasons is not None:
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                existing = self.get(declaration.lrn, with_body=False)
                if existing is None:  # deleted in between: cannot happen (no deletes), but never 5xx
                    raise EcluseError("lrn_conflict", "retry the request", http_status=409)
                raise DuplicateLrn(existing)
            self._fast_path_refused(declaration.system, from_item(reasons[1].get("Item") or {}), epoch)
        return _record(values)

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
        raise FastPathClosed(f"held: {system_id} refused the fast path")

    def _held_update(self, system: str, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._systems,
                "Key": self._system_key(system),
                "UpdateExpression": "ADD held :delta",
                "ExpressionAttributeValues": {":delta": to_value(delta)},
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run a transaction; None when it went through, else the per-item cancellation reasons."""
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._db.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if not any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise
            return reasons
        return None

    def get(self, lrn: str, *, with_body: bool = False) -> Record | None:
        answer = self._db.get_item(TableName=self._table, Key=to_item({"lrn": lrn}), ConsistentRead=True)
        item = answer.get("Item")
        return _record(from_item(item), with_body) if item else None

    def move(self, record: Record, move: Move, at: datetime) -> Record:
        moment = iso(at)
        entry = {"state": move.target.value, "at": moment, "detail": move.detail}
        names = {"#state": "state"}
        values: dict[str, Any] = {
            ":target": move.target.value,
            ":system_state": f"{record.system}#{move.target.value}",
            ":at": moment,
            ":entry": [entry],
        }
        history, compacted = appended(record.history, HistoryEntry(state=move.target, at=moment, detail=move.detail))
        if compacted:  # rewritten whole: the oldest entries make room (declarations.MAX_HISTORY)
            del values[":entry"]
            values[":history"] = [h.model_dump(mode="json") for h in history]
        sets = [
            "#state = :target",
            "system_state = :system_state",
            "updated_at = :at",
            "history = :history" if compacted else "history = list_append(history, :entry)",
        ]
        for index, (name, value) in enumerate((move.fields or {}).items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = value
            sets.append(f"#f{index} = :f{index}")
        expected = sorted(s.value for s in move.expected)
        for index, state in enumerate(expected):
            values[f":e{index}"] = state
        expression = "SET " + ", ".join(sets)
        if move.count_attempt:
            values[":one"] = 1
            expression += " ADD attempts :one"
        condition = f"#state IN ({', '.join(f':e{i}' for i in range(len(expected)))})"
        if move.if_attempts is not None:
            values[":attempts"] = move.if_attempts
            condition += " AND attempts = :attempts"
        update = {
            "TableName": self._table,
            "Key": to_item({"lrn": record.lrn}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {k: to_value(v) for k, v in values.items()},
        }
        # A lost condition returns the item as it is: no GetItem, which the release function may not call.
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        parts = [{"Update": update}]
        system_part = self._system_part(record.system, move, at)
        if system_part:
            parts.append(system_part)
        if len(parts) == 1:
            try:
                self._db.update_item(**update)
            except self._db.exceptions.ConditionalCheckFailedException as lost:
                raise StateConflict(record.lrn, _state_of(lost.response.get("Item"))) from None
        else:
            reasons = self._transact(parts)
            if reasons is not None:
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    raise StateConflict(record.lrn, _state_of(reasons[0].get("Item")))
                system = from_item(reasons[1].get("Item") or {})
                if move.epoch is not None and int(system.get("epoch", 0)) != move.epoch:
                    raise HeldAgainMeanwhile(record.system)
                raise SystemHolding(record.system)
        fields = {**(move.fields or {})}
        return record.model_copy(
            update={
                "state": move.target,
                "history": history,
                "attempts": record.attempts + (1 if move.count_attempt else 0),
                **{k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items() if k in Record.model_fields},
            }
        )

    def _system_part(self, system: str, move: Move, at: datetime) -> dict[str, Any] | None:
        """The systems-table side of a move: backlog counter, release grant, status gate."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":down": Status.UNAVAILABLE.value}
        conditions, sets, adds = [], [], []
        if move.gate is Gate.OPEN:
            conditions.append(_open_condition(system, names, values))
        elif move.gate is Gate.OPEN_OR_AUTO:
            conditions.append(_open_condition(system, names, values, also=Source.AUTO))
        grant = move.grant
        if grant and grant.probe_until is not None:
            names["#source"] = "source"
            values.update({":auto": Source.AUTO.value, ":now": iso(at), ":until": iso(grant.probe_until)})
            conditions.append("#status = :down AND #source = :auto")
            conditions.append("(attribute_not_exists(probe_until) OR probe_until < :now)")
            sets.append("probe_until = :until")
        elif grant:
            values.update(
                {
                    ":owner": grant.owner,
                    ":no": False,
                    ":tokens": grant.bucket.tokens,
                    ":bucket_at": iso(grant.bucket.at),
                    ":recent": grant.released_last_minute,
                    ":at": iso(at),
                }
            )
            conditions.append("lease_owner = :owner")
            conditions.append(_open_condition(system, names, values))
            conditions.append("(attribute_not_exists(release_paused) OR release_paused = :no)")
            sets += [
                "bucket_tokens = :tokens",
                "bucket_at = :bucket_at",
                "released_last_minute = :recent",
                "released_counted_at = :at",
            ]
        if move.epoch is not None:
            conditions.append(_epoch_condition(move.epoch, names, values))
        if move.new_epoch:
            names["#epoch"] = "epoch"
            values[":epoch_step"] = 1
            adds.append("#epoch :epoch_step")
        if move.held_delta:
            values[":delta"] = move.held_delta
            adds.append("held :delta")
        if move.emergency_delta:
            values[":emergency_delta"] = move.emergency_delta
            adds.append("emergency :emergency_delta")
        if not (conditions or sets or adds):
            return None
        used = " ".join([*conditions, *sets, *adds])
        names = {k: v for k, v in names.items() if k in used}
        values = {k: to_value(v) for k, v in values.items() if k in used}
        key = {
            "TableName": self._systems,
            "Key": self._system_key(system),
            **({"ExpressionAttributeNames": names} if names else {}),
            "ExpressionAttributeValues": values,
        }
        if conditions:
            key["ConditionExpression"] = " AND ".join(conditions)
            key["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # says which condition failed
        if not (sets or adds):
            return {"ConditionCheck": key}
        expression = ("SET " + ", ".join(sets) if sets else "") + (" ADD " + ", ".join(adds) if adds else "")
        return {"Update": {**key, "UpdateExpression": expression.strip()}}

    def page(
        self, *, system: str | None, state: State | None, limit: int, token: str | None
    ) -> tuple[list[Record], str | None]:
        if system is None and state is None:
            raise EcluseError(
                "filter_required",
                "list by system, by state or both, e.g. ?system=DELTA_G&state=QUEUED",
                http_status=422,
            )
        index, key_name = _INDEX_FOR[(system is not None, state is not None)]
        key_value = {"system_state": f"{system}#{state}", "system": system, "state": state}[key_name]
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": {":k": to_value(str(key_value))},
            "Limit": limit,
        }
        if token:
            query["ExclusiveStartKey"] = _decode_token(token, ("lrn", "order_key", key_name))
        answer = self._db.query(**query)
        records = [_record(from_item(i)) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return records, (_encode_token(from_item(last)) if last else None)

    def oldest_held_at(self, system: str) -> datetime | None:
        records, _ = self.page(system=system, state=State.QUEUED, limit=1, token=None)
        return parse_iso(records[0].received_at) if records else None

    def oldest(self, system: str, state: State, limit: int) -> Iterable[Record]:
        records, _ = self.page(system=system, state=state, limit=limit, token=None)
        return records

    def stale_released(self, before: datetime, limit: int) -> list[Record]:
        """RELEASED declarations, any system, enqueued before `before`: their SQS send may have been lost.
        One query on the by_state index serves every system; it pages, because DynamoDB applies a page's
        Limit before the filter and stale ones may sit behind fresh ones."""
        query: dict[str, Any] = {
            "TableName": self._table,
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
            answer = self._db.query(**query)
            found += [_record(from_item(i)) for i in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[:limit]

    def mark_enqueued(self, record: Record, at: datetime) -> None:
        """Note a re-send; a declaration that moved on meanwhile needs no note."""
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._update_enqueued(record, at)

    def _update_enqueued(self, record: Record, at: datetime) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=to_item({"lrn": record.lrn}),
            UpdateExpression="SET enqueued_at = :at",
            ConditionExpression="#state = :released",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":at": to_value(iso(at)), ":released": to_value(State.RELEASED.value)},
        )


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def _decode_token(token: str, names: tuple[str, ...]) -> dict[str, Any]:
    bad = EcluseError(
        "invalid_next_token", "`next` must be the token a previous page returned, unchanged", http_status=422
    )
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(key, dict) or set(key) != set(names) or not all(isinstance(v, str) for v in key.values()):
        raise bad
    return to_item(key)
