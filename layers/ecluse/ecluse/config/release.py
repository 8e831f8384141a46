"""The release function's settings: how long a run lasts, when it probes and re-sends."""

from __future__ import annotations

from pydantic import Field

from ecluse.config.common import CommonSettings


class ReleaseSettings(CommonSettings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    # How long one scheduled run keeps releasing: close to the schedule's minute, below the timeout
    # (decision 7: 55 s of 75 s, as the template sets it).
    release_run_seconds: float = Field(default=55.0, alias="RELEASE_RUN_SECONDS", ge=0, le=600)
    # a system held by its circuit gets one probe declaration this long after the circuit opened
    circuit_recovery_seconds: int = Field(default=60, alias="CIRCUIT_RECOVERY_SECONDS", ge=1)
    # a RELEASED declaration whose queue message may have been lost is sent again after this long
    resend_after_seconds: int = Field(default=120, alias="RESEND_AFTER_SECONDS", ge=1)
