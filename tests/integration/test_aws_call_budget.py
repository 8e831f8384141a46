"""AWS calls one declaration costs, counted with a botocore hook on the handlers' own clients."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.conftest import ApiClient
from tests.factories import declaration_body


@pytest.fixture
def counted(aws):
    calls: Counter = Counter()
    session = boto3.setup_default_session(region_name="eu-west-3") or boto3.DEFAULT_SESSION
    session.events.register("before-call", lambda model, **_: calls.update([model.name]))
    customs = SimulatedCustoms()
    server = serve(customs)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    environment = {**aws.env("submit"), "CUSTOMS_GATEWAY_URL": url}
    api = ApiClient(load("api", environment))
    submit = load("submit", environment)
    release = load("release", {**environment, "RELEASE_RUN_SECONDS": "0"})
    yield calls, api, submit, release
    server.shutdown()
    boto3.DEFAULT_SESSION = None


def _submit_all(calls, submit, sqs, url):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    calls.clear()  # the test's own receive is Lambda's event source mapping's work, not the function's
    submit.lambda_handler({"Records": [_sqs_record(m, url) for m in messages]}, LambdaContext())


def test_fast_path_costs_five_calls_and_a_shared_circuit_read(counted, sqs, aws):
    calls, api, submit, _ = counted
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    api.call("POST", "/declarations", declaration_body())
    assert calls == {"TransactWriteItems": 1, "SendMessage": 1}  # the API: record + route, enqueue
    api.call("POST", "/declarations", declaration_body())
    api.call("POST", "/declarations", declaration_body())
    _submit_all(calls, submit, sqs, url)
    # per declaration: read it, move to SUBMITTED (with the status gate), record the answer;
    # the circuit's state is read once and cached for five seconds by Powertools
    assert calls == {"GetItem": 3 + 1, "TransactWriteItems": 3, "UpdateItem": 3}


def test_held_then_released_declaration_costs_two_more_calls_each(counted, sqs, aws):
    calls, api, _submit, release = counted
    api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE"})
    for _ in range(10):
        api.call("POST", "/declarations", declaration_body())
    api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE"})
    calls.clear()
    release.lambda_handler({}, LambdaContext())
    # per run: all statuses; the stale sweep; what the system has RELEASED (sent again before any younger
    # one); one backlog page per slice of ten; take and give back the lease
    per_run = {"BatchGetItem": 1, "Query": 3, "UpdateItem": 2}
    per_declaration = {"TransactWriteItems": 10, "SendMessage": 10}  # move + counter + bucket; the send
    assert calls == {**per_run, **per_declaration}
