"""Business rules, checked on the raw body so they are reported even beside schema errors."""

from __future__ import annotations

from ecluse.rules import violations
from tests.factories import declaration_body


def _codes(body) -> list[str]:
    return [v.code for v in violations(body)]


def test_valid_body_has_no_violation():
    assert violations(declaration_body()) == []


def test_gross_below_net():
    assert _codes(declaration_body(gross_mass_kg=99.0, net_mass_kg=100.0)) == ["gross_mass_below_net_mass"]
    assert _codes(declaration_body(gross_mass_kg=100.0, net_mass_kg=100.0)) == []


def test_standard_declaration_needs_incoterm_and_delivery_place():
    assert _codes(declaration_body(incoterm=None, delivery_place=" ")) == [
        "missing_incoterm",
        "missing_delivery_place",
    ]


def test_simplified_declaration_may_complete_delivery_terms_later():
    assert _codes(declaration_body(kind="simplified", incoterm=None, delivery_place=None)) == []


def test_document_without_code_is_named_by_position():
    body = declaration_body(documents=[{"code": "N380", "reference": "A"}, {"code": "", "reference": "B"}])
    [problem] = violations(body)
    assert (problem.field, problem.code) == ("documents[1].code", "missing_document_code")


def test_duplicate_item_numbers():
    body = declaration_body()
    body["items"] = body["items"] * 2
    assert "duplicate_item_number" in _codes(body)


def test_rules_tolerate_wrong_types_without_crashing():
    assert (
        _codes(
            {
                "gross_mass_kg": "heavy",
                "net_mass_kg": None,
                "documents": "none",
                "items": 3,
                "kind": "simplified",
            }
        )
        == []
    )
