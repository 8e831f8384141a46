"""Small builders for test data: a valid declaration body, changed only where a test cares."""

from __future__ import annotations

import copy
import itertools
from typing import Any

_counter = itertools.count(1)

_BASE: dict[str, Any] = {
    "lrn": "FR-2025-000123",
    "system": "DELTA_G",
    "declarant": {
        "eori": "FR12345678901234",
        "name": "Transports Exemple SAS",
        "address": {"street": "1 rue du Port", "postcode": "76600", "city": "Le Havre", "country": "FR"},
    },
    "kind": "standard",
    "direction": "import",
    "customs_office": "FR000730",
    "incoterm": "DAP",
    "delivery_place": "Lyon",
    "gross_mass_kg": 1250.5,
    "net_mass_kg": 1100.0,
    "items": [
        {
            "number": 1,
            "commodity_code": "8471300000",
            "description": "Laptops",
            "procedure": "4000",
            "origin": "CN",
            "net_mass_kg": 1100.0,
            "value": {"amount": "48200.00", "currency": "EUR"},
        }
    ],
    "documents": [{"code": "N380", "reference": "INV-7781"}],
    "urgent": False,
    "anticipated": False,
    "anticipation_expires_at": None,
    "message": "<CC415A>native message</CC415A>",
}


def declaration_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(_BASE)
    body["lrn"] = f"T-{next(_counter):06d}"
    body.update(overrides)
    return body
