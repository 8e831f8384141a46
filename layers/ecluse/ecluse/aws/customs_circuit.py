"""One Powertools circuit breaker per customs system around the customs gateway.

The circuits' state lives in the systems table (partition `CIRCUIT`, sort key = system), the same
table whose STATUS item every submission conditionally writes before calling customs: if that table
cannot be read, the write fails and nothing is sent, whatever the breaker's own fail-open read does
(docs/decisions/0006-outage-detection.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.circuit_breaker import (
    CircuitBreakerConfig,
    CircuitState,
    CircuitTransition,
    circuit_breaker,
)
from aws_lambda_powertools.utilities.circuit_breaker.persistence import CircuitBreakerDynamoDBPersistence

from ecluse.detection import AutoDetection, CustomsUnreachable
from ecluse.gateway import CustomsGateway, GatewayRefusedCredentials, Lodgement, Outcome, SendingError

CIRCUIT_PARTITION = "CIRCUIT"


def circuit_config(failure_threshold: int = 3, recovery_seconds: int = 60) -> CircuitBreakerConfig:
    # one good answer to a probe is enough: customs is either taking declarations again or not
    return CircuitBreakerConfig(
        failure_threshold=failure_threshold,
        recovery_timeout=recovery_seconds,
        success_threshold=1,
        handled_exceptions=(SendingError,),
    )


def dynamodb_persistence(client: Any, systems_table: str) -> CircuitBreakerDynamoDBPersistence:
    return CircuitBreakerDynamoDBPersistence(
        table_name=systems_table,
        key_attr="system",
        sort_key_attr="record",
        static_pk_value=CIRCUIT_PARTITION,
        boto3_client=client,
    )


class CircuitBreakingGateway:
    def __init__(
        self,
        gateway: CustomsGateway,
        persistence: CircuitBreakerDynamoDBPersistence,
        detection: AutoDetection,
        config: CircuitBreakerConfig | None = None,
    ) -> None:
        self._gateway = gateway
        self._persistence = persistence
        self._detection = detection
        self._config = config or circuit_config()
        self._calls: dict[str, Callable[..., Any]] = {}

    def lodge(self, lodgement: Lodgement) -> Outcome:
        outcome: Outcome = _unwrapped(self._through(lodgement.system)(self._gateway.lodge, lodgement))
        return outcome

    def lookup(self, system: str, lrn: str, eori: str | None = None) -> Outcome | None:
        outcome: Outcome | None = _unwrapped(self._through(system)(self._gateway.lookup, system, lrn, eori))
        return outcome

    def reset(self, system: str) -> None:
        """An operator declared the system available: stop refusing calls to it."""
        self._persistence.save_closed(system)  # the circuit's name is the system's

    def _through(self, system: str) -> Callable[..., Any]:
        if system not in self._calls:

            def refuse(*_: Any, **__: Any) -> Any:
                raise CustomsUnreachable(system)

            def transition(change: CircuitTransition) -> None:
                if change.to_state is CircuitState.OPEN:
                    errors = self._config.failure_threshold
                    self._detection.customs_down(
                        system, f"customs stopped answering ({errors} sending errors in a row)"
                    )

            @circuit_breaker(
                name=system,
                persistence_store=self._persistence,
                on_circuit_open=refuse,
                on_transition=transition,
                config=self._config,
            )
            def call(function: Callable[..., Any], *args: Any) -> Any:
                try:
                    return function(*args)
                except GatewayRefusedCredentials as refused:
                    # customs answered: our credentials are the problem, not an outage to hold the system for
                    return _Refused(refused)

            self._calls[system] = call
        return self._calls[system]


class _Refused:
    def __init__(self, error: GatewayRefusedCredentials) -> None:
        self.error = error


def _unwrapped(result: Any) -> Any:
    if isinstance(result, _Refused):
        raise result.error
    return result
