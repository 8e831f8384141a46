"""What an operator sends to set up a status feed: the API's request model (only the API creates it; the
monitor, which reads the feeds, never does)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ecluse.feed_config import Component


class FeedRequest(BaseModel):
    """`PUT /feeds/{feed}`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    url: str = Field(max_length=2000, description="the page's summary.json: https, or http to loopback locally")
    components: list[Component] = Field(min_length=1, max_length=50)
    interval_seconds: int = Field(default=60, ge=1, le=3600, description="how often the page is read")
