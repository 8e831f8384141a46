"""The systems-table side of the ledger's writes: what a system's STATUS item must allow (the status gate,
the release lease, the hold epoch) and what changes on it in the same transaction (backlog counters, the
release run's bucket, the probe window, the epoch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ecluse import policies
from ecluse.aws.expressions import Expression
from ecluse.aws.items import system_key
from ecluse.clock import iso
from ecluse.ledger import Gate, Move, ReleaseGrant
from ecluse.status import Source, Status


def open_system(expression: Expression, system: str, also: Source | None = None) -> str:
    """The system is not holding: not UNAVAILABLE, or UNAVAILABLE for a reason its policy sends through
    (planned maintenance where the authority buffers), or for `also` (a probe into an AUTO outage)."""
    status, down = expression.name("status"), expression.value("down", Status.UNAVAILABLE.value)
    passing = sorted(policies.policy(system).passable_sources | ({also} if also else set()))
    if not passing:
        return f"(attribute_not_exists({status}) OR {status} <> {down})"
    listed = expression.values_in("pass", [source.value for source in passing])
    return f"(attribute_not_exists({status}) OR {status} <> {down} OR {expression.name('source')} IN {listed})"


def same_epoch(expression: Expression, epoch: int) -> str:
    """The system's hold epoch is still `epoch` (a system never held again has none: epoch 0)."""
    name, value = expression.name("epoch"), expression.value("epoch", epoch)
    return f"(attribute_not_exists({name}) OR {name} = {value})" if epoch == 0 else f"{name} = {value}"


def settled(expression: Expression, epoch: int) -> str:
    """The releases of earlier epochs are back in line (decision 11): nothing may be released before."""
    value = expression.value("epoch", epoch)
    return (
        "(attribute_not_exists(settled_epoch) OR settled_epoch = " + value + ")"
        if epoch == 0
        else f"settled_epoch = {value}"
    )


def fast_path(system: str, epoch: int) -> Expression:
    """A newcomer may go straight to customs: the system is open, in `epoch`, and nothing waits."""
    expression = Expression()
    zero = expression.value("zero", 0)
    expression.conditions += [
        open_system(expression, system),
        same_epoch(expression, epoch),
        settled(expression, epoch),
        f"(attribute_not_exists(held) OR held <= {zero})",
        f"(attribute_not_exists(emergency) OR emergency <= {zero})",
    ]
    return expression


def for_move(system: str, move: Move, at: datetime) -> Expression:
    """What `move` requires of and changes on its system's item (empty when nothing)."""
    expression = Expression()
    if move.gate is Gate.OPEN:
        expression.conditions.append(open_system(expression, system))
    elif move.gate is Gate.OPEN_OR_AUTO:
        expression.conditions.append(open_system(expression, system, also=Source.AUTO))
    if move.grant and move.grant.probe_until is not None:
        _probe(expression, move.grant.probe_until, at)
    elif move.grant:
        _release(expression, system, move.grant, at)
    if move.epoch is not None:
        expression.conditions.append(same_epoch(expression, move.epoch))
        if move.grant:  # a release (or a probe) waits until older releases are back in line
            expression.conditions.append(settled(expression, move.epoch))
    _counters(expression, move)
    return expression


def _probe(expression: Expression, until: datetime, at: datetime) -> None:
    """One probe into a system the circuit holds, and none other until `until`."""
    status, down = expression.name("status"), expression.value("down", Status.UNAVAILABLE.value)
    auto = expression.value("auto", Source.AUTO.value)
    expression.conditions.append(f"{status} = {down} AND {expression.name('source')} = {auto}")
    now = expression.value("now", iso(at))
    expression.conditions.append(f"(attribute_not_exists(probe_until) OR probe_until < {now})")
    expression.sets.append(f"probe_until = {expression.value('until', iso(until))}")


def _release(expression: Expression, system: str, grant: ReleaseGrant, at: datetime) -> None:
    """A release by the lease holder, into an open and unpaused system, with its bucket persisted."""
    expression.conditions.append(f"lease_owner = {expression.value('owner', grant.owner)}")
    expression.conditions.append(open_system(expression, system))
    expression.conditions.append(
        f"(attribute_not_exists(release_paused) OR release_paused = {expression.value('no', False)})"
    )
    expression.sets += [
        f"bucket_tokens = {expression.value('tokens', grant.bucket.tokens)}",
        f"bucket_at = {expression.value('bucket_at', iso(grant.bucket.at))}",
        f"released_last_minute = {expression.value('recent', grant.released_last_minute)}",
        f"released_counted_at = {expression.value('at', iso(at))}",
    ]


def _counters(expression: Expression, move: Move) -> None:
    if move.new_epoch:
        expression.adds.append(f"{expression.name('epoch')} {expression.value('epoch_step', 1)}")
    if move.held_delta:
        expression.adds.append(f"held {expression.value('delta', move.held_delta)}")
    if move.emergency_delta:
        expression.adds.append(f"emergency {expression.value('emergency_delta', move.emergency_delta)}")


def transaction_part(table: str, system: str, expression: Expression) -> dict[str, Any] | None:
    """The transaction item for `expression` on `system`'s item: a ConditionCheck when it only checks."""
    if expression.empty:
        return None
    request: dict[str, Any] = {"TableName": table, "Key": system_key(system), **expression.attributes()}
    if expression.conditions:
        request["ConditionExpression"] = expression.condition()
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # says which condition failed
    if not (expression.sets or expression.adds):
        return {"ConditionCheck": request}
    return {"Update": {**request, "UpdateExpression": expression.update()}}
