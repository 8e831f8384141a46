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


def test_windows_and_feeds_stored_before_who_was_recorded_still_read_and_change(api, aws, dynamodb):
    """Items written before `by` / `changed_by` existed have neither attribute: they list with no names
    and take an operator's change like any other."""
    from datetime import UTC, datetime

    from ecluse.aws.dynamodb_feeds import DynamoDbFeedStore
    from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
    from ecluse.feed_config import Component, Feed
    from ecluse.windows import Window, WindowState

    table = aws.env("api")["SYSTEMS_TABLE"]
    start = datetime.now(UTC) + timedelta(hours=1)
    old = Window("0123456789ab", "PLDA", start, start + timedelta(hours=1), WindowState.SCHEDULED)
    DynamoDbWindowStore(dynamodb, table).add(old)
    stored = dynamodb.get_item(
        TableName=table, Key={"system": {"S": "MAINTENANCE"}, "record": {"S": "PLDA#0123456789ab"}}
    )
    assert not {"by", "changed_by"} & set(stored["Item"])  # what an item from before looks like
    listed = api.call("GET", "/systems/PLDA/maintenance")[1]["items"]
    assert [(w["id"], w["scheduled_by"], w["changed_by"]) for w in listed] == [("0123456789ab", None, None)]
    bob = api.as_(cognito_user("bob"))
    status, moved = bob.call("PATCH", "/systems/PLDA/maintenance/0123456789ab", {"end": _at(hours=3)})
    assert (status, moved["scheduled_by"], moved["changed_by"]) == (200, None, "bob")
    match = "components[?name=='DMS Import'].status | [0]"
    DynamoDbFeedStore(dynamodb, table).put(
        Feed("old", "https://status.example.com/api/v2/summary.json", (Component(system="DMS_NL", match=match),), 60, 1)
    )
    assert api.call("GET", "/feeds/old")[1]["changed_by"] is None


def test_who_announced_a_window_or_set_up_a_feed_is_answered_never_logged(aws):
    """An operator's username is personal data: it is kept with the window and the feed, and answered,
    but the API's log lines (at DEBUG here, every line it can write) never carry it."""
    import io

    from local.functions import load
    from tests.conftest import ApiClient

    module = load("api", aws.env("api"))
    # The API's Logger, as this process configured it first (Powertools configures a service's logger once):
    # its every level, into a buffer of this test's own (its handler's stream outlives pytest's captures)
    logged, level = io.StringIO(), module.logger.log_level
    previous = module.logger.registered_handler.setStream(logged)
    module.logger.setLevel("DEBUG")
    try:
        api = ApiClient(module).as_(cognito_user("qzvoperator"))
        window = api.call("POST", "/systems/DMS_NL/maintenance", {"start": _at(hours=1), "end": _at(hours=2)})[1]
        api.call("PATCH", f"/systems/DMS_NL/maintenance/{window['id']}", {"end": _at(hours=3)})
        cancelled = api.call("DELETE", f"/systems/DMS_NL/maintenance/{window['id']}")[1]
        feed = {
            "url": "https://status.example.com/api/v2/summary.json",
            "components": [{"system": "DMS_NL", "match": "a"}],
        }
        answered = api.call("PUT", "/feeds/platform", feed)[1]
    finally:
        module.logger.registered_handler.setStream(previous)
        module.logger.setLevel(level)
    assert (cancelled["scheduled_by"], answered["changed_by"]) == ("qzvoperator", "qzvoperator")
    assert "maintenance window scheduled" in logged.getvalue()  # the log lines were captured
    assert "qzvoperator" not in logged.getvalue()
