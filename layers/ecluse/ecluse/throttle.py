"""The release throttle: a token bucket per customs system.

A bucket holding at most `burst` tokens and refilled at `rate_per_minute` lets through at most
`burst + rate_per_minute` releases in any 60 s window (docs/invariants.md, "Rate"), and, while a backlog
waits, as many as the rate allows. Pure: the release run keeps it in memory and persists it with every
release.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReleaseConfig(BaseModel):
    """`PUT /systems/{system}/release`: how fast held declarations go back to customs."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    rate_per_minute: int = Field(ge=1, le=6000, description="releases per minute while a backlog drains")
    burst: int = Field(ge=1, le=6000, description="releases allowed at once on top of the rate")
    paused: bool = False

    @model_validator(mode="after")
    def _burst_within_reason(self) -> ReleaseConfig:
        if self.burst > self.rate_per_minute * 10:
            raise ValueError("burst must not exceed ten minutes' worth of the rate")
        return self


def default_config(rate_per_minute: int) -> ReleaseConfig:
    # A sixth of a minute's rate covers the gap between two scheduled runs without losing tokens.
    return ReleaseConfig(rate_per_minute=rate_per_minute, burst=max(10, math.ceil(rate_per_minute / 6)))


@dataclass(frozen=True)
class TokenBucket:
    tokens: float
    at: datetime

    @classmethod
    def full(cls, config: ReleaseConfig, now: datetime) -> TokenBucket:
        return cls(float(config.burst), now)

    def refilled(self, config: ReleaseConfig, now: datetime) -> TokenBucket:
        elapsed = max((now - self.at).total_seconds(), 0.0)
        return TokenBucket(min(float(config.burst), self.tokens + elapsed * config.rate_per_minute / 60.0), now)

    @property
    def available(self) -> int:
        return int(self.tokens + 1e-9)

    def take(self, count: int = 1) -> TokenBucket:
        if count > self.available:
            raise ValueError(f"only {self.available} token(s) available, {count} asked")
        return TokenBucket(self.tokens - count, self.at)

    def seconds_until(self, count: int, config: ReleaseConfig) -> float:
        """How long until `count` tokens (capped at the bucket's size) are available."""
        wanted = min(float(count), float(config.burst))
        missing = max(wanted - self.tokens, 0.0)
        return missing * 60.0 / config.rate_per_minute
