"""`make replay INCIDENT=docs/incidents/<file>.json`: an incident's timeline through the real lodging,
fallback, release and drain code on a simulated clock, and its picture.

The timeline (docs/incidents/README.md) gives status changes and release settings at given times and
how many declarations the ERP lodges per minute. Each simulated minute: the changes due are applied,
that minute's declarations are lodged (every n-th urgent, as the timeline's share says), then one
scheduled release run goes over its 55 s, the submitter taking each release at once to the simulated
customs system (tests/drain_scenario.py). It runs on the in-memory twins of the DynamoDB adapters
(tests/fakes.py, held to the same contract as moto's by tests/integration/test_adapter_contract.py):
days of simulated traffic take seconds. The PNG shows the backlog over the whole incident with the
outage and the re-integration deadline, then the drain: backlog and re-integrations per minute.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

import local  # noqa: F401 - puts layers/ecluse on sys.path, as for `make bench`
from ecluse.callers import LOCAL
from ecluse.fallback import FallbackProcedure
from ecluse.life_cycle import State
from ecluse.lodging import Lodging, validate
from ecluse.operations import StatusRequest
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.throttle import ReleaseConfig
from local.simulated import SimulatedCustoms
from tests.drain_scenario import SubmitAtOnce
from tests.factories import declaration_body
from tests.fakes import FakeClock, InMemoryBoard, InMemoryLedger, Store

MINUTE = timedelta(minutes=1)
REPLAY = "operator (replay)"  # who the timeline's status and rate changes are recorded under


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(_Strict):
    at: AwareDatetime
    status: StatusRequest | None = None  # what an operator (or the authority's alert) says
    release: ReleaseConfig | None = None  # what the operator sets


class Lodgings(_Strict):
    start: AwareDatetime
    end: AwareDatetime
    per_minute: float = Field(ge=0)
    urgent_share: float = Field(default=0.0, ge=0, le=1)


class Timeline(_Strict):
    title: str
    source: str  # the docs/sources.md id the timeline is built from
    system: str
    start: AwareDatetime
    end: AwareDatetime
    release: ReleaseConfig
    changes: list[Change]
    lodgings: list[Lodgings]
    notes: list[str] = []


@dataclass
class Replay:
    timeline: Timeline
    minutes: list[datetime] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    emergency: list[int] = field(default_factory=list)
    reintegrated: list[int] = field(default_factory=list)  # sent to customs from the backlog, per minute
    straight: list[int] = field(default_factory=list)  # sent at once (nothing waiting), per minute
    lodged: int = 0
    backlog_lrns: list[str] = field(default_factory=list)  # held or fallback at lodging, in lodging order
    fallback_lrns: set[str] = field(default_factory=set)  # switched to the fallback at lodging (urgent)
    received: list[str] = field(default_factory=list)  # what customs received, in order
    outage_started: datetime | None = None
    outage: tuple[datetime, datetime] | None = None  # the first outage that ended
    deadline: datetime | None = None
    drained_at: datetime | None = None

    def figures(self) -> dict[str, Any]:
        backlog = [h + e for h, e in zip(self.held, self.emergency, strict=True)]
        sent = set(self.received)
        return {
            "lodged": self.lodged,
            "held_at_peak": max(backlog, default=0),
            "fallback_at_peak": max(self.emergency, default=0),
            "outage_minutes": round((self.outage[1] - self.outage[0]) / MINUTE) if self.outage else None,
            "drain_minutes": round((self.drained_at - self.outage[1]) / MINUTE)
            if self.drained_at and self.outage
            else None,
            "most_reintegrated_in_a_minute": max(self.reintegrated, default=0),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_met": bool(self.drained_at and self.deadline and self.drained_at <= self.deadline),
            "still_waiting": sum(1 for lrn in self.backlog_lrns if lrn not in sent),  # at the replay's end
            "sent_twice": len(self.received) - len(sent),
        }


def load(path: Path) -> Timeline:
    return Timeline.model_validate_json(path.read_text(encoding="utf-8"))


def run(timeline: Timeline) -> Replay:
    store, clock = Store(), FakeClock(timeline.start)
    ledger, board = InMemoryLedger(store), InMemoryBoard(store)
    customs = SimulatedCustoms()
    queue = SubmitAtOnce(Submission(ledger, customs, clock, max_attempts=5), clock)
    lodging = Lodging(ledger, queue, clock, None, FallbackProcedure(ledger, board, clock))
    template = validate(declaration_body(system=timeline.system))
    board.set_release(timeline.system, timeline.release, by=REPLAY, at=clock.now())
    changes = sorted(timeline.changes, key=lambda c: c.at)
    replay, owed, urgent_owed, minute = Replay(timeline), 0.0, 0.0, timeline.start
    while minute < timeline.end:
        clock.moment = max(clock.moment, minute)
        while changes and changes[0].at <= minute:
            _apply(changes.pop(0), timeline.system, board, clock, replay)
        profile = next((p for p in timeline.lodgings if p.start <= minute < p.end), None)
        owed += profile.per_minute if profile else 0.0
        for _ in range(math.floor(owed)):
            owed -= 1
            urgent_owed += profile.urgent_share if profile else 0.0
            urgent = urgent_owed >= 1
            urgent_owed -= 1 if urgent else 0
            lrn = f"R-{replay.lodged:07d}"
            record = lodging.lodge(template.model_copy(update={"lrn": lrn, "urgent": urgent}), LOCAL).record
            replay.lodged += 1
            if record.state in (State.QUEUED, State.EMERGENCY):
                replay.backlog_lrns.append(lrn)
            if record.state is State.EMERGENCY:
                replay.fallback_lrns.add(lrn)
            clock.sleep(0.01)
        sent_before = len(queue.sent)
        Release(ledger, board, queue, clock, run_seconds=55).run()
        _sample(replay, board.get(timeline.system), minute, queue.sent[sent_before:])
        minute += MINUTE
    replay.received = [r.lrn for r in customs.received]
    return replay


def _apply(change: Change, system: str, board: InMemoryBoard, clock: FakeClock, replay: Replay) -> None:
    if change.release:
        board.set_release(system, change.release, by=REPLAY, at=clock.now())
    if change.status:
        before = board.get(system)
        state = board.change(system, change.status.change(by=REPLAY), clock.now())
        if state.holds and not before.holds:
            replay.outage_started = clock.now()
        if state.outage_ended_at and replay.outage_started and replay.outage is None:
            replay.outage = (replay.outage_started, state.outage_ended_at)
        replay.deadline = state.reintegration_deadline or replay.deadline


def _sample(replay: Replay, state: Any, minute: datetime, sent: list[tuple[str, datetime]]) -> None:
    backlog = set(replay.backlog_lrns)
    replay.minutes.append(minute)
    replay.held.append(state.held)
    replay.emergency.append(state.emergency)
    replay.reintegrated.append(sum(1 for lrn, _ in sent if lrn in backlog))
    replay.straight.append(sum(1 for lrn, _ in sent if lrn not in backlog))
    if replay.outage and replay.drained_at is None and state.backlog == 0 and minute >= replay.outage[1]:
        replay.drained_at = minute + MINUTE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("incident", type=Path, help="docs/incidents/<file>.json")
    parser.add_argument("--out", type=Path, help="the PNG (default: beside the timeline)")
    arguments = parser.parse_args(argv)
    replay = run(load(arguments.incident))
    out = arguments.out or arguments.incident.with_suffix(".png")
    from tests.replay_picture import draw

    draw(replay, out)
    for name, value in replay.figures().items():
        print(f"{name}: {value}")
    print(f"picture: {out}")
    return 1 if replay.figures()["sent_twice"] else 0  # a declaration sent twice is a bug, whatever the timeline


if __name__ == "__main__":
    sys.exit(main())
