"""The gateway token through the submit handler: read from SSM (moto) on each call through Powertools'
cache, read afresh after a 401, and a refusal that persists is a configuration problem, not an outage."""

from __future__ import annotations

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.factories import declaration_body

TOKEN_PARAMETER = "/ecluse/customs-gateway-token"


@pytest.fixture(autouse=True)
def _fresh_caches():
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.circuit_breaker import base

    parameters.clear_caches()
    for counters in (base._LOCAL_FAILURES, base._LOCAL_SUCCESSES, base._LAST_OBSERVED_STATE):
        counters.clear()
    yield
    parameters.clear_caches()


@pytest.fixture
def customs():
    sim = SimulatedCustoms()
    server = serve(sim)
    yield sim, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def ssm(aws):
    return boto3.client("ssm")


@pytest.fixture
def submit(aws, customs, ssm):
    sim, url = customs
    ssm.put_parameter(Name=TOKEN_PARAMETER, Value="first", Type="SecureString")
    sim.token = "first"
    environment = {"CUSTOMS_GATEWAY_URL": url, "CUSTOMS_GATEWAY_TOKEN_PARAMETER": TOKEN_PARAMETER}
    return load("submit", {**aws.env("submit"), **environment, "RETRY_BASE_SECONDS": "0"})


def _deliver_all(submit, sqs, url):
    """One receive and one invocation; what succeeded is deleted, as the event source mapping does."""
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    answer = submit.lambda_handler(
        {"Records": [_sqs_record(m, url) for m in messages]}, LambdaContext(function_name="submit")
    )
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return answer


def test_a_rotated_token_is_picked_up_on_the_next_call(api, submit, customs, ssm, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    first = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    assert _deliver_all(submit, sqs, url) == {"batchItemFailures": []}
    # the token is rotated: the parameter holds the new one, the gateway accepts only it
    ssm.put_parameter(Name=TOKEN_PARAMETER, Value="second", Type="SecureString", Overwrite=True)
    sim.token = "second"
    second = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    assert _deliver_all(submit, sqs, url) == {"batchItemFailures": []}
    assert [r.lrn for r in sim.received] == [first, second]
    assert api.call("GET", f"/declarations/{second}")[1]["state"] == "ACCEPTED"


def test_a_token_the_gateway_refuses_does_not_hold_the_system_as_if_customs_were_down(
    api, submit, customs, ssm, sqs, aws
):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    sim.token = "one-nobody-configured"
    lrns = [api.call("POST", "/declarations", declaration_body(system="CDS"))[1]["lrn"] for _ in range(4)]
    for _ in range(4):  # more refusals in a row than the circuit's threshold of three (no back-off here)
        with pytest.raises(BatchProcessingError):
            _deliver_all(submit, sqs, url)
    _, system = api.call("GET", "/systems/CDS")
    assert (system["status"], system["mode"]) == ("AVAILABLE", "NORMAL")
    _, shown = api.call("GET", f"/declarations/{lrns[0]}")
    assert shown["state"] == "SUBMITTED"
    assert "gateway_refused_credentials" in shown["history"][-1]["detail"]
    assert sim.received == []
