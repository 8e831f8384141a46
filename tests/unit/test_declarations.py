"""The declaration body: strict where a typo would lose data, and a life cycle that only moves forward."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ecluse.declarations import Declaration
from ecluse.errors import EcluseError
from ecluse.ledger import Move
from ecluse.life_cycle import TRANSITIONS, State
from ecluse.lodging import validate
from tests.factories import declaration_body


def _codes(body) -> set[tuple[str, str]]:
    with pytest.raises(EcluseError) as refused:
        validate(body)
    assert refused.value.http_status == 422
    return {(d.field, d.code) for d in refused.value.details}


def test_contract_example_is_valid():
    declaration = Declaration.model_validate(declaration_body())
    assert declaration.system == "DELTA_G"
    assert str(declaration.items[0].value.amount) == "48200.00"


@pytest.mark.parametrize("lrn", ["", "A" * 23, "FR 2025", "FR#1", "é"])
def test_lrn_shape_is_enforced(lrn):
    assert ("lrn", "invalid_lrn") in _codes(declaration_body(lrn=lrn))


@pytest.mark.parametrize("lrn", ["A", "A" * 22, "FR-2025/00.1_x"])
def test_lrn_accepts_the_allowed_characters(lrn):
    assert validate(declaration_body(lrn=lrn)).lrn == lrn


@pytest.mark.parametrize("eori", ["12345", "FR", "fr123", "FR1234567890123456", "FR-123"])
def test_eori_format(eori):
    body = declaration_body()
    body["declarant"]["eori"] = eori
    assert ("declarant.eori", "invalid_eori") in _codes(body)


def test_negative_masses_and_too_many_items_are_refused():
    body = declaration_body(gross_mass_kg=-1)
    body["items"] = [dict(body["items"][0], number=1)] * 1000
    found = _codes(body)
    assert ("gross_mass_kg", "greater_than_equal") in found
    assert ("items", "too_long") in found


def test_unknown_fields_are_refused_everywhere():
    body = declaration_body()
    body["declarant"]["address"]["floor"] = 3
    assert ("declarant.address.floor", "unknown_field") in _codes(body)


def test_item_errors_name_the_item():
    body = declaration_body()
    body["items"][0]["commodity_code"] = "ABC"
    assert ("items[0].commodity_code", "string_pattern_mismatch") in _codes(body)


def test_fingerprint_ignores_key_order_but_not_content():
    body = declaration_body()
    reordered = dict(reversed(list(body.items())))
    assert Declaration.model_validate(body).fingerprint() == Declaration.model_validate(reordered).fingerprint()
    changed = {**body, "urgent": True}
    assert Declaration.model_validate(body).fingerprint() != Declaration.model_validate(changed).fingerprint()


def _refused(target: State, source: State) -> bool:
    try:
        Move(target, "a move the ledger is asked to write", frozenset({source}), by="test")
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("final", [State.ACCEPTED, State.REJECTED, State.CANCELLED, State.REDECLARE])
def test_a_final_state_is_never_left(final):
    assert all(_refused(target, final) for target in State)


def test_held_declaration_can_be_released_cancelled_or_switched_but_not_accepted():
    for allowed in (State.RELEASED, State.CANCELLED, State.EMERGENCY):
        assert not _refused(allowed, State.QUEUED)
    assert _refused(State.ACCEPTED, State.QUEUED)
    assert _refused(State.CANCELLED, State.RELEASED)


def test_every_state_is_reachable_from_received():
    reachable, frontier = {State.RECEIVED}, [State.RECEIVED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(State)


def test_only_a_submitted_declaration_can_be_accepted():
    assert [s for s in State if not _refused(State.ACCEPTED, s)] == [State.SUBMITTED]


def test_model_refuses_a_non_object():
    with pytest.raises(ValidationError):
        Declaration.model_validate([1, 2])


def test_a_move_outside_the_life_cycle_is_refused():
    with pytest.raises(ValueError, match="no transition to ACCEPTED"):
        Move(State.ACCEPTED, "skip the queue", frozenset({State.QUEUED}), by="test")
    with pytest.raises(ValueError, match="from nothing"):
        Move(State.RELEASED, "from nowhere", frozenset(), by="test")
    assert Move(State.RELEASED, "ok", frozenset({State.QUEUED, State.EMERGENCY}), by="test").target is State.RELEASED
