"""Status feeds: the status pages authorities and platforms publish (Atlassian Statuspage's
`/api/v2/summary.json`), read by the monitor so that an outage is known before the first sending error.

Each feed maps components to customs systems with a jmespath expression that yields the component's
status. A feed acts when a component's status *changes*: holding is the safe direction, so it may put an
available system on hold; it ends only an outage it started itself; and a status someone else set since
(an operator, a CID alert, a DA, a maintenance window) stands until the page says something new. A feed
that cannot be read, or whose expression yields nothing it knows, changes nothing and says why.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecluse.callers import FEED
from ecluse.clock import Clock
from ecluse.errors import EcluseError, conflict
from ecluse.feed_config import (
    FEED_NAME,
    MEANING,
    Component,
    Feed,
    FeedChanged,
    FeedStore,
    FeedUnreadable,
    PageReader,
    Seen,
    check_url,
)
from ecluse.ports import StatusBoard
from ecluse.systems import Source, Status, StatusChange

if TYPE_CHECKING:  # the API's request model: the monitor reads feeds without creating it
    from ecluse.feed_requests import FeedRequest

__all__ = ["FEED_NAME", "FeedChanged", "FeedUnreadable", "Feeds"]


class Feeds:
    def __init__(self, store: FeedStore, board: StatusBoard, clock: Clock, reader: PageReader | None = None):
        self._store = store
        self._board = board
        self._clock = clock
        self._reader = reader

    # ------------------------------------------------------------------ the operator's side
    def put(self, name: str, request: FeedRequest, by: str) -> tuple[Feed, bool]:
        """The feed as configured by `by`, and whether it is new."""
        check_url(request.url)
        existing = self._store.get(name)
        feed = Feed(name, request.url, tuple(request.components), request.interval_seconds, changed_by=by)
        if existing is not None:  # what it has seen stays: a new mapping must not replay old changes
            feed = replace(feed, version=existing.version, seen=existing.seen, holding=existing.holding)
        try:
            return self._store.put(replace(feed, version=feed.version + 1)), existing is None
        except FeedChanged:  # the monitor read it, or another operator changed it, meanwhile
            raise conflict(
                "feed_changed_concurrently", f"feed {name} changed while this request was applied; retry"
            ) from None

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
        failing = "; ".join(problems) or None
        self._store.save(
            replace(
                feed, version=feed.version + 1, last_polled_at=now, last_error=failing,
                failed_polls=feed.failed_polls + 1 if failing else 0, seen=seen, holding=holding,
            )
        )  # fmt: skip
        return done + ([f"feed {feed.name}: {failing}"] if failing else [])

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
        ours = (
            system in holding
            and state.source in (Source.FEED, Source.MAINTENANCE)
            and state.reference == holding[system]
        )
        if target is Status.UNAVAILABLE:
            if state.status is Status.UNAVAILABLE:
                return None  # already held, by whoever: their record stays
            reference = incident or f"status page: {component.name or system} {status}"
            change = StatusChange(target, source, reference, f"status page says {status}", by=FEED)
            self._board.change(system, change, now)
            holding[system] = reference
            return f"{system} UNAVAILABLE ({source}): {reference}"
        if state.status is Status.UNAVAILABLE and not ours:
            return None  # an outage someone else declared: only they end it
        if state.status is target and not ours:
            return None
        reference = incident or f"status page: {component.name or system} {status}"
        change = StatusChange(target, Source.FEED, reference, f"status page says {status}", by=FEED)
        self._board.change(system, change, now)
        holding.pop(system, None)
        return f"{system} {target} (FEED): {reference}"


def _evaluate(expression: str, page: Any) -> Any:
    import jmespath  # type: ignore[import-untyped]

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
