"""Events for the ERP: the tables' change streams (moto) through the publish function to the bus, read
back through a rule and a queue subscribed to it, as an ERP's own target would."""

from __future__ import annotations

import json
import threading

import boto3
import pytest

from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.factories import cognito_client, declaration_body


@pytest.fixture
def listener(aws):
    """A queue that receives every event on the bus."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = aws.env("publish")["EVENT_BUS_NAME"]
    url = sqs.create_queue(QueueName="erp-listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="everything", EventBusName=bus, EventPattern=json.dumps({"source": ["ecluse"]}))
    events.put_targets(Rule="everything", EventBusName=bus, Targets=[{"Id": "listener", "Arn": arn}])

    def received() -> list[dict]:
        found = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return received


def _changes(table: str) -> list[dict]:
    """Every record of the table's stream, oldest first (what the event source mapping delivers)."""
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            records += answer["Records"]
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return records


def test_a_held_then_released_declaration_and_its_system_tell_every_change_in_order(api, aws, sqs, listener):
    customs = SimulatedCustoms()
    server = serve(customs)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        release = load("release", {**aws.env("release"), "RELEASE_RUN_SECONDS": "0"})
        submit = load("submit", {**aws.env("submit"), "CUSTOMS_GATEWAY_URL": url})
        publish = load("publish", aws.env("publish"))
        api.call(
            "PUT",
            "/systems/DELTA_G/status",
            {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"},
        )
        lrn = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
        api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE", "source": "CID_ALERT"})
        release.lambda_handler({}, LambdaContext())
        queue = aws.env("api")["SUBMIT_QUEUE_URL"]
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
        submit.lambda_handler({"Records": [_sqs_record(m, queue) for m in messages]}, LambdaContext())
    finally:
        server.shutdown()
    for table in (aws.env("api")["DECLARATIONS_TABLE"], aws.env("api")["SYSTEMS_TABLE"]):
        assert publish.lambda_handler({"Records": _changes(table)}, LambdaContext()) == {"batchItemFailures": []}
    told = listener()
    declaration = [e["detail"] for e in told if e["detail-type"] == "Declaration State Changed"]
    assert [(d["previous_state"], d["state"]) for d in declaration] == [
        ("RECEIVED", "QUEUED"), ("QUEUED", "RELEASED"), ("RELEASED", "SUBMITTED"), ("SUBMITTED", "ACCEPTED"),
    ]  # fmt: skip
    assert {(d["lrn"], d["declarant"]) for d in declaration} == {(lrn, "local")}  # whose: route it to its ERP
    assert [d["by"] for d in declaration] == ["local", "ecluse:release", "ecluse:submit", "ecluse:submit"]
    assert declaration[-1]["mrn"] == customs.received[0].outcome.mrn
    assert [d["sequence"] for d in declaration] == sorted(d["sequence"] for d in declaration)
    system = [e["detail"] for e in told if e["detail-type"] == "System Status Changed"]
    assert [(s["previous_status"], s["status"], s["mode"], s["source"], s["by"]) for s in system] == [
        (None, "UNAVAILABLE", "HOLDING", "CID_ALERT", "local"),
        ("UNAVAILABLE", "AVAILABLE", "DRAINING", "CID_ALERT", "local"),
    ]
    assert all(e["source"] == "ecluse" for e in told)


def test_an_event_that_cannot_be_told_is_retried_from_there_and_nothing_after_it_overtakes(api, aws, listener):
    refusing = {"on": True}

    def refuse(**_: object) -> None:
        if refusing["on"]:
            raise ConnectionError("EventBridge unreachable")

    session = boto3.setup_default_session(region_name="eu-west-3") or boto3.DEFAULT_SESSION
    session.events.register("before-call.events.PutEvents", refuse)
    try:
        publish = load("publish", aws.env("publish"))
    finally:
        boto3.DEFAULT_SESSION = None
    api.call("POST", "/declarations", declaration_body())
    api.call("POST", "/declarations", declaration_body())
    records = _changes(aws.env("api")["DECLARATIONS_TABLE"])
    answer = publish.lambda_handler({"Records": records}, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert listener() == []  # the second was not told before the first
    refusing["on"] = False
    assert publish.lambda_handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    assert len(listener()) == 2


class _Receiver:
    """An ERP's webhook endpoint on the loopback: every envelope it is POSTed, in arrival order."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"


def _two_erps_and_an_outage_told_to_a_webhook(api, aws, declarant: str) -> list[dict]:
    """erp-a and erp-b each lodge while CDS is down; the changes go through the publish function to a
    webhook built as make run builds it, with the template's own rule for `declarant`."""
    from local.event_sources import Webhook
    from local.infra import event_pattern

    receiver = _Receiver()
    try:
        pattern = event_pattern("WebhookRule", {"ErpWebhookUrl": receiver.url, "ErpWebhookDeclarant": declarant})
        bus = aws.env("publish")["EVENT_BUS_NAME"]
        webhook = Webhook(boto3.Session(region_name="eu-west-3"), bus, receiver.url, pattern)
        api.call("PUT", "/systems/CDS/status", {"status": "UNAVAILABLE", "reference": "HMRC incident 1234"})
        for erp in ("erp-a", "erp-b"):
            answer = api.as_(cognito_client(erp)).call("POST", "/declarations", declaration_body(system="CDS"))
            assert answer[0] == 202, answer
        publish = load("publish", aws.env("publish"))
        for table in (aws.env("api")["DECLARATIONS_TABLE"], aws.env("api")["SYSTEMS_TABLE"]):
            assert publish.lambda_handler({"Records": _changes(table)}, LambdaContext()) == {"batchItemFailures": []}
        while webhook.deliver():
            pass
    finally:
        receiver.server.shutdown()
    return receiver.received


def test_a_webhook_is_told_of_its_own_erps_declarations_and_of_every_systems_status(api, aws):
    told = _two_erps_and_an_outage_told_to_a_webhook(api, aws, declarant="erp-a")
    declarations = [e["detail"] for e in told if e["detail-type"] == "Declaration State Changed"]
    assert [(d["declarant"], d["state"]) for d in declarations] == [("erp-a", "QUEUED")]  # never erp-b's
    systems = [e["detail"] for e in told if e["detail-type"] == "System Status Changed"]
    assert [(s["system"], s["status"]) for s in systems] == [("CDS", "UNAVAILABLE")]


def test_a_webhook_for_every_declarant_is_told_of_every_erps_declarations(api, aws):
    told = _two_erps_and_an_outage_told_to_a_webhook(api, aws, declarant="*")
    declarations = [e["detail"] for e in told if e["detail-type"] == "Declaration State Changed"]
    assert sorted(d["declarant"] for d in declarations) == ["erp-a", "erp-b"]
    assert [e["detail"]["status"] for e in told if e["detail-type"] == "System Status Changed"] == ["UNAVAILABLE"]
