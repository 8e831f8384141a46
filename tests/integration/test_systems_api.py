"""GET /systems, GET /systems/{system}, PUT /systems/{system}/status."""

from __future__ import annotations

from tests.factories import declaration_body


def test_every_known_system_is_listed_available_by_default(api):
    status, answer = api.call("GET", "/systems")
    assert status == 200
    systems = {s["system"]: s for s in answer["items"]}
    assert len(systems) == 17
    assert systems["CDS"]["country"] == "GB"
    assert (systems["DELTA_G"]["status"], systems["DELTA_G"]["mode"]) == ("AVAILABLE", "NORMAL")


def test_outage_is_recorded_with_source_reference_and_history(api):
    status, answer = api.call(
        "PUT",
        "/systems/DELTA_G/status",
        {
            "status": "UNAVAILABLE",
            "source": "SELF_TRIGGERED",
            "reference": "DA-2025-1042",
            "reason": "no BAE since 14:00",
            "authorised_from": "2025-10-17T18:00:00+02:00",
        },
    )
    assert status == 200
    assert (answer["status"], answer["mode"], answer["source"]) == (
        "UNAVAILABLE",
        "HOLDING",
        "SELF_TRIGGERED",
    )
    assert answer["reference"] == "DA-2025-1042"
    assert answer["authorised_from"] == "2025-10-17T16:00:00.000000Z"
    api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "source": "SELF_TRIGGERED"})
    _, shown = api.call("GET", "/systems/DELTA_G")
    assert [h["status"] for h in shown["history"]] == ["AVAILABLE", "UNAVAILABLE"]  # newest first
    assert shown["outage_ended_at"] is not None


def test_end_of_french_outage_sets_the_24h_reintegration_deadline(api):
    api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE", "source": "CID_ALERT"})
    _, answer = api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "source": "CID_ALERT"})
    from datetime import datetime, timedelta

    ended = datetime.fromisoformat(answer["outage_ended_at"])
    assert datetime.fromisoformat(answer["reintegration_deadline"]) - ended == timedelta(hours=24)


def test_held_count_and_projected_drain(api):
    api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE"})
    for _ in range(3):
        api.call("POST", "/declarations", declaration_body())
    _, holding = api.call("GET", "/systems/DELTA_G")
    assert (holding["held"], holding["projected_drain_end"]) == (3, None)
    _, draining = api.call("PUT", "/systems/DELTA_G/status", {"status": "DEGRADED"})
    assert draining["mode"] == "DRAINING"
    assert draining["projected_drain_end"] is not None


def test_bad_status_requests_are_4xx_with_codes(api):
    status, answer = api.call("PUT", "/systems/DELTA_G/status", {"status": "BROKEN"})
    assert status == 422
    assert answer["error"]["details"][0]["field"] == "status"
    status, answer = api.call("PUT", "/systems/NOPE/status", {"status": "UNAVAILABLE"})
    assert (status, answer["error"]["code"]) == (404, "unknown_system")
    status, answer = api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "colour": "red"})
    assert (status, answer["error"]["code"]) == (422, "unknown_field")
    status, answer = api.call("PUT", "/systems/DELTA_G/status", raw="{")
    assert (status, answer["error"]["code"]) == (400, "malformed_json")
    assert api.call("GET", "/systems/NOPE")[0] == 404


def test_concurrent_status_change_is_refused_not_lost(board, clock):
    import pytest

    from ecluse.errors import EcluseError
    from ecluse.systems import Source, Status, StatusChange

    stale = board.get("DELTA_G")
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), clock.now())

    class StaleBoard(type(board)):
        def get(self, system):
            return stale

    racing = StaleBoard(board._db, board._table)
    with pytest.raises(EcluseError) as refused:
        racing.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    assert refused.value.http_status == 409
    assert board.get("DELTA_G").status is Status.UNAVAILABLE


def test_one_system_says_what_its_policy_asks_of_the_operator(api):
    """The console's outage form tells the evidence the fallback needs from these figures."""
    _, delta = api.call("GET", "/systems/DELTA_G")
    assert delta["policy"]["reintegration_hours"] == 24
    assert delta["policy"]["evidence"]["SELF_TRIGGERED"] == "da_number"
    assert delta["policy"]["evidence"]["CID_ALERT"] == "cid_alert"
    assert delta["policy"]["sends_through"] == []
    _, dms = api.call("GET", "/systems/DMS_NL")
    assert (dms["policy"]["fallback_urgent_only"], dms["policy"]["sends_through"]) == (True, ["MAINTENANCE"])
    assert dms["policy"]["reintegration_hours"] is None
    assert dms["policy"]["sources"]
