"""The systems-table side of a move names exactly the placeholders its expressions use: registered as
they are written, never kept or dropped by matching text (`:no` is a prefix of `:now`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ecluse.aws import system_conditions
from ecluse.aws.expressions import Expression
from ecluse.ledger import Gate, Move, ReleaseGrant
from ecluse.life_cycle import State
from ecluse.throttle import TokenBucket

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _placeholders(part: dict) -> tuple[set[str], set[str]]:
    request = next(iter(part.values()))
    text = " ".join(request.get(k, "") for k in ("ConditionExpression", "UpdateExpression"))
    return set(re.findall(r"#\w+", text)), set(re.findall(r":\w+", text))


def _declared(part: dict) -> tuple[set[str], set[str]]:
    request = next(iter(part.values()))
    return set(request.get("ExpressionAttributeNames", {})), set(request.get("ExpressionAttributeValues", {}))


@pytest.mark.parametrize(
    "move",
    [
        Move(
            State.RELEASED,
            "released",
            frozenset({State.QUEUED}),
            held_delta=-1,
            grant=ReleaseGrant("run", TokenBucket(3.0, AT), 2),
            epoch=4,
            by="test",
        ),
        Move(
            State.RELEASED,
            "probe",
            frozenset({State.QUEUED}),
            held_delta=-1,
            grant=ReleaseGrant("run", TokenBucket(0, AT), 0, AT + timedelta(minutes=1)),
            epoch=0,
            by="test",
        ),
        Move(State.QUEUED, "held again", frozenset({State.SUBMITTED}), held_delta=1, new_epoch=True, by="test"),
        Move(State.SUBMITTED, "sending", frozenset({State.RELEASED}), gate=Gate.OPEN_OR_AUTO, epoch=1, by="test"),
    ],
    ids=["release", "probe", "held_again", "submit"],
)
def test_every_placeholder_used_is_declared_and_none_else(move):
    part = system_conditions.transaction_part("systems", "DELTA_G", system_conditions.for_move("DELTA_G", move, AT))
    assert _placeholders(part) == _declared(part)


def test_a_label_stands_for_one_value():
    expression = Expression()
    assert expression.value("now", "a") == expression.value("now", "a") == ":now"
    with pytest.raises(ValueError, match=":now"):
        expression.value("now", "b")
