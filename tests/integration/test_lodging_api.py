"""POST/GET/DELETE /declarations through the API handler, against moto tables built from the template."""

from __future__ import annotations

import json

import pytest

from ecluse.callers import LOCAL
from tests.conftest import drain_queue
from tests.factories import declaration_body


def _outage(api, system="DELTA_G"):
    status, _ = api.call(
        "PUT",
        f"/systems/{system}/status",
        {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"},
    )
    assert status == 200


def test_available_system_sends_at_once(api, sqs, aws):
    body = declaration_body()
    status, answer = api.call("POST", "/declarations", body)
    assert status == 202
    assert answer["state"] == "RELEASED"
    assert answer["lrn"] == body["lrn"]
    assert answer["system"] == "DELTA_G"
    assert answer["received_at"].endswith("Z")
    messages = drain_queue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"])
    assert [json.loads(m["Body"])["lrn"] for m in messages] == [body["lrn"]]
    assert messages[0]["Attributes"]["MessageGroupId"] == "DELTA_G"


def test_unavailable_system_holds_and_says_why(api, sqs, aws):
    _outage(api)
    status, answer = api.call("POST", "/declarations", declaration_body())
    assert (status, answer["state"]) == (202, "QUEUED")
    _, shown = api.call("GET", f"/declarations/{answer['lrn']}")
    assert [h["state"] for h in shown["history"]] == ["RECEIVED", "QUEUED"]
    assert "UNAVAILABLE" in shown["history"][-1]["detail"]
    assert drain_queue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"]) == []
    _, system = api.call("GET", "/systems/DELTA_G")
    assert (system["mode"], system["held"]) == ("HOLDING", 1)


def test_newcomer_waits_behind_backlog_once_system_is_back(api, sqs, aws):
    _outage(api)
    api.call("POST", "/declarations", declaration_body())
    api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "source": "CID_ALERT"})
    status, answer = api.call("POST", "/declarations", declaration_body())
    assert (status, answer["state"]) == (202, "QUEUED")
    _, system = api.call("GET", "/systems/DELTA_G")
    assert (system["mode"], system["held"]) == ("DRAINING", 2)


def test_other_systems_are_not_held_by_one_outage(api):
    _outage(api, "DELTA_G")
    _, answer = api.call("POST", "/declarations", declaration_body(system="CDS"))
    assert answer["state"] == "RELEASED"


def test_same_lrn_same_body_is_the_same_declaration(api, sqs, aws):
    body = declaration_body()
    first = api.call("POST", "/declarations", body)
    again = api.call("POST", "/declarations", body)
    assert first[0] == 202
    assert again[0] == 200
    assert again[1] == first[1]
    assert len(drain_queue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"])) == 1


def test_same_lrn_other_body_is_a_conflict(api):
    body = declaration_body()
    api.call("POST", "/declarations", body)
    status, answer = api.call("POST", "/declarations", {**body, "gross_mass_kg": 2000.0})
    assert status == 409
    assert answer["error"]["code"] == "lrn_conflict"
    _, shown = api.call("GET", f"/declarations/{body['lrn']}")
    assert shown["state"] == "RELEASED"


def test_every_violation_is_reported_at_once(api):
    body = declaration_body(gross_mass_kg=10.0, net_mass_kg=20.0, incoterm=None, delivery_place="")
    body["declarant"]["eori"] = "12345"
    status, answer = api.call("POST", "/declarations", body)
    assert status == 422
    codes = {(d["field"], d["code"]) for d in answer["error"]["details"]}
    assert codes >= {
        ("declarant.eori", "invalid_eori"),
        ("gross_mass_kg", "gross_mass_below_net_mass"),
        ("incoterm", "missing_incoterm"),
        ("delivery_place", "missing_delivery_place"),
    }
    assert all(d["message"] for d in answer["error"]["details"])


def test_rule_violation_alone_is_422_with_its_code(api):
    status, answer = api.call("POST", "/declarations", declaration_body(gross_mass_kg=1.0))
    assert status == 422
    assert answer["error"]["code"] == "gross_mass_below_net_mass"


def test_unknown_system_is_named(api):
    status, answer = api.call("POST", "/declarations", declaration_body(system="NOPE"))
    assert status == 422
    assert [d["code"] for d in answer["error"]["details"]] == ["unknown_system"]


def test_unknown_field_and_missing_field(api):
    body = declaration_body(colour="red")
    del body["items"]
    status, answer = api.call("POST", "/declarations", body)
    assert status == 422
    found = {(d["field"], d["code"]) for d in answer["error"]["details"]}
    assert found == {("colour", "unknown_field"), ("items", "missing_field")}


def test_a_body_is_checked_once_per_request(api, monkeypatch):
    from ecluse import rules

    checked = []
    original = rules.violations
    monkeypatch.setattr(rules, "violations", lambda body: checked.append(body) or original(body))
    assert api.call("POST", "/declarations", declaration_body())[0] == 202
    broken = declaration_body(gross_mass_kg=1.0, colour="red")  # a rule and the schema broken together
    status, answer = api.call("POST", "/declarations", broken)
    assert (status, len(answer["error"]["details"])) == (422, 2)
    assert len(checked) == 2  # once for each request, however it ends


def test_malformed_json_is_400(api):
    status, answer = api.call("POST", "/declarations", raw='{"lrn": "A",')
    assert (status, answer["error"]["code"]) == (400, "malformed_json")


def test_json_that_is_not_an_object_is_422(api):
    status, answer = api.call("POST", "/declarations", raw="[1, 2]")
    assert status == 422
    assert answer["error"]["code"]


def test_body_over_one_mebibyte_is_413_and_writes_nothing(api):
    body = declaration_body(message="x" * (1024 * 1024))
    status, answer = api.call("POST", "/declarations", body)
    assert (status, answer["error"]["code"]) == (413, "payload_too_large")
    assert api.call("GET", f"/declarations/{body['lrn']}")[0] == 404


def test_large_message_under_the_limit_is_kept_whole(api, ledger):
    message = "<msg>" + "".join(f"<l n='{i}'>ligne {i}</l>" for i in range(30000)) + "</msg>"
    assert 500_000 < len(message) < 1_000_000
    body = declaration_body(message=message)
    assert api.call("POST", "/declarations", body)[0] == 202
    assert ledger.get(body["lrn"], LOCAL.declarant, with_body=True).body["message"] == message


def test_invalid_lrn_is_refused(api):
    status, answer = api.call("POST", "/declarations", declaration_body(lrn="way-too-long-lrn-1234567890"))
    assert status == 422
    assert answer["error"]["details"][0]["code"] == "invalid_lrn"


def test_unknown_lrn_is_404(api):
    status, answer = api.call("GET", "/declarations/NOPE-1")
    assert (status, answer["error"]["code"]) == (404, "declaration_not_found")


def test_unknown_route_is_404_in_the_error_shape(api):
    status, answer = api.call("GET", "/nowhere")
    assert status == 404
    assert answer["error"]["code"] == "route_not_found"


def test_cancel_a_held_declaration(api):
    _outage(api)
    _, answer = api.call("POST", "/declarations", declaration_body())
    status, cancelled = api.call("DELETE", f"/declarations/{answer['lrn']}")
    assert (status, cancelled["state"]) == (200, "CANCELLED")
    _, system = api.call("GET", "/systems/DELTA_G")
    assert system["held"] == 0


def test_released_declaration_cannot_be_cancelled(api):
    _, answer = api.call("POST", "/declarations", declaration_body())
    status, error = api.call("DELETE", f"/declarations/{answer['lrn']}")
    assert (status, error["error"]["code"]) == (409, "not_cancellable")


def test_list_is_oldest_first_and_paginated(api, clock):
    _outage(api)
    lrns = [api.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(5)]
    seen, token = [], None
    for _ in range(5):  # three pages of two at most: a `next` no longer honoured fails, never loops
        query = {"system": "DELTA_G", "state": "QUEUED", "limit": "2", **({"next": token} if token else {})}
        status, page = api.call("GET", "/declarations", query=query)
        assert status == 200
        seen += [d["lrn"] for d in page["items"]]
        token = page["next"]
        if not token:
            break
    assert seen == lrns


def test_list_filters(api):
    _outage(api)
    held = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    sent = api.call("POST", "/declarations", declaration_body(system="CDS"))[1]["lrn"]
    _, by_system = api.call("GET", "/declarations", query={"system": "CDS"})
    _, by_state = api.call("GET", "/declarations", query={"state": "QUEUED"})
    assert [d["lrn"] for d in by_system["items"]] == [sent]
    assert [d["lrn"] for d in by_state["items"]] == [held]


def test_list_bad_parameters_are_422(api):
    assert api.call("GET", "/declarations")[0] == 422
    assert api.call("GET", "/declarations", query={"system": "DELTA_G", "limit": "0"})[0] == 422
    assert api.call("GET", "/declarations", query={"state": "SLEEPING"})[0] == 422
    status, answer = api.call("GET", "/declarations", query={"system": "DELTA_G", "next": "garbage"})
    assert (status, answer["error"]["code"]) == (422, "invalid_next_token")
    assert api.call("GET", "/declarations", query={"system": "NOPE"})[0] == 404


def test_during_an_outage_a_declaration_costs_one_write_not_two(ledger, submit_queue, board, clock):
    from ecluse.lodging import Lodging, validate
    from ecluse.systems import Source, Status, StatusChange

    writes = []

    class CountingLedger:
        def __getattr__(self, name):
            return getattr(ledger, name)

        def add(self, *args, **kwargs):
            writes.append(args[3])  # the hold reason
            return ledger.add(*args, **kwargs)

    lodging = Lodging(CountingLedger(), submit_queue, clock)
    board.change("DELTA_G", StatusChange(Status.UNAVAILABLE, Source.OPERATOR, by="test"), clock.now())
    states = [lodging.lodge(validate(declaration_body()), LOCAL).record.state.value for _ in range(3)]
    assert states == ["QUEUED"] * 3
    assert len(writes) == 4  # one refused fast path, then straight to the queue
    board.change("DELTA_G", StatusChange(Status.AVAILABLE, Source.OPERATOR, by="test"), clock.now())
    clock.advance(seconds=6)
    assert lodging.lodge(validate(declaration_body()), LOCAL).record.state.value == "QUEUED"  # behind the backlog


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api, content_type):
    answer = api.invoke(
        "POST", "/declarations", text=json.dumps(declaration_body()), headers={"Content-Type": content_type}
    )
    assert answer["statusCode"] == 415
    assert json.loads(answer["body"])["error"]["code"] == "unsupported_media_type"
