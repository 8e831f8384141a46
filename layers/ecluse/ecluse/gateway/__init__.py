"""The customs gateway: how a released declaration reaches the customs system (or its EDI provider).

Two adapters implement `CustomsGateway`: `gateway.http.HttpGateway` (an EDI provider's REST endpoint,
see docs/gateway-protocol.md) and `local.simulated.SimulatedCustoms` (for `make run` and tests; never shipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CustomsError:
    code: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """Customs' answer to a lodged declaration: accepted with an MRN, or rejected with its errors."""

    accepted: bool
    mrn: str | None = None
    errors: tuple[CustomsError, ...] = field(default_factory=tuple)


class SendingError(Exception):
    """The message may not have reached customs (timeout, 5xx, refused): retry, never assume rejection."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class GatewayRefusedCredentials(SendingError):
    """The gateway answered 401/403 even with a freshly read token: a configuration problem (a rotated or
    wrong token, a revoked client), not an outage. Retried like a sending error, but it never opens the
    circuit that would hold the whole system (`aws.customs_circuit`); it has its own metric and alarm."""

    def __init__(self, detail: str) -> None:
        super().__init__("gateway_refused_credentials", detail)


@dataclass(frozen=True)
class Lodgement:
    lrn: str
    system: str
    declaration: dict[str, Any]
    marks: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


class CustomsGateway(Protocol):
    def lodge(self, lodgement: Lodgement) -> Outcome: ...

    def lookup(self, system: str, lrn: str, eori: str | None = None) -> Outcome | None:
        """Customs' answer for an LRN it already received from the party `eori` (the declaration body's
        declarant; None: any), or None if it never got it."""
        ...

    def reset(self, system: str) -> None:
        """An operator declared `system` available: stop refusing calls to it (`CustomsUnreachable`).
        Only a gateway behind a circuit breaker refuses calls; the others have nothing to reset."""
        ...
