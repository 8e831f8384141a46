"""A release run lasts up to a minute: its phases (the sweep, each probe, each drain slice) are traced
apart, and tracing itself costs nothing until a traced invocation created the Tracer."""

from __future__ import annotations

import contextlib

from ecluse.aws import tracing
from ecluse.callers import LOCAL
from ecluse.lodging import Lodging, validate
from ecluse.release import Release
from ecluse.systems import Source, Status, StatusChange
from tests.factories import declaration_body
from tests.fakes import FakeClock, InMemoryBoard, InMemoryLedger, Store


class Queue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, record) -> None:
        self.sent.append(record.lrn)


def test_the_run_opens_a_span_per_phase():
    store, clock, queue = Store(), FakeClock(), Queue()
    ledger, board = InMemoryLedger(store), InMemoryBoard(store)
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), clock.now())
    lodging = Lodging(ledger, queue, clock)
    for _ in range(3):
        lodging.lodge(validate(declaration_body()), LOCAL)
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    opened: list[tuple[str, dict[str, str]]] = []

    def spans(name: str, **annotations: str):
        opened.append((name, annotations))
        return contextlib.nullcontext()

    report = Release(ledger, board, queue, clock, spans=spans).run()
    assert report.released == {"DELTA_G": 3}
    assert opened == [
        ("release.sweep", {}),
        ("release.resend_released", {"system": "DELTA_G"}),
        ("release.drain_slice", {"system": "DELTA_G"}),
    ]


def test_a_span_before_any_traced_invocation_is_free():
    with tracing.span("release.sweep", system="DELTA_G"):
        pass
