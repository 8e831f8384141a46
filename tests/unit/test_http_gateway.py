"""The HTTP gateway adapter against the simulated customs system served on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecluse.gateway import GatewayRefusedCredentials, Lodgement, SendingError
from ecluse.gateway.http import HttpGateway
from local.simulated import SimulatedCustoms, serve


@pytest.fixture
def customs():
    sim = SimulatedCustoms()
    server = serve(sim)
    yield sim, HttpGateway(f"http://127.0.0.1:{server.server_address[1]}", token="t0k", timeout_seconds=0.5)
    server.shutdown()


def _lodgement(lrn="L-1"):
    return Lodgement(lrn, "DELTA_G", {"lrn": lrn}, ("F5000",), ("1PDS:Alerte CID",))


def test_accepted_with_mrn(customs):
    sim, gateway = customs
    outcome = gateway.lodge(_lodgement())
    assert outcome.accepted
    assert outcome.mrn == sim.received[0].outcome.mrn
    assert sim.received[0].marks == ("F5000",)


def test_rejected_with_customs_errors(customs):
    sim, gateway = customs
    sim.reject_next("L-1", "E042", "office unknown")
    outcome = gateway.lodge(_lodgement())
    assert not outcome.accepted
    assert [(e.code, e.message) for e in outcome.errors] == [("E042", "office unknown")]


@pytest.mark.parametrize("kind", ["server_error", "connection_failed"])
def test_outage_is_a_sending_error(customs, kind):
    sim, gateway = customs
    sim.set_outage("DELTA_G", kind)
    with pytest.raises(SendingError):
        gateway.lodge(_lodgement())


def test_lookup_finds_what_customs_received_and_only_that(customs):
    _, gateway = customs
    gateway.lodge(_lodgement("L-9"))
    assert gateway.lookup("DELTA_G", "L-9").accepted
    assert gateway.lookup("DELTA_G", "L-10") is None


def test_a_404_that_is_not_the_protocols_answer_is_not_taken_for_never_received(customs):
    """A proxy's 404 or a wrong base path says nothing about the declaration: reading it as "customs never
    got it" would lodge it a second time."""
    sim, gateway = customs
    gateway.lodge(_lodgement("L-9"))
    wrong_path = HttpGateway(gateway._base + "/v2", timeout_seconds=0.5)
    with pytest.raises(SendingError) as error:
        wrong_path.lookup("DELTA_G", "L-9")
    assert error.value.kind == "unexpected_status"
    assert len(sim.received) == 1


def test_refused_connection_is_a_sending_error_whose_text_stays_in_the_logs(caplog):
    with pytest.raises(SendingError) as error:
        HttpGateway("http://127.0.0.1:9", timeout_seconds=0.5).lodge(_lodgement())
    assert error.value.kind == "connection_failed"
    # what reaches the declaration's history (shown to ERPs): the code and a sentence, no system text
    assert str(error.value) == "connection_failed: the connection to customs failed or was cut"
    assert "refused" in caplog.text.lower()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://customs-gateway.example.com", "http://10.0.0.8:8080", "ftp://x"]
)
def test_only_https_urls_are_accepted_and_plain_http_only_on_loopback(url):
    with pytest.raises(ValueError, match="https"):
        HttpGateway(url)
    for local in ("https://customs-gateway.example.com", "http://127.0.0.1:9", "http://localhost:9"):
        HttpGateway(local)


@pytest.fixture
def elsewhere():
    """Another host (port) that notes every request and the Authorization header it came with."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "accepted", "mrn": "26FR00000000000001"}')

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_so_the_token_never_leaves_the_gateway(elsewhere, status):
    target, seen = elsewhere

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            self.send_response(status)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = HttpGateway(f"http://127.0.0.1:{server.server_address[1]}", token="t0k", timeout_seconds=1)
        for call in (lambda: gateway.lookup("DELTA_G", "L-1"), lambda: gateway.lodge(_lodgement())):
            with pytest.raises(SendingError, match="redirects are not followed"):
                call()
    finally:
        server.shutdown()
    assert seen == []


def test_a_rotated_token_is_read_again_after_a_401_and_the_call_goes_through(customs):
    sim, gateway = customs
    sim.token = "new"
    reads = []

    def token(refresh):
        reads.append(refresh)
        return "new" if refresh else "old"  # the cache still holds the token from before the rotation

    rotated = HttpGateway(gateway._base, token=token, timeout_seconds=0.5)
    assert rotated.lodge(_lodgement()).accepted
    assert reads == [False, True]
    assert len(sim.received) == 1


def test_credentials_refused_after_a_fresh_read_are_a_configuration_error_not_an_outage(customs):
    sim, gateway = customs
    sim.token = "the-right-one"
    with pytest.raises(GatewayRefusedCredentials) as refused:
        gateway.lodge(_lodgement())
    assert refused.value.kind == "gateway_refused_credentials"
    assert "CustomsGatewayTokenParameter" in str(refused.value)
    assert sim.received == []


def test_no_answer_in_time_is_a_timeout(customs):
    sim, gateway = customs
    sim.set_outage("DELTA_G", "timeout")
    with pytest.raises(SendingError) as error:
        gateway.lodge(_lodgement())
    assert error.value.kind == "timeout"
