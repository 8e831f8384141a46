"""A whole outage-and-drain scenario on the in-memory adapters with a simulated clock, shared by the
scale test and `make bench`: held declarations, the scheduled release runs, the submitter consuming
the queue at once, the simulated customs system recording what it received and when."""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ecluse.callers import LOCAL
from ecluse.lodging import Lodging, validate
from ecluse.records import Record
from ecluse.release import Release
from ecluse.submission import Submission
from ecluse.systems import Source, Status, StatusChange
from ecluse.throttle import ReleaseConfig
from local.simulated import SimulatedCustoms
from tests.factories import declaration_body
from tests.fakes import FakeClock, InMemoryBoard, InMemoryLedger, Store


class SubmitAtOnce:
    """The submit queue with its consumer attached: each message is lodged when sent."""

    def __init__(self, submission: Submission, clock: FakeClock) -> None:
        self.submission, self.clock = submission, clock
        self.sent: list[tuple[str, datetime]] = []

    def send(self, record: Record) -> None:
        self.sent.append((record.lrn, self.clock.now()))
        self.submission.handle(record.lrn, LOCAL.declarant)


@dataclass
class DrainResult:
    held: list[str]
    sent: list[tuple[str, datetime]]
    received: list[str]
    drain_start: datetime
    runs: int
    calls_per_run: list[int] = field(default_factory=list)
    peak_memory_per_run: list[int] = field(default_factory=list)
    calls_during_drain: int = 0

    @property
    def drain_seconds(self) -> float:
        return (self.sent[-1][1] - self.drain_start).total_seconds()

    def max_in_any_minute(self) -> int:
        times = [t for _, t in self.sent]
        worst, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= timedelta(seconds=60):
                start += 1
            worst = max(worst, end - start + 1)
        return worst


def outage_then_drain(backlog: int, config: ReleaseConfig, run_seconds: float = 55.0) -> DrainResult:
    store, clock = Store(), FakeClock()
    ledger, board = InMemoryLedger(store), InMemoryBoard(store)
    customs = SimulatedCustoms()
    queue = SubmitAtOnce(Submission(ledger, customs, clock, max_attempts=5), clock)
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), clock.now())
    lodging = Lodging(ledger, queue, clock)
    template = validate(declaration_body())
    held = []
    for index in range(backlog):
        lrn = f"H-{index:07d}"
        lodging.lodge(template.model_copy(update={"lrn": lrn}), LOCAL)
        held.append(lrn)
        clock.sleep(0.001)
    board.set_release("DELTA_G", config, by="test", at=clock.now())
    clock.moment = clock.moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.CID_ALERT, by="test"), clock.now())
    drain_start, calls_before = clock.now(), store.calls
    result = DrainResult(held, queue.sent, [], drain_start, 0)
    while board.get("DELTA_G").held:
        run_start = drain_start + timedelta(minutes=result.runs)  # EventBridge Scheduler: every minute
        clock.moment = max(clock.moment, run_start)
        calls = store.calls
        tracemalloc.start()
        Release(ledger, board, queue, clock, run_seconds=run_seconds).run()
        result.peak_memory_per_run.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        result.calls_per_run.append(store.calls - calls)
        result.runs += 1
    result.calls_during_drain = store.calls - calls_before
    result.received = [r.lrn for r in customs.received]
    return result
