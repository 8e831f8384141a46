"""The submit function's settings: how it calls customs and when it gives up."""

from __future__ import annotations

from pydantic import Field

from ecluse.config.common import CommonSettings


class SubmitSettings(CommonSettings):
    customs_gateway_url: str = Field(alias="CUSTOMS_GATEWAY_URL", pattern=r"^https?://")
    customs_gateway_token_parameter: str = Field(default="", alias="CUSTOMS_GATEWAY_TOKEN_PARAMETER")
    customs_gateway_timeout_seconds: float = Field(default=10.0, alias="CUSTOMS_GATEWAY_TIMEOUT_SECONDS", gt=0)
    # how long the gateway may still be working on a lodgement whose answer timed out (gateway protocol):
    # customs is not asked about it before
    customs_gateway_settle_seconds: int = Field(default=60, alias="CUSTOMS_GATEWAY_SETTLE_SECONDS", ge=0)
    # Calls to customs one declaration may cost (counted in the ledger) before it is marked FAILED and
    # dead-lettered; the queue's maxReceiveCount is only a backstop for messages that cannot be processed.
    max_sending_attempts: int = Field(default=8, alias="MAX_SENDING_ATTEMPTS", ge=1)
    submit_dead_letter_queue_url: str = Field(alias="SUBMIT_DEAD_LETTER_QUEUE_URL", min_length=1)
    # consecutive sending errors that open a system's circuit (and hold it, source AUTO)
    circuit_failure_threshold: int = Field(default=3, alias="CIRCUIT_FAILURE_THRESHOLD", ge=1)
    circuit_recovery_seconds: int = Field(default=60, alias="CIRCUIT_RECOVERY_SECONDS", ge=1)
    # first retry after a sending error; doubles with each delivery, capped at two minutes
    retry_base_seconds: int = Field(default=10, alias="RETRY_BASE_SECONDS", ge=0, le=120)

    @property
    def milliseconds_per_declaration(self) -> int:
        """The most one declaration can take: a lookup and a lodging at customs, each up to the
        gateway's timeout, and the ledger's writes. A batch starts no declaration it cannot finish."""
        return int((2 * self.customs_gateway_timeout_seconds + 2) * 1000)
