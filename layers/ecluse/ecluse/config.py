"""One settings model per function, read once from the environment at cold start. Each is built when
read (defer_build): a function pays for its own model's validator, not for the four others'."""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    declarations_table: str = Field(alias="DECLARATIONS_TABLE", min_length=1)
    systems_table: str = Field(alias="SYSTEMS_TABLE", min_length=1)
    submit_queue_url: str = Field(alias="SUBMIT_QUEUE_URL", min_length=1)

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class ApiSettings(_Settings):
    # IAM auth: the principals (role or user ARNs, comma-separated) that are operators and reach every
    # declaration; every other signer is an ERP reaching its own (decision 16)
    operator_principal_arns: str = Field(default="", alias="OPERATOR_PRINCIPAL_ARNS")


class SubmitSettings(_Settings):
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


class ReleaseSettings(_Settings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    # How long one scheduled run keeps releasing: close to the schedule's minute, below the timeout
    # (decision 7: 55 s of 75 s, as the template sets it).
    release_run_seconds: float = Field(default=55.0, alias="RELEASE_RUN_SECONDS", ge=0, le=600)
    # a system held by its circuit gets one probe declaration this long after the circuit opened
    circuit_recovery_seconds: int = Field(default=60, alias="CIRCUIT_RECOVERY_SECONDS", ge=1)
    # a RELEASED declaration whose queue message may have been lost is sent again after this long
    resend_after_seconds: int = Field(default=120, alias="RESEND_AFTER_SECONDS", ge=1)


class MonitorSettings(_Settings):
    customs_gateway_url: str = Field(alias="CUSTOMS_GATEWAY_URL", pattern=r"^https?://")
    customs_gateway_token_parameter: str = Field(default="", alias="CUSTOMS_GATEWAY_TOKEN_PARAMETER")
    # a probe is one lookup: short, so that a monitor run asking several systems stays within its minute
    customs_gateway_timeout_seconds: float = Field(default=5.0, alias="CUSTOMS_GATEWAY_TIMEOUT_SECONDS", gt=0)
    # a status page that does not answer within this is recorded as failing, and nothing changes
    feed_timeout_seconds: float = Field(default=5.0, alias="FEED_TIMEOUT_SECONDS", gt=0, le=20)


class PublishSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)

    @classmethod
    def from_env(cls) -> PublishSettings:
        return cls.model_validate(dict(os.environ))
