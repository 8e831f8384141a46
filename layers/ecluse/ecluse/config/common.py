"""What the API, submit, release and monitor functions all read: the two tables and the submit queue."""

from __future__ import annotations

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field


class CommonSettings(BaseModel):
    """What every function but the publisher reads: the two tables and the submit queue."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    declarations_table: str = Field(alias="DECLARATIONS_TABLE", min_length=1)
    systems_table: str = Field(alias="SYSTEMS_TABLE", min_length=1)
    submit_queue_url: str = Field(alias="SUBMIT_QUEUE_URL", min_length=1)

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate(dict(os.environ))
