"""Inputs that once answered 500: each gets a 4xx with a code and a message that says what to fix
(docs/invariants.md, "Bad input is refused with a 4xx"), through the API handler against moto tables built
from the template."""

from __future__ import annotations

import pytest

from tests.factories import declaration_body


def _refused(answer, status, code):
    assert answer[0] == status, answer
    error = answer[1]["error"]
    assert set(error) == {"code", "message", "details"}
    codes = {error["code"], *(d["code"] for d in error["details"])}
    assert code in codes, error
    assert error["message"]
    return error


@pytest.mark.parametrize("lrn", [".", "..", "...", "%2e%2e", "a b", "x" * 23, "x" * 3000])
def test_fallback_document_of_an_lrn_that_cannot_exist_is_refused(api, lrn):
    error = _refused(api.call("GET", f"/declarations/{lrn}/fallback-document"), 422, "invalid_lrn")
    assert "letters, digits" in error["message"] + str(error["details"])


@pytest.mark.parametrize("lrn", [".", ".."])
def test_dot_segments_are_not_lrns(api, lrn):
    # passed through quote() into the gateway's URL, they are path segments that climb the tree
    _refused(api.call("POST", "/declarations", declaration_body(lrn=lrn)), 422, "invalid_lrn")
    _refused(api.call("GET", f"/declarations/{lrn}"), 422, "invalid_lrn")


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_date_that_leaves_the_calendar_once_in_utc_is_refused(api, moment):
    body = declaration_body(anticipated=True, anticipation_expires_at=moment)
    error = _refused(api.call("POST", "/declarations", body), 422, "date_out_of_range")
    assert any(d["field"] == "anticipation_expires_at" for d in error["details"])


def test_a_physical_control_date_out_of_range_is_refused(api):
    answer = api.call("POST", "/declarations/FR-1/physical-control", {"released_at": "0001-01-01T00:00:00+05:00"})
    _refused(answer, 422, "date_out_of_range")


def test_an_authorisation_time_out_of_range_is_refused(api):
    body = {"status": "UNAVAILABLE", "source": "CID_ALERT", "authorised_from": "0001-01-01T00:00:00+01:00"}
    _refused(api.call("PUT", "/systems/DELTA_G/status", body), 422, "date_out_of_range")


def test_an_oversized_native_message_is_refused_with_its_limit(api):
    body = declaration_body(message="x" * 1_000_001)  # the whole body is still within the 1 MiB limit
    error = _refused(api.call("POST", "/declarations", body), 422, "string_too_long")
    assert any(d["field"] == "message" for d in error["details"])


@pytest.mark.parametrize("raw", ["", "null"])
def test_a_lodging_without_a_body_says_to_send_one(api, raw):
    error = _refused(api.call("POST", "/declarations", raw=raw), 422, "invalid_body")
    assert error["details"] == [{"field": "body", "code": "invalid_body", "message": "send a JSON object as the body"}]
