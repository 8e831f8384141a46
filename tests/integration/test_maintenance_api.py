"""Maintenance windows over the API handler (moto): the contract's answers and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import cognito_user


def _at(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def test_a_window_is_scheduled_listed_moved_and_cancelled(api):
    status, window = api.call(
        "POST",
        "/systems/DELTA_G/maintenance",
        {"start": _at(hours=1), "end": _at(hours=3), "reference": "Note 2025-41", "reason": "DELTA G release"},
    )
    assert status == 201
    assert {k: window[k] for k in ("system", "reference", "reason", "state")} == {
        "system": "DELTA_G", "reference": "Note 2025-41", "reason": "DELTA G release", "state": "SCHEDULED",
    }  # fmt: skip
    assert window["start"].endswith("Z")
    assert window["end"].endswith("Z")
    status, moved = api.call("PATCH", f"/systems/DELTA_G/maintenance/{window['id']}", {"end": _at(hours=5)})
    assert status == 200
    assert moved["end"] > window["end"]
    assert api.call("GET", "/systems/DELTA_G/maintenance")[1]["items"] == [moved]
    status, cancelled = api.call("DELETE", f"/systems/DELTA_G/maintenance/{window['id']}")
    assert (status, cancelled["state"]) == (200, "CANCELLED")
    assert [w["state"] for w in api.call("GET", "/systems/DELTA_G/maintenance")[1]["items"]] == ["CANCELLED"]


def test_a_window_says_who_announced_it_and_who_moved_or_cancelled_it(api):
    """The audit trail of planned work: the status changes a window causes are Écluse's own
    (ecluse:maintenance); the window itself names the operators behind it, as stored in DynamoDB."""
    alice, bob = api.as_(cognito_user("alice")), api.as_(cognito_user("bob"))
    window = alice.call("POST", "/systems/ATLAS/maintenance", {"start": _at(hours=1), "end": _at(hours=2)})[1]
    assert (window["scheduled_by"], window["changed_by"]) == ("alice", None)
    moved = bob.call("PATCH", f"/systems/ATLAS/maintenance/{window['id']}", {"end": _at(hours=4)})[1]
    assert (moved["scheduled_by"], moved["changed_by"]) == ("alice", "bob")
    alice.call("DELETE", f"/systems/ATLAS/maintenance/{window['id']}")
    listed = bob.call("GET", "/systems/ATLAS/maintenance")[1]["items"]
    assert [(w["state"], w["scheduled_by"], w["changed_by"]) for w in listed] == [("CANCELLED", "alice", "alice")]


def test_windows_that_make_no_sense_are_refused_with_what_to_fix(api):
    def refused(body, path="/systems/CDS/maintenance", method="POST"):
        status, answer = api.call(method, path, body)
        return status, answer["error"]["code"]

    assert refused({"start": _at(hours=-3), "end": _at(hours=-1)}) == (422, "window_in_past")
    assert refused({"start": _at(hours=3), "end": _at(hours=1)}) == (422, "window_end_before_start")
    first = api.call("POST", "/systems/CDS/maintenance", {"start": _at(hours=1), "end": _at(hours=3)})[1]
    assert refused({"start": _at(hours=2), "end": _at(hours=4)}) == (409, "window_overlaps")
    assert refused({"start": _at(hours=5)}) == (422, "missing_field")
    assert refused({"start": "tomorrow", "end": _at(hours=6)})[0] == 422
    assert refused({"start": _at(hours=5), "end": _at(hours=6), "owner": "x"}) == (422, "unknown_field")
    assert refused({"start": _at(hours=5), "end": _at(hours=6)}, "/systems/NOPE/maintenance") == (
        404, "unknown_system",
    )  # fmt: skip
    assert refused({"end": _at(hours=6)}, "/systems/CDS/maintenance/0123456789ab", "PATCH") == (
        404, "maintenance_window_not_found",
    )  # fmt: skip
    assert refused(None, f"/systems/CDS/maintenance/{first['id']}/x", "DELETE")[0] == 404


def test_the_monitor_function_begins_a_window_and_ends_it_when_customs_answers(api, aws):
    import time

    from local.functions import LambdaContext, load
    from local.simulated import SimulatedCustoms, serve

    customs = SimulatedCustoms()
    server = serve(customs)
    try:
        monitor = load(
            "monitor", {**aws.env("monitor"), "CUSTOMS_GATEWAY_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        )
        window = api.call("POST", "/systems/AIS/maintenance", {"start": _at(seconds=0.3), "end": _at(seconds=0.6)})[1]
        time.sleep(0.4)
        assert monitor.lambda_handler({}, LambdaContext())["maintenance"] == [
            f"window {window['id']} began: AIS UNAVAILABLE for planned maintenance"
        ]
        assert api.call("GET", "/systems/AIS")[1]["source"] == "MAINTENANCE"
        time.sleep(0.3)
        customs.set_outage("AIS", "server_error")
        monitor.lambda_handler({}, LambdaContext())
        assert api.call("GET", "/systems/AIS/maintenance")[1]["items"][0]["state"] == "OVERRUN"
        customs.set_outage("AIS", None)
        monitor.lambda_handler({}, LambdaContext())
        assert api.call("GET", "/systems/AIS/maintenance")[1]["items"][0]["state"] == "ENDED"
        assert api.call("GET", "/systems/AIS")[1]["status"] == "AVAILABLE"
    finally:
        server.shutdown()
