"""Callers through the API handler as API Gateway invokes it with IAM auth (SigV4 signers, operators listed
in OperatorPrincipalArns): each ERP reaches its own declarations, operators all of them, and every manual
action records who did it and, when given, why; the reason itself never reaches the logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from local.functions import load
from tests.conftest import ApiClient
from tests.factories import declaration_body, iam_signer

ACCOUNT = "123456789012"
ACME = iam_signer(f"arn:aws:sts::{ACCOUNT}:assumed-role/erp-acme/sap-pi")
GLOBEX = iam_signer(f"arn:aws:sts::{ACCOUNT}:assumed-role/erp-globex/dynamics")
OPERATOR = iam_signer(f"arn:aws:sts::{ACCOUNT}:assumed-role/ecluse-operator/jdoe")
OUTAGE = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID", "reason": "DELTA G incident"}


@pytest.fixture
def iam_api(aws) -> ApiClient:
    """The API deployed with OperatorPrincipalArns naming the operators' role (with its path)."""
    environment = {**aws.env("api"), "OPERATOR_PRINCIPAL_ARNS": f"arn:aws:iam::{ACCOUNT}:role/people/ecluse-operator"}
    return ApiClient(load("api", environment))


def test_each_erp_reaches_its_own_and_an_operator_all(iam_api):
    acme, globex, operator = iam_api.as_(ACME), iam_api.as_(GLOBEX), iam_api.as_(OPERATOR)
    operator.call("PUT", "/systems/DELTA_G/status", OUTAGE)
    body = declaration_body()
    lrn = body["lrn"]
    before = globex.invoke("GET", f"/declarations/{lrn}")
    assert acme.call("POST", "/declarations", body)[0] == 202
    after = globex.invoke("GET", f"/declarations/{lrn}")
    assert (after["statusCode"], after["body"], after["multiValueHeaders"]) == (
        404,
        before["body"],
        before["multiValueHeaders"],
    )  # byte for byte the answer to an LRN nobody lodged
    assert globex.call("DELETE", f"/declarations/{lrn}")[0] == 404
    assert globex.call("GET", "/declarations", query={"system": "DELTA_G"})[1] == {"items": [], "next": None}
    shown = acme.call("GET", f"/declarations/{lrn}")[1]
    assert (shown["declarant"], shown["history"][0]["by"]) == (
        f"arn:aws:iam::{ACCOUNT}:role/erp-acme",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/erp-acme/sap-pi",
    )
    assert operator.call("GET", f"/declarations/{lrn}")[1]["lrn"] == lrn
    listed = operator.call("GET", "/declarations", query={"declarant": f"arn:aws:iam::{ACCOUNT}:role/erp-acme"})
    assert [d["lrn"] for d in listed[1]["items"]] == [lrn]


def test_the_same_lrn_from_two_erps_is_two_declarations_and_an_operator_says_whose(iam_api):
    acme, globex, operator = iam_api.as_(ACME), iam_api.as_(GLOBEX), iam_api.as_(OPERATOR)
    body = declaration_body()
    assert acme.call("POST", "/declarations", body)[0] == 202
    other = {**body, "gross_mass_kg": 2000.0}  # another body: not a conflict, another ERP's declaration
    assert globex.call("POST", "/declarations", other)[0] == 202
    assert acme.call("POST", "/declarations", other)[1]["error"]["code"] == "lrn_conflict"  # its own stays
    status, ambiguous = operator.call("GET", f"/declarations/{body['lrn']}")
    assert (status, ambiguous["error"]["code"]) == (409, "lrn_ambiguous")
    globex_role = f"arn:aws:iam::{ACCOUNT}:role/erp-globex"
    assert globex_role in ambiguous["error"]["message"]
    whose = operator.call("GET", f"/declarations/{body['lrn']}", query={"declarant": globex_role})[1]
    assert whose["declarant"] == globex_role


def test_manual_actions_record_who_and_why(iam_api):
    acme, operator = iam_api.as_(ACME), iam_api.as_(OPERATOR)
    jdoe = f"arn:aws:sts::{ACCOUNT}:assumed-role/ecluse-operator/jdoe"
    operator.call("PUT", "/systems/DELTA_G/status", OUTAGE)
    held = [acme.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(2)]
    cancelled = acme.call("DELETE", f"/declarations/{held[0]}", {"reason": "lodged twice by the ERP"})[1]
    assert (cancelled["history"][-1]["by"], cancelled["history"][-1]["reason"]) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/erp-acme/sap-pi",
        "lodged twice by the ERP",
    )
    bulk = {"urgent_only": False, "limit": 5, "reason": "quay closes"}
    switched = operator.call("POST", "/systems/DELTA_G/emergency", bulk)
    assert switched[1]["switched"] == [held[1]]
    entry = acme.call("GET", f"/declarations/{held[1]}")[1]["history"][-1]
    assert (entry["state"], entry["by"], entry["reason"]) == ("EMERGENCY", jdoe, "quay closes")
    release = {"rate_per_minute": 300, "burst": 30, "reason": "deadline at risk"}
    changed = operator.call("PUT", "/systems/DELTA_G/release", release)[1]
    assert changed["release"] == {"rate_per_minute": 300, "burst": 30, "paused": False}
    assert (changed["release_changed"]["by"], changed["release_changed"]["reason"]) == (jdoe, "deadline at risk")
    system = operator.call("GET", "/systems/DELTA_G")[1]
    assert (system["by"], system["history"][0]["by"], system["history"][0]["reason"]) == (
        jdoe,
        jdoe,
        "DELTA G incident",
    )


def test_a_reason_is_capped_and_unknown_fields_stay_refused(iam_api):
    acme = iam_api.as_(ACME)
    lrn = acme.call("POST", "/declarations", declaration_body())[1]["lrn"]
    status, refused = acme.call("DELETE", f"/declarations/{lrn}", {"reason": "x" * 501})
    assert (status, refused["error"]["details"][0]["field"]) == (422, "reason")
    assert "500 characters" in refused["error"]["details"][0]["message"]
    status, refused = acme.call("POST", f"/declarations/{lrn}/emergency", {"mode": "document", "because": "x"})
    assert (status, refused["error"]["code"]) == (422, "unknown_field")


def test_the_reason_is_kept_in_the_ledger_not_in_the_logs(iam_api):
    """A reason may name people (a driver, a customs officer): the log says one was given, never what."""
    logger, written = iam_api.module.logger, io.StringIO()
    handler = logging.StreamHandler(written)  # what the function writes to CloudWatch, as Powertools formats it
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    logger.setLevel("INFO")
    operator, acme = iam_api.as_(OPERATOR), iam_api.as_(ACME)
    secret = "driver Jean Dupont waiting at gate 4"
    operator.call("PUT", "/systems/DELTA_G/status", {**OUTAGE, "reason": secret})
    lrn = acme.call("POST", "/declarations", declaration_body())[1]["lrn"]
    acme.call("POST", f"/declarations/{lrn}/emergency", {"reason": secret})
    operator.call("PUT", "/systems/DELTA_G/release", {"rate_per_minute": 60, "burst": 10, "reason": secret})
    logger.removeHandler(handler)
    logged = written.getvalue()
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert {line["message"] for line in lines} >= {"system status changed", "switched to the fallback"}
    assert all(line["reason_given"] is True for line in lines if "reason_given" in line)
    assert "Jean Dupont" not in logged
    assert acme.call("GET", f"/declarations/{lrn}")[1]["history"][-1]["reason"] == secret


def test_a_person_signed_in_but_not_in_the_operators_group_gets_a_403_saying_what_to_ask_for(api):
    """COGNITO: an account an administrator created and did not put in the group (or took out of it)."""
    from tests.factories import cognito_user

    outsider = cognito_user("newcomer")
    outsider["authorizer"]["claims"]["cognito:groups"] = ""
    for method, path in (("GET", "/systems"), ("GET", "/declarations")):
        status, body = api.as_(outsider).call(method, path)
        assert status == 403
        assert body["error"]["code"] == "not_an_operator"
        assert "group" in body["error"]["message"]
    assert api.as_(cognito_user("newcomer")).call("GET", "/systems")[0] == 200  # once in the group


def test_a_signer_the_operator_policy_admits_but_the_stack_does_not_list_is_told_to_list_it(iam_api):
    """IAM auth: API Gateway let it through (the operator policy); the API would count it as an ERP."""
    unlisted = iam_api.as_(iam_signer(f"arn:aws:sts::{ACCOUNT}:assumed-role/night-shift/jdoe"))
    status, body = unlisted.call("GET", "/systems")
    assert (status, body["error"]["code"]) == (403, "not_an_operator")
    assert "OperatorPrincipalArns" in body["error"]["message"]
    assert iam_api.as_(OPERATOR).call("GET", "/systems")[0] == 200
    assert unlisted.call("POST", "/declarations", declaration_body())[0] == 202  # an ERP's route stays open
