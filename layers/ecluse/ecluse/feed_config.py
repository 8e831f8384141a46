"""A status feed's configuration and what it last read: the page's address, which component stands for
which customs system, and the ports the feed service reads and stores through."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecluse import systems
from ecluse.clock import iso
from ecluse.errors import EcluseError, FieldProblem
from ecluse.status import Source, Status

FEED_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
# Statuspage component statuses -> what Écluse records
MEANING: dict[str, tuple[Status, Source]] = {
    "operational": (Status.AVAILABLE, Source.FEED),
    "degraded_performance": (Status.DEGRADED, Source.FEED),
    "partial_outage": (Status.DEGRADED, Source.FEED),
    "major_outage": (Status.UNAVAILABLE, Source.FEED),
    "under_maintenance": (Status.UNAVAILABLE, Source.MAINTENANCE),
}
_NAMED = re.compile(r"name\s*==\s*'([^']+)'")


class Component(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    system: str = Field(description="the customs system this component stands for")
    match: str = Field(
        min_length=1,
        max_length=500,
        description="jmespath on the page's summary.json yielding the component's status, "
        "e.g. components[?name=='DMS Import'].status | [0]",
    )
    component: str | None = Field(
        default=None, max_length=200, description="the component's name on the page, to find its incidents"
    )

    @field_validator("system")
    @classmethod
    def _known(cls, value: str) -> str:
        systems.lookup(value)
        return value

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import jmespath  # type: ignore[import-untyped]
        from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped]

        try:
            jmespath.compile(value)
        except JMESPathError as error:
            raise ValueError(f"not a jmespath expression: {error}") from None
        return value

    @property
    def name(self) -> str | None:
        found = _NAMED.search(self.match)
        return self.component or (found.group(1) if found else None)


def check_url(url: str) -> None:
    """https anywhere; plain http only to this machine (the local stack's test pages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not (parts.scheme == "https" and host) and not (parts.scheme == "http" and loopback):
        message = "a feed is read over https (plain http only to 127.0.0.1 or localhost, for local runs)"
        raise EcluseError("feed_url_not_allowed", message, [FieldProblem("url", "feed_url_not_allowed", message)], 422)


@dataclass(frozen=True)
class Seen:
    component_status: str
    at: datetime


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    components: tuple[Component, ...]
    interval_seconds: int
    version: int = 0
    last_polled_at: datetime | None = None
    last_error: str | None = None
    failed_polls: int = 0
    seen: dict[str, Seen] = field(default_factory=dict)  # system -> last component status read
    holding: dict[str, str] = field(default_factory=dict)  # system -> reference of an outage this feed set
    changed_by: str | None = None  # who set it up as it is (a principal; None in feeds stored before)

    def due(self, now: datetime) -> bool:
        return self.last_polled_at is None or now - self.last_polled_at >= timedelta(seconds=self.interval_seconds)

    def answer(self) -> dict[str, Any]:
        return {
            "feed": self.name,
            "url": self.url,
            "components": [c.model_dump() for c in self.components],
            "interval_seconds": self.interval_seconds,
            "last_polled_at": iso(self.last_polled_at) if self.last_polled_at else None,
            "last_error": self.last_error,
            "failed_polls": self.failed_polls,
            "last_seen": {s: {"status": v.component_status, "at": iso(v.at)} for s, v in self.seen.items()},
            "changed_by": self.changed_by,
        }


class FeedUnreadable(Exception):
    """The page could not be read as JSON (timeout, refused, an HTTP error, not JSON, too large)."""


class FeedStore(Protocol):
    def put(self, feed: Feed) -> Feed: ...

    def get(self, name: str) -> Feed | None: ...

    def all(self) -> list[Feed]: ...

    def delete(self, name: str) -> bool: ...

    def save(self, feed: Feed) -> Feed:
        """Store `feed` if the stored one still has version `feed.version - 1` (else FeedChanged)."""
        ...


class FeedChanged(Exception):
    """The feed was replaced or deleted since it was read."""


class PageReader(Protocol):
    def read(self, url: str) -> Any: ...
