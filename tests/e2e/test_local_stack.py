"""Drives `make run`'s stack over HTTP as an ERP and an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from local.infra import ROOT
from tests.factories import declaration_body

pytestmark = pytest.mark.e2e


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def wait_for(self, lrns: list[str], state: str, seconds: float = 60) -> dict[str, dict]:
        deadline = time.monotonic() + seconds
        while True:
            shown = {lrn: self("GET", f"/declarations/{lrn}")[1] for lrn in lrns}
            if all(d["state"] == state for d in shown.values()):
                return shown
            if time.monotonic() > deadline:
                pytest.fail(
                    f"not all {state} after {seconds}s: { {k: v['state'] for k, v in shown.items()} }"
                )
            time.sleep(0.3)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Http, subprocess.Popen]]:
    environment = {**os.environ, "PORT": "0", "RELEASE_INTERVAL_SECONDS": "2"}
    environment.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        pytest.fail(f"stack did not start: {line}{process.stderr.read()}")
    url = line.split("up on ", 1)[1].split()[0]
    yield Http(url), process
    if process.poll() is None:
        process.kill()


def test_outage_hold_order_and_recovery(stack):
    http, _ = stack
    assert http("GET", "/systems")[0] == 200
    status, system = http(
        "PUT",
        "/systems/DELTA_G/status",
        {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"},
    )
    assert (status, system["mode"]) == (200, "HOLDING")

    bodies = [declaration_body() for _ in range(5)]
    for body in bodies:
        status, answer = http("POST", "/declarations", body)
        assert (status, answer["state"]) == (202, "QUEUED")
    held = [b["lrn"] for b in bodies]

    # ERP retry, conflicting reuse of an LRN, bad input: none creates anything
    assert http("POST", "/declarations", bodies[0])[0] == 200
    assert http("POST", "/declarations", {**bodies[0], "urgent": True})[1]["error"]["code"] == "lrn_conflict"
    assert http("POST", "/declarations", raw=b'{"lrn":')[1]["error"]["code"] == "malformed_json"
    status, invalid = http("POST", "/declarations", declaration_body(gross_mass_kg=1.0, incoterm=None))
    assert status == 422
    assert {d["code"] for d in invalid["error"]["details"]} == {
        "gross_mass_below_net_mass",
        "missing_incoterm",
    }

    _, listed = http("GET", "/declarations?system=DELTA_G&state=QUEUED")
    assert [d["lrn"] for d in listed["items"]] == held

    status, system = http("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "source": "CID_ALERT"})
    assert system["mode"] == "DRAINING"
    newcomer = declaration_body()
    status, answer = http("POST", "/declarations", newcomer)
    assert answer["state"] == "QUEUED"  # waits behind the backlog

    everyone = [*held, newcomer["lrn"]]
    shown = http.wait_for(everyone, "ACCEPTED")
    assert all(d["mrn"] for d in shown.values())
    _, customs = http("GET", "/_sim/state")
    assert [r["lrn"] for r in customs["received"]] == everyone  # oldest first, newcomer last, once each
    _, system = http("GET", "/systems/DELTA_G")
    assert (system["mode"], system["held"]) == ("NORMAL", 0)
    assert system["reintegration_deadline"] is not None


def test_customs_sending_errors_are_retried_and_visible(stack):
    http, _ = stack
    http("POST", "/_sim/outage", {"system": "CDS", "kind": "server_error"})
    body = declaration_body(system="CDS")
    assert http("POST", "/declarations", body)[1]["state"] == "RELEASED"
    deadline = time.monotonic() + 30
    while "sending error" not in http("GET", f"/declarations/{body['lrn']}")[1]["history"][-1]["detail"]:
        assert time.monotonic() < deadline, "the sending error never showed in the history"
        time.sleep(0.3)
    http("DELETE", "/_sim/outage", {"system": "CDS"})
    shown = http.wait_for([body["lrn"]], "ACCEPTED")[body["lrn"]]
    _, customs = http("GET", "/_sim/state")
    assert [r["lrn"] for r in customs["received"]].count(body["lrn"]) == 1
    assert shown["attempts"] >= 2


def test_cancel_and_unknown(stack):
    http, _ = stack
    http("PUT", "/systems/PLDA/status", {"status": "UNAVAILABLE"})
    body = declaration_body(system="PLDA")
    http("POST", "/declarations", body)
    assert http("DELETE", f"/declarations/{body['lrn']}")[1]["state"] == "CANCELLED"
    assert http("GET", "/declarations/NOPE-404")[0] == 404
    assert http("GET", "/openapi.json")[1]["info"]["title"] == "Écluse"


def test_ctrl_c_stops_cleanly(stack):
    _, process = stack
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Écluse stopped" in out
