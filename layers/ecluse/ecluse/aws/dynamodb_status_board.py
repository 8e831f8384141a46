"""The systems table: one STATUS item per customs system (status, backlog counter, version) and one
HISTORY#<time> item per status change. A status change and its history item go in one transaction,
conditional on the version read, so two operators can never silently overwrite each other."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from ecluse import policies, systems
from ecluse.aws.items import from_item, system_key, to_item, to_value
from ecluse.clock import iso, parse_iso
from ecluse.errors import conflict
from ecluse.status import Source, Status
from ecluse.systems import StatusChange, SystemState
from ecluse.throttle import ReleaseConfig, TokenBucket

_DATES = ("since", "authorised_from", "outage_ended_at", "reintegration_deadline")
_RELEASE_DATES = ("lease_expires_at", "released_counted_at", "probe_until", "release_changed_at")


def _release(values: dict[str, Any]) -> ReleaseConfig | None:
    if "release_rate" not in values:
        return None
    return ReleaseConfig(
        rate_per_minute=values["release_rate"],
        burst=values["release_burst"],
        paused=values.get("release_paused", False),
    )


def _bucket(values: dict[str, Any]) -> TokenBucket | None:
    if "bucket_at" not in values:
        return None
    return TokenBucket(float(values["bucket_tokens"]), parse_iso(values["bucket_at"]))


def _state(system: str, values: dict[str, Any]) -> SystemState:
    return SystemState(
        system=system,
        policy=policies.policy(system),
        status=Status(values.get("status", Status.AVAILABLE.value)),
        source=Source(values["source"]) if values.get("source") else None,
        reference=values.get("reference"),
        reason=values.get("reason"),
        by=values.get("by"),
        held=max(int(values.get("held", 0)), 0),
        emergency=max(int(values.get("emergency", 0)), 0),
        version=int(values.get("version", 0)),
        epoch=int(values.get("epoch", 0)),
        settled_epoch=int(values.get("settled_epoch", 0)),
        release=_release(values),
        release_by=values.get("release_by"),
        release_reason=values.get("release_reason"),
        bucket=_bucket(values),
        lease_owner=values.get("lease_owner"),
        released_last_minute=int(values.get("released_last_minute", 0)),
        **{name: parse_iso(values[name]) for name in _DATES + _RELEASE_DATES if values.get(name)},
    )


class DynamoDbStatusBoard:
    def __init__(self, client: Any, systems_table: str) -> None:
        self._db = client
        self._table = systems_table

    def get(self, system: str) -> SystemState:
        answer = self._db.get_item(
            TableName=self._table,
            Key=system_key(system),
            ConsistentRead=True,
        )
        return _state(system, from_item(answer.get("Item", {})))

    def all(self) -> list[SystemState]:
        keys = [system_key(s) for s in systems.REGISTRY]
        found: dict[str, dict[str, Any]] = {}
        request = {self._table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = self._db.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self._table, []):
                values = from_item(item)
                found[values["system"]] = values
            request = answer.get("UnprocessedKeys") or {}
        return [_state(s, found.get(s, {})) for s in systems.REGISTRY]

    def change(self, system: str, change: StatusChange, at: datetime) -> SystemState:
        current = self.get(system)
        updated = current.after(change, at)
        fields = {
            "status": updated.status.value,
            "source": updated.source.value if updated.source else None,
            "reference": updated.reference,
            "reason": updated.reason,
            "by": updated.by,
            **{name: iso(getattr(updated, name)) if getattr(updated, name) else None for name in _DATES},
            "version": updated.version,
        }
        names = {f"#a{i}": name for i, name in enumerate(fields)}
        values = {f":a{i}": to_value(value) for i, value in enumerate(fields.values()) if value is not None}
        sets = [f"#a{i} = :a{i}" for i, value in enumerate(fields.values()) if value is not None]
        removes = [f"#a{i}" for i, value in enumerate(fields.values()) if value is None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        values[":seen"] = to_value(current.version)
        history = {
            "system": system,
            "record": f"HISTORY#{iso(at)}#{updated.version:09d}",
            **{k: v for k, v in fields.items() if k != "version"},
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": system_key(system),
                            "UpdateExpression": expression,
                            "ConditionExpression": "attribute_not_exists(version) OR version = :seen",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(history)}},
                ]
            )
        except self._db.exceptions.TransactionCanceledException:
            raise conflict(
                "status_changed_concurrently",
                f"{system}'s status changed while this request was applied; read it again and retry",
            ) from None
        return updated

    def set_release(
        self, system: str, config: ReleaseConfig, *, by: str, at: datetime, reason: str | None = None
    ) -> SystemState:
        audit = "release_by = :by, release_changed_at = :at"
        values = {
            ":rate": to_value(config.rate_per_minute),
            ":burst": to_value(config.burst),
            ":paused": to_value(config.paused),
            ":by": to_value(by),
            ":at": to_value(iso(at)),
        }
        if reason:
            values[":reason"] = to_value(reason)
        self._db.update_item(
            TableName=self._table,
            Key=system_key(system),
            UpdateExpression=f"SET release_rate = :rate, release_burst = :burst, release_paused = :paused, {audit}"
            + (", release_reason = :reason" if reason else " REMOVE release_reason"),
            ExpressionAttributeValues=values,
        )
        return self.get(system)

    def acquire_lease(self, system: str, owner: str, now: datetime, until: datetime) -> bool:
        """Become the only release run for `system` until `until`, unless another run holds it."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=system_key(system),
                UpdateExpression="SET lease_owner = :me, lease_expires_at = :until",
                ConditionExpression="attribute_not_exists(lease_owner) OR lease_owner = :me OR lease_expires_at < :now",
                ExpressionAttributeValues={
                    ":me": to_value(owner),
                    ":until": to_value(iso(until)),
                    ":now": to_value(iso(now)),
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def settle(self, system: str, epoch: int) -> bool:
        """Record that `epoch`'s stale releases are back in line, if the epoch has not moved since."""
        condition = "attribute_not_exists(#e) OR #e = :e" if epoch == 0 else "#e = :e"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=system_key(system),
                UpdateExpression="SET settled_epoch = :e",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": "epoch"},
                ExpressionAttributeValues={":e": to_value(epoch)},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False  # held again meanwhile: the next run settles the new epoch
        return True

    def release_lease(self, system: str, owner: str) -> None:
        # if it expired and another run took it, there is nothing of ours to give back
        with contextlib.suppress(self._db.exceptions.ConditionalCheckFailedException):
            self._db.update_item(
                TableName=self._table,
                Key=system_key(system),
                UpdateExpression="REMOVE lease_owner, lease_expires_at",
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={":me": to_value(owner)},
            )

    def history(self, system: str, limit: int = 20) -> list[dict[str, Any]]:
        answer = self._db.query(
            TableName=self._table,
            KeyConditionExpression="#s = :s AND begins_with(#r, :h)",
            ExpressionAttributeNames={"#s": "system", "#r": "record"},
            ExpressionAttributeValues={":s": to_value(system), ":h": to_value("HISTORY#")},
            ScanIndexForward=False,
            Limit=limit,
        )
        out = []
        for item in answer.get("Items", []):
            values = from_item(item)
            values.pop("system", None)
            values["at"] = values.pop("record").split("#")[1]
            out.append(values)
        return out
