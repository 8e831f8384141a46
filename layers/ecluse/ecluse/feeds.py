"""Status feeds: the status pages authorities and platforms publish (Atlassian Statuspage's
`/api/v2/summary.json`), read by the monitor so that an outage is known before the first sending error.

Each feed maps components to customs systems with a jmespath expression that yields the component's
status. A feed acts when a component's status *changes*: holding is the safe direction, so it may put an
available system on hold; it ends only an outage it started itself; and a status someone else set since
(an operator, a CID alert, a DA, a maintenance window) stands until the page says something new. A feed
that cannot be read, or whose expression yields nothing it knows, changes nothing and says why.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecluse import systems
from ecluse.clock import Clock, iso
from ecluse.errors import EcluseError, FieldProblem
from ecluse.systems import Source, Status, StatusChange, SystemState

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
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            jmespath.compile(value)
        except JMESPathError as error:
            raise ValueError(f"not a jmespath expression: {error}") from None
        return value

    @property
    def name(self) -> str | None:
        found = _NAMED.search(self.match)
        return self.component or (found.group(1) if found else None)


class FeedRequest(BaseModel):
    """`PUT /feeds/{feed}`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=2000, description="the page's summary.json: https, or http to loopback locally")
    components: list[Component] = Field(min_length=1, max_length=50)
    interval_seconds: int = Field(default=60, ge=1, le=3600, description="how often the page is read")


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


class StatusBoard(Protocol):
    def get(self, system: str) -> SystemState: ...

    def change(self, system: str, change: StatusChange, at: datetime) -> SystemState: ...


class Feeds:
    def __init__(self, store: FeedStore, board: StatusBoard, clock: Clock, reader: PageReader | None = None):
        self._store = store
        self._board = board
        self._clock = clock
        self._reader = reader

    # ------------------------------------------------------------------ the operator's side
    def put(self, name: str, request: FeedRequest) -> tuple[Feed, bool]:
        """The feed as configured, and whether it is new."""
        check_url(request.url)
        existing = self._store.get(name)
        feed = Feed(name, request.url, tuple(request.components), request.interval_seconds)
        if existing is not None:  # what it has seen stays: a new mapping must not replay old changes
            feed = replace(feed, version=existing.version, seen=existing.seen, holding=existing.holding)
        return self._store.put(replace(feed, version=feed.version + 1)), existing is None

    def get(self, name: str) -> Feed:
        feed = self._store.get(name)
        if feed is None:
            raise EcluseError("feed_not_found", f"no feed {name!r}; GET /feeds lists them", http_status=404)
        return feed

    def listed(self) -> list[Feed]:
        return sorted(self._store.all(), key=lambda f: f.name)

    def delete(self, name: str) -> None:
        if not self._store.delete(name):
            raise EcluseError("feed_not_found", f"no feed {name!r}; GET /feeds lists them", http_status=404)

    # ------------------------------------------------------------------ the monitor's side
    def tick(self) -> list[str]:
        """Read every feed that is due; what changed, one line per status set or feed that failed."""
        done: list[str] = []
        for feed in self._store.all():
            now = self._clock.now()
            if not feed.due(now) or self._reader is None:
                continue
            try:
                done += self._poll(feed, now)
            except FeedChanged:
                continue  # replaced or deleted meanwhile: the next tick reads the new one
        return done

    def _poll(self, feed: Feed, now: datetime) -> list[str]:
        try:
            page = self._reader.read(feed.url) if self._reader else None
        except FeedUnreadable as error:
            return self._failed(feed, now, str(error))
        seen, holding, done, problems = dict(feed.seen), dict(feed.holding), [], []
        for component in feed.components:
            status = _evaluate(component.match, page)
            if status not in MEANING:
                problems.append(f"{component.system}: the expression yields {status!r}, not a component status")
                continue
            previous = seen.get(component.system)
            seen[component.system] = Seen(status, now)
            if previous is not None and previous.component_status == status:
                continue  # nothing new: whatever anyone set since stands
            line = self._apply(component, status, _incident(page, component.name), holding, now)
            if line:
                done.append(line)
        error = "; ".join(problems) or None
        self._store.save(
            replace(
                feed, version=feed.version + 1, last_polled_at=now, last_error=error,
                failed_polls=feed.failed_polls + 1 if error else 0, seen=seen, holding=holding,
            )
        )  # fmt: skip
        return done + ([f"feed {feed.name}: {error}"] if error else [])

    def _failed(self, feed: Feed, now: datetime, why: str) -> list[str]:
        failed = replace(feed, last_polled_at=now, last_error=why, failed_polls=feed.failed_polls + 1)
        self._store.save(replace(failed, version=feed.version + 1))
        return [f"feed {feed.name}: {why}"]

    def _apply(
        self, component: Component, status: str, incident: str | None, holding: dict[str, str], now: datetime
    ) -> str | None:
        system = component.system
        target, source = MEANING[status]
        state = self._board.get(system)
        ours = system in holding and state.source in (Source.FEED, Source.MAINTENANCE) and (
            state.reference == holding[system]
        )
        if target is Status.UNAVAILABLE:
            if state.status is Status.UNAVAILABLE:
                return None  # already held, by whoever: their record stays
            reference = incident or f"status page: {component.name or system} {status}"
            self._board.change(system, StatusChange(target, source, reference, f"status page says {status}"), now)
            holding[system] = reference
            return f"{system} UNAVAILABLE ({source}): {reference}"
        if state.status is Status.UNAVAILABLE and not ours:
            return None  # an outage someone else declared: only they end it
        if state.status is target and not ours:
            return None
        reference = incident or f"status page: {component.name or system} {status}"
        self._board.change(system, StatusChange(target, Source.FEED, reference, f"status page says {status}"), now)
        holding.pop(system, None)
        return f"{system} {target} (FEED): {reference}"


def _evaluate(expression: str, page: Any) -> Any:
    import jmespath

    try:
        return jmespath.search(expression, page)
    except Exception:  # a page of an unexpected shape yields nothing usable
        return None


def _incident(page: Any, component: str | None) -> str | None:
    """The open incident (or maintenance) naming `component`: its name and shortlink."""
    if not (component and isinstance(page, dict)):
        return None
    for key in ("incidents", "scheduled_maintenances"):
        for incident in page.get(key) or []:
            if not isinstance(incident, dict) or incident.get("status") in ("resolved", "completed", "postmortem"):
                continue
            names = {c.get("name") for c in incident.get("components") or [] if isinstance(c, dict)}
            if component in names:
                return " ".join(str(p) for p in (incident.get("name"), incident.get("shortlink")) if p)[:120]
    return None
