"""Planned maintenance windows, on the in-memory twins, the simulated customs and a clock moved by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ecluse.errors import EcluseError
from ecluse.gateway.probe import GatewayProbe
from ecluse.maintenance import Maintenance, WindowState
from ecluse.systems import Mode, Source, Status, StatusChange
from ecluse.window_requests import WindowChange, WindowRequest
from local.simulated import SimulatedCustoms
from tests.fakes import InMemoryBoard, InMemoryWindows, Store

ALICE = "alice"  # an operator, as the API passes her principal


@pytest.fixture
def customs():
    return SimulatedCustoms()


@pytest.fixture
def board():
    return InMemoryBoard(Store())


@pytest.fixture
def maintenance(board, clock, customs):
    return Maintenance(InMemoryWindows(), board, clock, GatewayProbe(customs))


def _window(clock, starts_in: float = 60, lasts: float = 3600, **fields):
    start = clock.now() + timedelta(seconds=starts_in)
    return WindowRequest(start=start, end=start + timedelta(seconds=lasts), **fields)


def _refused(call) -> tuple[str, int]:
    with pytest.raises(EcluseError) as refused:
        call()
    return refused.value.code, refused.value.http_status


def test_a_window_holds_its_system_from_its_start(maintenance, board, clock):
    window = maintenance.schedule("DELTA_G", _window(clock, reference="CID-2025-10-14", reason="release 3.2"), ALICE)
    assert maintenance.tick() == []
    assert board.get("DELTA_G").status is Status.AVAILABLE  # not before its start
    clock.advance(seconds=60)
    maintenance.tick()
    state = board.get("DELTA_G")
    assert (state.status, state.source, state.reference) == (Status.UNAVAILABLE, Source.MAINTENANCE, "CID-2025-10-14")
    assert state.mode is Mode.HOLDING  # the French policy holds during maintenance
    assert maintenance.listed("DELTA_G")[0].state is WindowState.RUNNING
    assert window.answer()["state"] == "SCHEDULED"  # what was answered at scheduling time


def test_an_authority_that_buffers_keeps_receiving_during_its_maintenance(maintenance, board, clock):
    maintenance.schedule("DMS_NL", _window(clock, starts_in=0), ALICE)
    maintenance.tick()
    state = board.get("DMS_NL")
    assert (state.status, state.mode) == (Status.UNAVAILABLE, Mode.NORMAL)  # its policy sends through


def test_the_end_of_a_window_waits_for_customs_to_answer(maintenance, board, clock, customs):
    maintenance.schedule("DELTA_G", _window(clock, starts_in=0, lasts=600), ALICE)
    maintenance.tick()
    customs.set_outage("DELTA_G", "server_error")  # the deployment runs over
    clock.advance(seconds=600)
    assert maintenance.tick()[0].endswith("overran: customs does not answer")
    [window] = maintenance.listed("DELTA_G")
    assert window.state is WindowState.OVERRUN
    assert board.get("DELTA_G").status is Status.UNAVAILABLE  # still held
    clock.advance(minutes=5)
    assert maintenance.tick() == []  # asked again, still nothing: no news
    customs.set_outage("DELTA_G", None)
    clock.advance(minutes=1)
    maintenance.tick()
    state = board.get("DELTA_G")
    assert (state.status, state.source) == (Status.AVAILABLE, Source.MAINTENANCE)
    assert state.reintegration_deadline == clock.now() + timedelta(hours=24)  # the re-integration clock starts
    assert maintenance.listed("DELTA_G")[0].state is WindowState.ENDED


def test_a_running_window_extended_ends_later(maintenance, board, clock):
    window = maintenance.schedule("CDS", _window(clock, starts_in=0, lasts=600), ALICE)
    maintenance.tick()
    maintenance.change_end("CDS", window.id, WindowChange(end=window.end + timedelta(hours=1)), ALICE)
    clock.advance(seconds=601)
    maintenance.tick()
    assert board.get("CDS").status is Status.UNAVAILABLE
    assert maintenance.listed("CDS")[0].state is WindowState.RUNNING
    clock.advance(hours=1)
    maintenance.tick()
    assert board.get("CDS").status is Status.AVAILABLE


def test_a_window_leaves_another_sources_outage_alone(maintenance, board, clock):
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID", by="test"), clock.now())
    maintenance.schedule("DELTA_G", _window(clock, starts_in=0, lasts=60), ALICE)
    maintenance.tick()
    clock.advance(seconds=61)
    maintenance.tick()
    state = board.get("DELTA_G")
    assert (state.status, state.source, state.reference) == (Status.UNAVAILABLE, Source.CID_ALERT, "Alerte CID")
    assert maintenance.listed("DELTA_G")[0].state is WindowState.ENDED


def test_an_operator_who_ends_the_outage_ends_the_window(maintenance, board, clock, customs):
    maintenance.schedule("ATLAS", _window(clock, starts_in=0, lasts=60), ALICE)
    maintenance.tick()
    customs.set_outage("ATLAS", "timeout")
    board.change(
        "ATLAS", StatusChange(Status.AVAILABLE, Source.OPERATOR, reason="work done early", by="test"), clock.now()
    )
    clock.advance(seconds=61)
    maintenance.tick()
    state = board.get("ATLAS")  # customs still does not answer, but the operator decided: theirs stands
    assert (state.status, state.source, maintenance.listed("ATLAS")[0].state) == (
        Status.AVAILABLE, Source.OPERATOR, WindowState.ENDED,
    )  # fmt: skip


def test_windows_that_make_no_sense_are_refused(maintenance, clock):
    past = WindowRequest(start=clock.now() - timedelta(hours=2), end=clock.now() - timedelta(hours=1))
    assert _refused(lambda: maintenance.schedule("DELTA_G", past, ALICE)) == ("window_in_past", 422)
    backwards = WindowRequest(start=clock.now() + timedelta(hours=2), end=clock.now() + timedelta(hours=1))
    assert _refused(lambda: maintenance.schedule("DELTA_G", backwards, ALICE)) == ("window_end_before_start", 422)
    first = maintenance.schedule("DELTA_G", _window(clock, starts_in=3600, lasts=3600), ALICE)
    overlapping = _window(clock, starts_in=5400, lasts=3600)
    assert _refused(lambda: maintenance.schedule("DELTA_G", overlapping, ALICE)) == ("window_overlaps", 409)
    maintenance.schedule("CDS", overlapping, ALICE)  # another system: no overlap
    later = maintenance.schedule("DELTA_G", _window(clock, starts_in=4 * 3600, lasts=600), ALICE)
    stretched = WindowChange(end=later.end)
    assert _refused(lambda: maintenance.change_end("DELTA_G", first.id, stretched, ALICE)) == ("window_overlaps", 409)


def test_only_a_window_that_has_not_begun_can_be_cancelled(maintenance, board, clock):
    waiting = maintenance.schedule("PLDA", _window(clock, starts_in=3600), ALICE)
    assert maintenance.cancel("PLDA", waiting.id, ALICE).state is WindowState.CANCELLED
    assert maintenance.cancel("PLDA", waiting.id, ALICE).state is WindowState.CANCELLED  # again: same answer
    clock.advance(hours=2)
    maintenance.tick()
    assert board.get("PLDA").status is Status.AVAILABLE  # a cancelled window never begins
    running = maintenance.schedule("PLDA", _window(clock, starts_in=0), ALICE)
    maintenance.tick()
    assert _refused(lambda: maintenance.cancel("PLDA", running.id, ALICE)) == ("not_cancellable", 409)
    assert _refused(lambda: maintenance.cancel("PLDA", "000000000000", ALICE)) == ("maintenance_window_not_found", 404)


class _MonitorMovesFirst(InMemoryWindows):
    """The monitor begins the window between the operator's read and the operator's write."""

    def get(self, system, window_id):
        read = super().get(system, window_id)
        if read is not None:
            self.windows[(system, window_id)] = replace(read, state=WindowState.RUNNING, version=read.version + 1)
        return read


def test_an_operators_change_that_loses_the_race_with_the_monitor_is_refused_to_retry(board, clock, customs):
    windows = _MonitorMovesFirst()
    maintenance = Maintenance(windows, board, clock, GatewayProbe(customs))
    window = maintenance.schedule("CDS", _window(clock, starts_in=3600), ALICE)
    moved = WindowChange(end=window.end + timedelta(hours=1))
    assert _refused(lambda: maintenance.change_end("CDS", window.id, moved, "bob")) == (
        "maintenance_window_changed_concurrently", 409,
    )  # fmt: skip
    kept = windows.windows[("CDS", window.id)]
    assert (kept.state, kept.end, kept.changed_by) == (WindowState.RUNNING, window.end, None)  # the monitor's
    waiting = maintenance.schedule("ATLAS", _window(clock, starts_in=3600), ALICE)
    assert _refused(lambda: maintenance.cancel("ATLAS", waiting.id, "bob")) == (
        "maintenance_window_changed_concurrently", 409,
    )  # fmt: skip
    assert windows.windows[("ATLAS", waiting.id)].state is WindowState.RUNNING


def test_the_monitor_keeps_who_announced_a_window_and_who_moved_it(maintenance, clock, customs):
    window = maintenance.schedule("CDS", _window(clock, starts_in=0, lasts=600), ALICE)
    maintenance.tick()  # begins
    maintenance.change_end("CDS", window.id, WindowChange(end=window.end + timedelta(minutes=5)), "bob")
    customs.set_outage("CDS", "timeout")
    clock.advance(seconds=901)
    maintenance.tick()  # overruns: customs does not answer
    customs.set_outage("CDS", None)
    maintenance.tick()  # ends
    ended = maintenance.listed("CDS")[0]
    assert (ended.state, ended.by, ended.changed_by) == (WindowState.ENDED, ALICE, "bob")
    assert (ended.answer()["scheduled_by"], ended.answer()["changed_by"]) == (ALICE, "bob")
