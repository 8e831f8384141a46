"""The fallback procedure through the API, the release and the submitter (moto; simulated customs)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.factories import declaration_body


class Stack:
    """The three handlers on one moto account, with the simulated customs behind the HTTP gateway."""

    def __init__(self, aws, api) -> None:
        self.api = api
        self.customs = SimulatedCustoms()
        self._server = serve(self.customs)
        environment = {
            **aws.env("submit"),
            "CUSTOMS_GATEWAY_URL": f"http://127.0.0.1:{self._server.server_address[1]}",
            "RELEASE_RUN_SECONDS": "0",
        }
        self.submit = load("submit", environment)
        self.release = load("release", environment)
        import boto3

        self.sqs, self.url = boto3.client("sqs"), aws.env("api")["SUBMIT_QUEUE_URL"]

    def status(self, system, status, source="OPERATOR", reference=None, **extra):
        code, answer = self.api.call(
            "PUT", f"/systems/{system}/status", {"status": status, "source": source, "reference": reference, **extra}
        )
        assert code == 200, answer
        return answer

    def lodge(self, **overrides):
        code, answer = self.api.call("POST", "/declarations", declaration_body(**overrides))
        assert code == 202, answer
        return answer

    def get(self, lrn):
        return self.api.call("GET", f"/declarations/{lrn}")[1]

    def drain(self):
        for _ in range(50):
            self.release.lambda_handler({}, LambdaContext())
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not messages:
                return
            self.submit.lambda_handler({"Records": [_sqs_record(m, self.url) for m in messages]}, LambdaContext())
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def close(self):
        self._server.shutdown()


@pytest.fixture
def stack(aws, api):
    running = Stack(aws, api)
    yield running
    running.close()


def test_cid_alert_urgent_declaration_goes_to_the_fallback_and_is_reintegrated_with_its_marks(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID", reason="incident DELTA G")
    urgent = stack.lodge(urgent=True)
    waiting = stack.lodge()
    assert urgent["state"] == "EMERGENCY"  # switched at once: the policy allows it, the alert is evidence
    assert waiting["state"] == "QUEUED"
    shown = stack.get(urgent["lrn"])
    assert shown["marks"] == ["F5000"]
    assert shown["references"] == ["1PDS Alerte CID"]
    assert shown["fallback"]["mode"] == "document"

    code, document = stack.api.call("GET", f"/declarations/{urgent['lrn']}/fallback-document")
    assert code == 200
    assert document["annex"] == "2"
    assert document["title"] == "Code F5000 procédure de secours"
    fields = {f["label"]: f["value"] for s in document["sections"] for f in s["fields"]}
    assert fields["Numéro de référence interne (LRN)"] == urgent["lrn"]
    assert fields["Référence(s) complémentaire(s)"] == "1PDS Alerte CID"
    assert fields["Mention(s) spéciale(s)"] == "F5000"
    assert fields["Bureau de déclaration"] == "FR000730"
    assert fields["Importateur (SIREN et adresse)"] is None  # left for completion by hand

    _, system = stack.api.call("GET", "/systems/DELTA_G")
    assert (system["held"], system["emergency"]) == (1, 1)
    stack.status("DELTA_G", "AVAILABLE", "CID_ALERT", "fin d'alerte")
    stack.drain()
    reintegrated, normal = stack.get(urgent["lrn"]), stack.get(waiting["lrn"])
    assert (reintegrated["state"], normal["state"]) == ("ACCEPTED", "ACCEPTED")
    assert reintegrated["marks"] == ["F5000"]
    assert reintegrated["references"][0] == "1PDS Alerte CID"
    assert reintegrated["references"][1].startswith("clearance date ")
    received = {r.lrn: r for r in stack.customs.received}
    assert received[urgent["lrn"]].marks == ("F5000",)  # customs got the marks with the re-integration
    assert [r.lrn for r in stack.customs.received] == [urgent["lrn"], waiting["lrn"]]  # receipt order
    _, system = stack.api.call("GET", "/systems/DELTA_G")
    deadline = datetime.fromisoformat(system["reintegration_deadline"])
    assert deadline - datetime.fromisoformat(system["outage_ended_at"]) == timedelta(hours=24)


def test_fallback_pdf_reads_back_with_marks_and_fields(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    lrn = stack.lodge(urgent=True)["lrn"]
    path = f"/declarations/{lrn}/fallback-document"
    by_query = stack.api.invoke("GET", path, query={"format": "pdf"})
    answer = stack.api.invoke("GET", path, headers={"Accept": "application/pdf"})
    for pdf_answer in (by_query, answer):
        assert pdf_answer["statusCode"] == 200
        assert pdf_answer["multiValueHeaders"]["Content-Type"] == ["application/pdf"]
    assert answer["isBase64Encoded"] is True  # API Gateway returns it as binary (BinaryMediaTypes)
    import base64

    pdf = base64.b64decode(answer["body"])
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Code F5000 procédure de secours" in text
    assert "Bureau de douane : FR000730" in text
    assert f"Numéro de référence interne (LRN) : {lrn}" in text
    assert "Référence(s) complémentaire(s) : 1PDS Alerte CID" in text
    assert "Masse brute totale : 1250.5 kg" in text
    assert "Marchandises (désignation, code CUS et numéro d'ordre du contingent) : Laptops - 8471300000" in text
    assert "Date et heure d'établissement de la déclaration :" in text
    assert "Signature du déclarant" in text


def test_self_triggered_outage_needs_the_da_number(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "SELF_TRIGGERED", None, reason="cannot validate")
    lrn = stack.lodge(urgent=True)["lrn"]
    assert stack.get(lrn)["state"] == "QUEUED"  # not switched: no evidence yet
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "fallback_evidence_missing")
    assert "assistance request" in answer["error"]["message"]
    stack.status("DELTA_G", "UNAVAILABLE", "SELF_TRIGGERED", "DA-2025-1042")
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/emergency", {})
    assert code == 200
    assert (answer["state"], answer["references"]) == ("EMERGENCY", ["1PDS DA-2025-1042"])
    assert stack.api.call("POST", f"/declarations/{lrn}/emergency", {})[1]["state"] == "EMERGENCY"  # idempotent


def test_refusals_name_what_to_do(stack):
    sent = stack.lodge()["lrn"]
    code, answer = stack.api.call("POST", f"/declarations/{sent}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "already_lodged")
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    code, answer = stack.api.call("POST", f"/declarations/{sent}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "already_lodged")  # validated before the alert
    assert stack.api.call("POST", "/declarations/NOPE-9/emergency", {})[0] == 404
    held_cds = stack.lodge(system="CDS")["lrn"]  # CDS available: not even held
    code, answer = stack.api.call("POST", f"/declarations/{held_cds}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "already_lodged")
    stack.status("ICS2", "UNAVAILABLE", "OPERATOR", "ticket")
    ics = stack.lodge(system="ICS2")["lrn"]
    assert stack.api.call("POST", f"/declarations/{ics}/emergency", {})[1]["error"]["code"] == "fallback_not_allowed"
    code, answer = stack.api.call("GET", f"/declarations/{ics}/fallback-document")
    assert (code, answer["error"]["code"]) == (409, "not_in_fallback")
    assert f"POST /declarations/{ics}/emergency" in answer["error"]["message"]  # the route to call, not a template
    assert stack.api.call("POST", f"/declarations/{ics}/emergency", {"mode": "teleport"})[0] == 422


def test_fallback_not_yet_authorised(stack):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID", authorised_from=later)
    lrn = stack.lodge(urgent=True)["lrn"]
    assert stack.get(lrn)["state"] == "QUEUED"
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "fallback_not_yet_authorised")


def test_bulk_switch_of_a_system(stack):
    stack.status("DELTA_X", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    plain = [stack.lodge(system="DELTA_X")["lrn"] for _ in range(2)]
    code, answer = stack.api.call("POST", "/systems/DELTA_X/emergency", {"urgent_only": False, "limit": 10})
    assert code == 200
    assert answer == {"switched": plain, "refused": []}
    assert stack.api.call("POST", "/systems/NOPE/emergency", {})[0] == 404


def test_physical_control_holds_reintegration_until_release_and_adds_f5200(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    lrn = stack.lodge(urgent=True)["lrn"]
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/physical-control", {"released_at": None})
    assert (code, answer["fallback"]["awaiting_release_after_control"]) == (200, True)
    stack.status("DELTA_G", "AVAILABLE", "CID_ALERT")
    stack.drain()
    assert stack.get(lrn)["state"] == "EMERGENCY"  # not before the goods are released after the control
    released = datetime.now(UTC).isoformat()
    stack.api.call("POST", f"/declarations/{lrn}/physical-control", {"released_at": released})
    stack.drain()
    shown = stack.get(lrn)
    assert shown["state"] == "ACCEPTED"
    assert shown["marks"] == ["F5000", "F5200"]
    assert stack.api.call("POST", "/declarations/NOPE-1/physical-control", {"released_at": None})[0] == 404


def test_expired_anticipated_declaration_is_to_be_redeclared_not_sent(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    expired = stack.lodge(
        anticipated=True, anticipation_expires_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    )["lrn"]
    still = stack.lodge(anticipated=True, anticipation_expires_at=(datetime.now(UTC) + timedelta(days=3)).isoformat())[
        "lrn"
    ]
    import time

    time.sleep(1.1)
    stack.status("DELTA_G", "AVAILABLE", "CID_ALERT")
    stack.drain()
    redeclare = stack.get(expired)
    assert redeclare["state"] == "REDECLARE"
    assert "anticipation period ended" in redeclare["history"][-1]["detail"]
    assert stack.get(still)["state"] == "ACCEPTED"
    assert [r.lrn for r in stack.customs.received] == [still]


def test_record_in_books_for_oea_refused_for_restricted_goods_and_quotas(stack):
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    plain = stack.lodge()["lrn"]
    restricted = stack.lodge(documents=[{"code": "C640", "reference": "CHED-1"}])["lrn"]
    body = declaration_body()
    body["items"][0]["quota_order_number"] = "090001"
    quota = stack.api.call("POST", "/declarations", body)[1]["lrn"]
    books = {"mode": "record_in_books", "oea_authorisation": "FRAEOC000123"}
    assert stack.api.call("POST", f"/declarations/{plain}/emergency", {"mode": "record_in_books"})[0] == 422
    code, answer = stack.api.call("POST", f"/declarations/{restricted}/emergency", books)
    assert (code, answer["error"]["code"]) == (409, "record_in_books_refused_restricted_goods")
    code, answer = stack.api.call("POST", f"/declarations/{quota}/emergency", books)
    assert (code, answer["error"]["code"]) == (409, "record_in_books_refused_tariff_quota")
    code, answer = stack.api.call("POST", f"/declarations/{plain}/emergency", books)
    assert (code, answer["fallback"]["mode"]) == (200, "record_in_books")
    # the restricted one may still use the fallback document
    assert stack.api.call("POST", f"/declarations/{restricted}/emergency", {})[1]["state"] == "EMERGENCY"


def test_restricted_goods_fallback_goes_back_before_declarations_held_earlier(stack):
    """FR-DGDDI-SECOURS-DELTA-IMPORT, fiche 2 étape 4: fallback declarations of goods under restrictions (GUN)
    are re-integrated in chronological order and before any new declaration; a held one is new to customs."""
    stack.status("DELTA_G", "UNAVAILABLE", "CID_ALERT", "Alerte CID")
    held = stack.lodge()["lrn"]
    restricted = stack.lodge(urgent=True, documents=[{"code": "C640", "reference": "CHED-1"}])
    assert restricted["state"] == "EMERGENCY"
    stack.status("DELTA_G", "AVAILABLE", "CID_ALERT", "fin d'alerte")
    stack.drain()
    assert [r.lrn for r in stack.customs.received] == [restricted["lrn"], held]
    assert stack.get(held)["state"] == "ACCEPTED"


def test_without_that_rule_fallback_declarations_go_back_in_receipt_order(stack):
    stack.status("ATLAS", "UNAVAILABLE", "OPERATOR", "ticket 4711")
    held = stack.lodge(system="ATLAS", customs_office="DE004800")["lrn"]
    switched = stack.lodge(system="ATLAS", customs_office="DE004800", urgent=True)
    assert switched["state"] == "EMERGENCY"
    stack.status("ATLAS", "AVAILABLE", "OPERATOR")
    stack.drain()
    assert [r.lrn for r in stack.customs.received] == [held, switched["lrn"]]


def test_planned_maintenance_at_a_buffering_authority_keeps_lodging(stack):
    stack.status("DMS_NL", "UNAVAILABLE", "MAINTENANCE", "maintenance 12-10 08:00-16:00")
    answer = stack.lodge(system="DMS_NL", customs_office="NL000396")
    assert answer["state"] == "RELEASED"
    _, system = stack.api.call("GET", "/systems/DMS_NL")
    assert (system["status"], system["mode"]) == ("UNAVAILABLE", "NORMAL")
    stack.drain()
    assert stack.get(answer["lrn"])["state"] == "ACCEPTED"


def test_planned_maintenance_in_france_holds(stack):
    stack.status("DELTA_T", "UNAVAILABLE", "MAINTENANCE", "livraison 5.6.4")
    assert stack.lodge(system="DELTA_T")["state"] == "QUEUED"


def test_unplanned_outage_at_a_buffering_authority_still_holds(stack):
    stack.status("DMS_NL", "UNAVAILABLE", "OPERATOR", "incident 14-10")
    lrn = stack.lodge(system="DMS_NL", customs_office="NL000396")["lrn"]
    assert stack.get(lrn)["state"] == "QUEUED"
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "fallback_urgent_only")


def test_irish_outage_keeps_lodging(stack):
    stack.status("AIS", "UNAVAILABLE", "OPERATOR", "Revenue network maintenance")
    assert stack.lodge(system="AIS", customs_office="IE000001")["state"] == "RELEASED"


def test_belgian_fallback_needs_the_call_number(stack):
    stack.status("PLDA", "UNAVAILABLE", "OPERATOR", "called the helpdesk")
    lrn = stack.lodge(system="PLDA", customs_office="BE000100")["lrn"]
    code, answer = stack.api.call("POST", f"/declarations/{lrn}/emergency", {})
    assert (code, answer["error"]["code"]) == (409, "fallback_evidence_missing")
    assert "N04737-D:20250613-T170000" in answer["error"]["message"]
    stack.status("PLDA", "UNAVAILABLE", "OPERATOR", "N04737-D:20250613-T170000")
    assert stack.api.call("POST", f"/declarations/{lrn}/emergency", {})[1]["references"] == [
        "N04737-D:20250613-T170000"
    ]
