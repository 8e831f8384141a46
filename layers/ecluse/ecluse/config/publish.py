"""The publish function's settings: the bus the ERP's events go to."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


class PublishSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)

    @classmethod
    def from_env(cls) -> PublishSettings:
        return cls.model_validate(dict(os.environ))
