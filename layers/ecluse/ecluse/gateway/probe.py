"""Is customs answering at all? Asked after planned work, before declarations go to it again.

The probe looks up an LRN no declaration carries (`ECLUSE-PROBE`): any answer of the gateway protocol —
the protocol's own "never received" included — means customs is back; a sending error means it is not.
Nothing is lodged, so a probe never creates anything at customs.
"""

from __future__ import annotations

from ecluse.gateway import CustomsGateway, SendingError

PROBE_LRN = "ECLUSE-PROBE"


class GatewayProbe:
    def __init__(self, gateway: CustomsGateway) -> None:
        self._gateway = gateway

    def answers(self, system: str) -> bool:
        try:
            self._gateway.lookup(system, PROBE_LRN)
        except SendingError:
            return False
        return True
