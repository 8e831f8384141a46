"""The HTTP gateway adapter against the simulated customs system served on loopback."""

from __future__ import annotations

import pytest

from ecluse.gateway import Lodgement, SendingError
from ecluse.gateway.http import HttpGateway
from ecluse.gateway.simulated import SimulatedCustoms, serve


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


def test_refused_connection_is_a_sending_error():
    with pytest.raises(SendingError) as error:
        HttpGateway("http://127.0.0.1:9", timeout_seconds=0.5).lodge(_lodgement())
    assert error.value.kind == "connection_failed"


def test_only_http_urls_are_accepted():
    with pytest.raises(ValueError, match="http"):
        HttpGateway("file:///etc/passwd")


def test_no_answer_in_time_is_a_timeout(customs):
    sim, gateway = customs
    sim.set_outage("DELTA_G", "timeout")
    with pytest.raises(SendingError) as error:
        gateway.lodge(_lodgement())
    assert error.value.kind == "timeout"
