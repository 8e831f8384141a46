"""Planned maintenance windows on `make run`'s stack: applied on time, ended only when customs answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.chaos.border import Http, local_stack
from tests.factories import declaration_body

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def http(tmp_path_factory) -> Iterator[Http]:
    with local_stack(tmp_path_factory.mktemp("stack") / "stack.log") as client:
        yield client


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _until(what: str, check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {seconds} s")
        time.sleep(0.25)


def _window(http: Http, system: str, window_id: str) -> dict:
    return next(w for w in http("GET", f"/systems/{system}/maintenance")[1]["items"] if w["id"] == window_id)


def test_a_window_that_overruns_ends_when_customs_answers(http):
    status, window = http(
        "POST", "/systems/DELTA_G/maintenance", {"start": _at(1), "end": _at(4), "reference": "DELTA G 25.10"}
    )
    assert status == 201
    _until("running", lambda: _window(http, "DELTA_G", window["id"])["state"] == "RUNNING")
    system = http("GET", "/systems/DELTA_G")[1]
    assert (system["status"], system["source"], system["reference"]) == ("UNAVAILABLE", "MAINTENANCE", "DELTA G 25.10")
    held = declaration_body()
    assert http("POST", "/declarations", held)[1]["state"] == "QUEUED"
    assert http("DELETE", f"/systems/DELTA_G/maintenance/{window['id']}")[1]["error"]["code"] == "not_cancellable"
    http("POST", "/_sim/outage", {"system": "DELTA_G", "kind": "server_error"})  # the work runs over
    _until("overrun", lambda: _window(http, "DELTA_G", window["id"])["state"] == "OVERRUN")
    assert http("GET", "/systems/DELTA_G")[1]["status"] == "UNAVAILABLE"
    assert http("GET", f"/declarations/{held['lrn']}")[1]["state"] == "QUEUED"
    http("DELETE", "/_sim/outage", {"system": "DELTA_G"})  # customs answers again
    _until("ended", lambda: _window(http, "DELTA_G", window["id"])["state"] == "ENDED")
    system = http("GET", "/systems/DELTA_G")[1]
    assert (system["status"], system["source"]) == ("AVAILABLE", "MAINTENANCE")
    _until("re-integrated", lambda: http("GET", f"/declarations/{held['lrn']}")[1]["state"] == "ACCEPTED")


def test_a_window_extended_while_running_holds_until_its_new_end(http):
    window = http("POST", "/systems/ATLAS/maintenance", {"start": _at(1), "end": _at(3)})[1]
    _until("running", lambda: _window(http, "ATLAS", window["id"])["state"] == "RUNNING")
    moved_to = datetime.now(UTC) + timedelta(seconds=8)
    assert http("PATCH", f"/systems/ATLAS/maintenance/{window['id']}", {"end": moved_to.isoformat()})[0] == 200
    time.sleep(4)  # past the first end: the window still runs
    assert _window(http, "ATLAS", window["id"])["state"] == "RUNNING"
    assert http("GET", "/systems/ATLAS")[1]["status"] == "UNAVAILABLE"
    _until("ended", lambda: _window(http, "ATLAS", window["id"])["state"] == "ENDED")
    assert datetime.now(UTC) >= moved_to
    assert http("GET", "/systems/ATLAS")[1]["status"] == "AVAILABLE"


def test_windows_in_the_past_backwards_or_overlapping_are_refused(http):
    def code(body: dict) -> tuple[int, str]:
        status, answer = http("POST", "/systems/PLDA/maintenance", body)
        return status, answer["error"]["code"]

    assert code({"start": _at(-7200), "end": _at(-3600)}) == (422, "window_in_past")
    assert code({"start": _at(7200), "end": _at(3600)}) == (422, "window_end_before_start")
    assert http("POST", "/systems/PLDA/maintenance", {"start": _at(3600), "end": _at(7200)})[0] == 201
    assert code({"start": _at(5400), "end": _at(9000)}) == (409, "window_overlaps")
