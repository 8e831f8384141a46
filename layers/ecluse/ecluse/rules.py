"""Business rules checked on a declaration body before it is accepted, reported all at once.

They read the raw body defensively so they can run even when the schema already failed: the ERP gets
every problem in one answer instead of fixing them one round-trip at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecluse.errors import FieldProblem


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def violations(body: Mapping[str, Any]) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    gross, net = _number(body.get("gross_mass_kg")), _number(body.get("net_mass_kg"))
    if gross is not None and net is not None and gross < net:
        found.append(
            FieldProblem(
                "gross_mass_kg",
                "gross_mass_below_net_mass",
                f"gross mass {gross} kg is below net mass {net} kg; gross includes packaging",
            )
        )
    # Delivery terms are compulsory on a standard declaration (validation violations in Customs4trade's
    # 'Service Support CAS — Support technique Premium', C4T-CAS-SUPPORT-PREMIUM); a simplified declaration
    # may complete them later.
    if body.get("kind", "standard") == "standard":
        if _blank(body.get("incoterm")):
            found.append(FieldProblem("incoterm", "missing_incoterm", "give the Incoterm, e.g. DAP"))
        if _blank(body.get("delivery_place")):
            found.append(FieldProblem("delivery_place", "missing_delivery_place", "give the place the Incoterm names"))
    documents = body.get("documents")
    if isinstance(documents, list):
        for index, document in enumerate(documents):
            if isinstance(document, Mapping) and _blank(document.get("code")):
                found.append(
                    FieldProblem(
                        f"documents[{index}].code",
                        "missing_document_code",
                        "each document needs its code, e.g. N380 for a commercial invoice",
                    )
                )
    items = body.get("items")
    if isinstance(items, list):
        numbers = [n for i in items if isinstance(i, Mapping) and isinstance(n := i.get("number"), int)]
        if len(numbers) != len(set(numbers)):
            found.append(FieldProblem("items", "duplicate_item_number", "item numbers must be unique"))
    return found
