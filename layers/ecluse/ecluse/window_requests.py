"""What an operator sends about a maintenance window: the API's request models (only the API creates
them; the monitor, which runs the windows, never does)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class WindowRequest(BaseModel):
    """`POST /systems/{system}/maintenance`: planned work announced by the authority or the platform."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    start: AwareDatetime = Field(description="when the system stops taking declarations (ISO 8601 with zone)")
    end: AwareDatetime = Field(description="when the work is planned to end; customs is asked before lodging again")
    reference: str | None = Field(default=None, max_length=120, description="the announcement's reference")
    reason: str | None = Field(default=None, max_length=500)


class WindowChange(BaseModel):
    """`PATCH /systems/{system}/maintenance/{id}`: the work ends earlier or later than announced."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    end: AwareDatetime
