"""DynamoDB expressions written with their names and values registered as they are used.

Each placeholder is registered explicitly when a clause uses it, so a request carries exactly the names and
values its expressions mention: none is kept or dropped by matching text (`:no` is a prefix of `:now`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecluse.aws.items import to_value


@dataclass
class Expression:
    """The clauses of one request (condition, SET, ADD) and the placeholders they use."""

    conditions: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    _names: dict[str, str] = field(default_factory=dict)
    _values: dict[str, Any] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        """`#attribute`, for attribute names DynamoDB reserves (status, source, state, epoch…)."""
        self._names[f"#{attribute}"] = attribute
        return f"#{attribute}"

    def alias(self, label: str, attribute: str) -> str:
        """`#label` standing for `attribute` (any attribute name, reserved word or not)."""
        self._names[f"#{label}"] = attribute
        return f"#{label}"

    def value(self, label: str, value: Any) -> str:
        """`:label` bound to `value`; one label, one value."""
        placeholder = f":{label}"
        if placeholder in self._values and self._values[placeholder] != value:
            raise ValueError(f"{placeholder} already stands for {self._values[placeholder]!r}")
        self._values[placeholder] = value
        return placeholder

    def values_in(self, label: str, values: list[Any]) -> str:
        """`(:label0, :label1, …)` for an IN clause."""
        return "(" + ", ".join(self.value(f"{label}{i}", v) for i, v in enumerate(values)) + ")"

    @property
    def empty(self) -> bool:
        return not (self.conditions or self.sets or self.adds)

    def condition(self) -> str:
        return " AND ".join(self.conditions)

    def update(self) -> str:
        parts = (["SET " + ", ".join(self.sets)] if self.sets else []) + (
            ["ADD " + ", ".join(self.adds)] if self.adds else []
        )
        return " ".join(parts)

    def attributes(self) -> dict[str, Any]:
        """The request's ExpressionAttributeNames and ExpressionAttributeValues (each only when used)."""
        request: dict[str, Any] = {}
        if self._names:
            request["ExpressionAttributeNames"] = dict(self._names)
        if self._values:
            request["ExpressionAttributeValues"] = {k: to_value(v) for k, v in self._values.items()}
        return request
