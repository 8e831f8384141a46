"""Events for an ERP outside AWS: `make run` with ERP_WEBHOOK_URL POSTs each one to a loopback receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.chaos.border import Http, local_stack
from tests.factories import declaration_body

pytestmark = pytest.mark.e2e


class Receiver:
    """The ERP's webhook endpoint: keeps every envelope with when it arrived; refuses the first one."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict, dict]] = []
        self.refusals_left = 1
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                refuse = receiver.refusals_left > 0
                receiver.refusals_left -= 1
                if not refuse:
                    receiver.received.append((time.time(), body, dict(self.headers)))
                self.send_response(503 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ecluse/events"

    def details(self, kind: str) -> list[dict]:
        return [body["detail"] for _, body, _ in self.received if body["detail-type"] == kind]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    served = Receiver()
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def http(tmp_path_factory, receiver) -> Iterator[Http]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with local_stack(log, ERP_WEBHOOK_URL=receiver.url, ERP_WEBHOOK_SECRET="s3cret") as client:
        yield client


def test_every_change_of_a_held_then_released_declaration_and_of_its_system_reaches_the_erp(http, receiver):
    http("PUT", "/systems/CDS/status", {"status": "UNAVAILABLE", "reference": "HMRC incident 1234"})
    body = declaration_body(system="CDS")
    assert http("POST", "/declarations", body)[1]["state"] == "QUEUED"
    http("PUT", "/systems/CDS/status", {"status": "AVAILABLE"})
    deadline = time.monotonic() + 30
    while len([d for d in receiver.details("Declaration State Changed") if d["lrn"] == body["lrn"]]) < 4:
        assert time.monotonic() < deadline, receiver.received
        time.sleep(0.2)
    told = [d for d in receiver.details("Declaration State Changed") if d["lrn"] == body["lrn"]]
    assert [d["state"] for d in told] == ["QUEUED", "RELEASED", "SUBMITTED", "ACCEPTED"]  # in order, each once
    assert told[-1]["mrn"]
    changes = receiver.details("System Status Changed")
    statuses = [(s["status"], s["reference"]) for s in changes if s["system"] == "CDS"]
    assert statuses == [("UNAVAILABLE", "HMRC incident 1234"), ("AVAILABLE", None)]
    _, envelope, headers = receiver.received[0]
    assert {"version", "id", "detail-type", "source", "time", "detail"} <= set(envelope)
    assert envelope["source"] == "ecluse"
    assert headers.get("X-Ecluse-Secret") == "s3cret"
    # how long after the change each was told (the first one was refused once and came back)
    lags = [
        arrived - datetime.fromisoformat(detail["at"].replace("Z", "+00:00")).timestamp()
        for arrived, envelope, _ in receiver.received
        for detail in [envelope["detail"]]
        if envelope["detail-type"] == "Declaration State Changed"
    ]
    print(f"webhook lag after each declaration change: max {max(lags):.2f} s")
