"""In-memory ledger and status board with the DynamoDB adapters' semantics (conditional moves, the
backlog counter, leases, gates), for tests at a scale moto cannot reach: moto copies a whole table on
every transaction. tests/integration/test_adapter_contract.py runs the same checks on both."""

from __future__ import annotations

import bisect
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ecluse import systems
from ecluse.callers import Caller
from ecluse.clock import iso, parse_iso
from ecluse.declarations import Declaration
from ecluse.errors import EcluseError
from ecluse.ledger import DuplicateLrn, FastPathClosed, Gate, HeldAgainMeanwhile, Move, StateConflict, SystemHolding
from ecluse.life_cycle import State
from ecluse.records import HistoryEntry, Record, appended
from ecluse.systems import Source, StatusChange, SystemState
from ecluse.throttle import ReleaseConfig

if TYPE_CHECKING:
    from ecluse.feed_config import Feed
    from ecluse.windows import Window


class FakeClock:
    """A clock tests move by hand; `sleep` advances it, so a release run's minute passes at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Store:
    """What the two tables hold."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.records: dict[tuple[str, str], Record] = {}  # (lrn, declarant) -> record, as the table's key
        self.enqueued_at: dict[tuple[str, str], str] = {}
        # (system, state) -> sorted (received_at, lrn, declarant)
        self.order: dict[tuple[str, State], list[tuple[str, str, str]]] = {}
        self.systems: dict[str, SystemState] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.calls = 0

    def system(self, name: str) -> SystemState:
        return self.systems.get(name) or SystemState(name)

    def index(self, record: Record) -> None:
        entry = (record.received_at, record.lrn, record.declarant)
        bisect.insort(self.order.setdefault((record.system, record.state), []), entry)

    def unindex(self, record: Record) -> None:
        self.order[(record.system, record.state)].remove((record.received_at, record.lrn, record.declarant))


class InMemoryLedger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self, declaration: Declaration, fingerprint: str, at: datetime, hold_reason: str | None, caller: Caller
    ) -> Record:
        s = self.store
        with s.lock:
            s.calls += 1
            key = (declaration.lrn, caller.declarant)
            if key in s.records:
                raise DuplicateLrn(s.records[key])
            system = s.system(declaration.system)
            if hold_reason is None and not (system.accepts_fast_path and system.settled):
                raise FastPathClosed(f"held: {declaration.system} is {system.mode}")
            state = State.RELEASED if hold_reason is None else State.QUEUED
            moment = iso(at)
            record = Record(
                lrn=declaration.lrn,
                declarant=caller.declarant,
                system=declaration.system,
                state=state,
                received_at=moment,
                history=(
                    HistoryEntry(state=State.RECEIVED, at=moment, detail="lodged", by=caller.principal),
                    HistoryEntry(state=state, at=moment, detail=hold_reason or "sent", by=caller.principal),
                ),
                fingerprint=fingerprint,
                urgent=declaration.urgent,
                release_epoch=system.epoch if state is State.RELEASED else 0,
                body=declaration.model_dump(mode="json"),
            )
            s.records[key] = record
            s.index(record)
            if state is State.QUEUED:
                s.systems[system.system] = replace(system, held=system.held + 1)
            else:
                s.enqueued_at[key] = moment
            return record

    def get(self, lrn: str, declarant: str, *, with_body: bool = False) -> Record | None:
        with self.store.lock:
            self.store.calls += 1
            record = self.store.records.get((lrn, declarant))
            return record if record is None or with_body else record.model_copy(update={"body": None})

    def find(self, lrn: str) -> list[Record]:
        with self.store.lock:
            self.store.calls += 1
            found = [r for (number, _), r in sorted(self.store.records.items()) if number == lrn]
            return [r.model_copy(update={"body": None}) for r in found]

    def move(self, record: Record, move: Move, at: datetime) -> Record:
        s = self.store
        with s.lock:
            s.calls += 1
            key = (record.lrn, record.declarant)
            current = s.records.get(key)
            if current is None or current.state not in move.expected:
                raise StateConflict(record.lrn, current.state if current else None)
            if move.if_attempts is not None and current.attempts != move.if_attempts:
                raise StateConflict(record.lrn, current.state)
            system = s.system(current.system)
            if move.epoch is not None and system.epoch != move.epoch:
                raise HeldAgainMeanwhile(current.system)
            if move.epoch is not None and move.grant and not system.settled:
                raise SystemHolding(current.system)  # older releases go back in line first
            system = _gated(system, move, at)
            fields = dict(move.fields or {})
            if "enqueued_at" in fields:
                s.enqueued_at[key] = fields.pop("enqueued_at")
            update = {k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items()}
            moved = current.model_copy(
                update={
                    **update,
                    "state": move.target,
                    "history": appended(current.history, move.entry(iso(at)))[0],
                    "attempts": current.attempts + (1 if move.count_attempt else 0),
                }
            )
            s.unindex(current)
            s.records[key] = moved
            s.index(moved)
            s.systems[current.system] = replace(
                system,
                held=system.held + move.held_delta,
                emergency=system.emergency + move.emergency_delta,
                epoch=system.epoch + (1 if move.new_epoch else 0),
            )
            return moved.model_copy(update={"body": record.body})

    def page(
        self,
        *,
        system: str | None,
        state: State | None,
        limit: int,
        token: str | None,
        declarant: str | None = None,
    ) -> tuple[list[Record], str | None]:
        if system is None or state is None:
            raise EcluseError("filter_required", "give a system and a state", http_status=422)
        records = [r for r in self.oldest(system, state, 10_000) if declarant in (None, r.declarant)]
        return records[:limit], None

    def oldest(self, system: str, state: State, limit: int) -> list[Record]:
        with self.store.lock:
            self.store.calls += 1
            keys = self.store.order.get((system, state), [])[:limit]
            return [self.store.records[(lrn, who)].model_copy(update={"body": None}) for _, lrn, who in keys]

    def oldest_held_at(self, system: str) -> datetime | None:
        oldest = self.oldest(system, State.QUEUED, 1)
        return parse_iso(oldest[0].received_at) if oldest else None

    def stale_released(self, before: datetime, limit: int) -> list[Record]:
        with self.store.lock:
            self.store.calls += 1
            limit_at = iso(before)
            found = [
                self.store.records[(lrn, who)]
                for (_, state), keys in self.store.order.items()
                if state is State.RELEASED
                for _, lrn, who in keys
                if self.store.enqueued_at.get((lrn, who), "") < limit_at
            ]
            return found[:limit]

    def mark_enqueued(self, record: Record, at: datetime) -> None:
        with self.store.lock:
            self.store.calls += 1
            key = (record.lrn, record.declarant)
            if self.store.records[key].state is State.RELEASED:
                self.store.enqueued_at[key] = iso(at)


def _gated(system: SystemState, move: Move, at: datetime) -> SystemState:
    """The system once `move`'s gate and release grant let it through, else SystemHolding."""
    down = system.holds
    if move.gate is Gate.OPEN and down:
        raise SystemHolding(system.system)
    if move.gate is Gate.OPEN_OR_AUTO and down and system.source is not Source.AUTO:
        raise SystemHolding(system.system)
    grant = move.grant
    if grant and grant.probe_until is not None:
        if not system.auto_held or (system.probe_until and system.probe_until >= at):
            raise SystemHolding(system.system)
        return replace(system, probe_until=grant.probe_until)
    if grant:
        if system.lease_owner != grant.owner or down or system.release_config.paused:
            raise SystemHolding(system.system)
        return replace(
            system,
            bucket=grant.bucket,
            released_last_minute=grant.released_last_minute,
            released_counted_at=at,
        )
    return system


class InMemoryBoard:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, system: str) -> SystemState:
        with self.store.lock:
            self.store.calls += 1
            return self.store.system(system)

    def all(self) -> list[SystemState]:
        with self.store.lock:
            self.store.calls += 1
            return [self.store.system(name) for name in systems.REGISTRY]

    def change(self, system: str, change: StatusChange, at: datetime) -> SystemState:
        with self.store.lock:
            self.store.calls += 1
            current = self.store.system(system)
            updated = current.after(change, at)  # under the store's lock: nobody changes it meanwhile
            self.store.systems[system] = updated
            entry = {"status": updated.status.value, "at": iso(at), "by": updated.by}
            self.store.history.setdefault(system, []).insert(0, entry)
            return updated

    def history(self, system: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.store.history.get(system, [])[:limit]

    def set_release(
        self, system: str, config: ReleaseConfig, *, by: str, at: datetime, reason: str | None = None
    ) -> SystemState:
        with self.store.lock:
            self.store.calls += 1
            changed = replace(
                self.store.system(system), release=config, release_by=by, release_changed_at=at, release_reason=reason
            )
            self.store.systems[system] = changed
            return changed

    def settle(self, system: str, epoch: int) -> bool:
        with self.store.lock:
            self.store.calls += 1
            state = self.store.system(system)
            if state.epoch != epoch:
                return False
            self.store.systems[system] = replace(state, settled_epoch=epoch)
            return True

    def acquire_lease(self, system: str, owner: str, now: datetime, until: datetime) -> bool:
        with self.store.lock:
            self.store.calls += 1
            state = self.store.system(system)
            if state.lease_owner not in (None, owner) and state.lease_expires_at and state.lease_expires_at >= now:
                return False
            self.store.systems[system] = replace(state, lease_owner=owner, lease_expires_at=until)
            return True

    def release_lease(self, system: str, owner: str) -> None:
        with self.store.lock:
            self.store.calls += 1
            state = self.store.system(system)
            if state.lease_owner == owner:
                self.store.systems[system] = replace(state, lease_owner=None, lease_expires_at=None)


class InMemoryWindows:
    """Maintenance windows with the DynamoDB store's semantics: conditional on the version read."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], Window] = {}

    def add(self, window: Window) -> None:
        self.windows[(window.system, window.id)] = window

    def get(self, system: str, window_id: str) -> Window | None:
        return self.windows.get((system, window_id))

    def of_system(self, system: str) -> list[Window]:
        return [w for (s, _), w in self.windows.items() if s == system]

    def open_windows(self) -> list[Window]:
        from ecluse.maintenance import OPEN

        return [w for w in self.windows.values() if w.state in OPEN]

    def save(self, window: Window) -> Window:
        from ecluse.maintenance import WindowChanged

        if self.windows[(window.system, window.id)].version != window.version - 1:
            raise WindowChanged(window.id)
        self.windows[(window.system, window.id)] = window
        return window


class InMemoryFeeds:
    """Status feeds with the DynamoDB store's semantics: conditional on the version read."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}

    def put(self, feed: Feed) -> Feed:
        return self.save(feed)

    def save(self, feed: Feed) -> Feed:
        from ecluse.feeds import FeedChanged

        stored = self.feeds.get(feed.name)
        if (stored.version if stored else 0) != feed.version - 1:
            raise FeedChanged(feed.name)
        self.feeds[feed.name] = feed
        return feed

    def get(self, name: str) -> Feed | None:
        return self.feeds.get(name)

    def all(self) -> list[Feed]:
        return list(self.feeds.values())

    def delete(self, name: str) -> bool:
        return self.feeds.pop(name, None) is not None
