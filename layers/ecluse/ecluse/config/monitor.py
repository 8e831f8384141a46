"""The monitor function's settings: how long a probe of customs or a status page may take."""

from __future__ import annotations

from pydantic import Field

from ecluse.config.common import CommonSettings


class MonitorSettings(CommonSettings):
    customs_gateway_url: str = Field(alias="CUSTOMS_GATEWAY_URL", pattern=r"^https?://")
    customs_gateway_token_parameter: str = Field(default="", alias="CUSTOMS_GATEWAY_TOKEN_PARAMETER")
    # a probe is one lookup: short, so that a monitor run asking several systems stays within its minute
    customs_gateway_timeout_seconds: float = Field(default=5.0, alias="CUSTOMS_GATEWAY_TIMEOUT_SECONDS", gt=0)
    # a status page that does not answer within this is recorded as failing, and nothing changes
    feed_timeout_seconds: float = Field(default=5.0, alias="FEED_TIMEOUT_SECONDS", gt=0, le=20)
