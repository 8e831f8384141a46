"""Status feeds on `make run`'s stack, read from a Statuspage-like page served on loopback."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.chaos.border import Http, local_stack

pytestmark = pytest.mark.e2e

SUMMARY = {
    "page": {"name": "Customs platform"},
    "components": [{"name": "DMS Import", "status": "operational"}],
    "incidents": [],
    "scheduled_maintenances": [],
}


class StatusPage:
    def __init__(self) -> None:
        self.summary = copy.deepcopy(SUMMARY)
        self.body: bytes | None = None  # what to answer instead of the summary (a broken page)
        self.delay = 0.0
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(page.delay)
                raw = page.body if page.body is not None else json.dumps(page.summary).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2/summary.json"

    def dms(self, status: str, incident: str | None = None) -> None:
        self.summary["components"][0]["status"] = status
        self.summary["incidents"] = (
            [{"name": incident, "shortlink": "https://stspg.io/dms1", "status": "identified",
              "components": [{"name": "DMS Import"}]}]
            if incident else []
        )  # fmt: skip


@pytest.fixture(scope="module")
def http(tmp_path_factory) -> Iterator[Http]:
    with local_stack(tmp_path_factory.mktemp("stack") / "stack.log") as client:
        yield client


@pytest.fixture
def page() -> Iterator[StatusPage]:
    served = StatusPage()
    yield served
    served.server.shutdown()


def _until(what: str, check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {seconds} s")
        time.sleep(0.25)


def _feed(http: Http, page: StatusPage, name: str = "platform") -> dict:
    body = {
        "url": page.url,
        "components": [{"system": "DMS_NL", "match": "components[?name=='DMS Import'].status | [0]"}],
        "interval_seconds": 1,
    }
    status, feed = http("PUT", f"/feeds/{name}", body)
    assert status in (200, 201), feed
    return feed


def _status(http: Http) -> tuple[str, str | None]:
    system = http("GET", "/systems/DMS_NL")[1]
    return system["status"], system["source"]


def test_a_major_outage_on_the_page_holds_the_system_until_the_page_says_operational(http, page):
    _feed(http, page)
    _until("read", lambda: http("GET", "/feeds/platform")[1]["last_seen"].get("DMS_NL") is not None)
    page.dms("major_outage", "DMS Import unavailable")
    _until("held", lambda: _status(http) == ("UNAVAILABLE", "FEED"))
    reference = http("GET", "/systems/DMS_NL")[1]["reference"]
    assert reference == "DMS Import unavailable https://stspg.io/dms1"
    page.dms("operational")
    _until("released", lambda: _status(http) == ("AVAILABLE", "FEED"))
    assert http("DELETE", "/feeds/platform")[0] == 204
    assert http("GET", "/feeds/platform")[1]["error"]["code"] == "feed_not_found"


def test_an_operators_status_survives_the_feed(http, page):
    _feed(http, page, "operator")
    _until("read", lambda: http("GET", "/feeds/operator")[1]["last_polled_at"] is not None)
    http("PUT", "/systems/DMS_NL/status", {"status": "UNAVAILABLE", "reference": "ticket 4711"})
    page.dms("degraded_performance")
    _until("read again", lambda: http("GET", "/feeds/operator")[1]["last_seen"]["DMS_NL"]["status"] != "operational")
    page.dms("operational")
    _until("read again", lambda: http("GET", "/feeds/operator")[1]["last_seen"]["DMS_NL"]["status"] == "operational")
    time.sleep(1.5)
    assert _status(http) == ("UNAVAILABLE", "OPERATOR")  # the feed did not start it: it does not end it
    http("PUT", "/systems/DMS_NL/status", {"status": "AVAILABLE"})
    http("DELETE", "/feeds/operator")


def test_a_malformed_or_slow_page_changes_nothing_and_says_why(http, page):
    _feed(http, page, "broken")
    page.body = b"<html>maintenance</html>"
    _until("failing", lambda: http("GET", "/feeds/broken")[1]["last_error"] == "the page is not JSON")
    page.body, page.delay = None, 3  # longer than the local stack's 1 s feed timeout
    _until("timing out", lambda: (http("GET", "/feeds/broken")[1]["last_error"] or "").startswith("no answer"))
    assert http("GET", "/feeds/broken")[1]["failed_polls"] >= 2
    assert _status(http)[0] == "AVAILABLE"
    page.delay = 0
    _until("read again", lambda: http("GET", "/feeds/broken")[1]["last_error"] is None)
    http("DELETE", "/feeds/broken")


def test_a_page_outside_this_machine_over_plain_http_is_refused(http):
    status, answer = http("PUT", "/feeds/plain", {
        "url": "http://status.example.com/api/v2/summary.json",
        "components": [{"system": "DMS_NL", "match": "status"}],
    })  # fmt: skip
    assert (status, answer["error"]["code"]) == (422, "feed_url_not_allowed")
