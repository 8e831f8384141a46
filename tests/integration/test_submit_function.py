"""The submit Lambda handler fed real SQS messages, lodging over HTTP with the simulated customs system."""

from __future__ import annotations

import json
import time

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.functions import LambdaContext, load
from local.simulated import SimulatedCustoms, serve
from local.stack import _sqs_record
from tests.factories import declaration_body


@pytest.fixture
def customs():
    sim = SimulatedCustoms()
    server = serve(sim)
    yield sim, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def submit(aws, customs):
    _, url = customs
    return load(
        "submit",
        {
            **aws.env("submit"),
            "CUSTOMS_GATEWAY_URL": url,
            "CUSTOMS_GATEWAY_TIMEOUT_SECONDS": "2",
            "MAX_SENDING_ATTEMPTS": "4",
        },
    )


def _receive(sqs, url):
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    return answer.get("Messages", [])


def _deliver(submit, messages, url):
    event = {"Records": [_sqs_record(m, url) for m in messages]}
    return submit.lambda_handler(event, LambdaContext(function_name="submit"))


def test_batch_is_lodged_in_order_and_acknowledged(api, submit, customs, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    lrns = [api.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(3)]
    result = _deliver(submit, _receive(sqs, url), url)
    assert result == {"batchItemFailures": []}
    assert [r.lrn for r in sim.received] == lrns
    for lrn, received in zip(lrns, sim.received, strict=True):
        _, shown = api.call("GET", f"/declarations/{lrn}")
        assert shown["state"] == "ACCEPTED"
        assert shown["mrn"] == received.outcome.mrn


def test_failing_system_does_not_hold_back_another(api, submit, customs, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    sim.set_outage("DELTA_G", "server_error")
    delta = [api.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(2)]
    cds = api.call("POST", "/declarations", declaration_body(system="CDS"))[1]["lrn"]
    messages = _receive(sqs, url)
    result = _deliver(submit, messages, url)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    by_id = {m["MessageId"]: json.loads(m["Body"])["lrn"] for m in messages}
    assert {by_id[i] for i in failed} == set(delta)
    assert [r.lrn for r in sim.received] == [cds]
    _, first = api.call("GET", f"/declarations/{delta[0]}")
    _, second = api.call("GET", f"/declarations/{delta[1]}")
    assert first["state"] == "SUBMITTED"  # tried, answer pending: visible
    assert second["state"] == "RELEASED"  # skipped behind it to keep the order


def test_redelivered_message_after_success_lodges_once(api, submit, customs, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    api.call("POST", "/declarations", declaration_body())
    messages = _receive(sqs, url)
    _deliver(submit, messages, url)
    _deliver(submit, messages, url)  # SQS at-least-once: the same message again
    assert len(sim.attempts) == 1


def test_connection_refused_is_a_retryable_sending_error(api, aws, sqs):
    submit = load(
        "submit",
        {
            **aws.env("submit"),
            "CUSTOMS_GATEWAY_URL": "http://127.0.0.1:9",
            "CUSTOMS_GATEWAY_TIMEOUT_SECONDS": "1",
        },
    )
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    lrn = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    messages = _receive(sqs, url)
    with pytest.raises(BatchProcessingError):  # Lambda then returns the whole batch to the queue
        _deliver(submit, messages, url)
    _, shown = api.call("GET", f"/declarations/{lrn}")
    assert shown["state"] == "SUBMITTED"
    assert "connection_failed" in shown["history"][-1]["detail"]


class _Countdown:
    """A Lambda context whose remaining time drops by `step_ms` each time it is asked."""

    def __init__(self, remaining_ms: int, step_ms: int) -> None:
        self.remaining, self.step = remaining_ms, step_ms
        self.function_name, self.memory_limit_in_mb, self.aws_request_id = "submit", 512, "countdown"
        self.invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:submit"

    def get_remaining_time_in_millis(self) -> int:
        self.remaining -= self.step
        return self.remaining


def test_a_batch_starts_no_declaration_it_cannot_finish(api, submit, customs, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    lrns = [api.call("POST", "/declarations", declaration_body())[1]["lrn"] for _ in range(3)]
    messages = _receive(sqs, url)
    needed = submit.settings.milliseconds_per_declaration
    # time for the first one only: the other two are left for the next invocation, untried
    context = _Countdown(needed + 2_000, 1_500)
    event = {"Records": [_sqs_record(m, url) for m in messages]}
    result = submit.lambda_handler(event, context)
    assert len(result["batchItemFailures"]) == 2
    assert [r.lrn for r in sim.received] == lrns[:1]
    for lrn in lrns[1:]:
        _, shown = api.call("GET", f"/declarations/{lrn}")
        assert (shown["state"], shown["attempts"]) == ("RELEASED", 0)
    postponed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for message in messages:  # acknowledged as Lambda's event source mapping does
        if message["MessageId"] not in postponed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    time.sleep(0.1)
    assert len(_receive(sqs, url)) == 2  # back at once, not after a back-off


def test_the_retry_budget_is_what_the_ledger_counts_not_how_often_sqs_delivered(api, submit, customs, sqs, aws):
    sim, _ = customs
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    sim.set_outage("DELTA_G", "server_error")
    lrn = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    [record] = [_sqs_record(m, url) for m in _receive(sqs, url)]
    record["attributes"]["ApproximateReceiveCount"] = "7"  # postponed and skipped before: nothing sent
    with pytest.raises(BatchProcessingError):
        submit.lambda_handler({"Records": [record]}, LambdaContext(function_name="submit"))
    _, shown = api.call("GET", f"/declarations/{lrn}")
    assert (shown["state"], shown["attempts"]) == ("SUBMITTED", 1)  # one call to customs of four allowed


def test_a_declaration_that_spent_its_budget_is_failed_and_dead_lettered(api, aws, sqs, customs):
    sim, url_customs = customs
    submit = load(
        "submit",
        {
            **aws.env("submit"),
            "CUSTOMS_GATEWAY_URL": url_customs,
            "CUSTOMS_GATEWAY_TIMEOUT_SECONDS": "2",
            "MAX_SENDING_ATTEMPTS": "2",
            "RETRY_BASE_SECONDS": "0",
            "CIRCUIT_FAILURE_THRESHOLD": "10",
        },
    )
    url = aws.env("api")["SUBMIT_QUEUE_URL"]
    sim.set_outage("DELTA_G", "server_error")
    lrn = api.call("POST", "/declarations", declaration_body())[1]["lrn"]
    with pytest.raises(BatchProcessingError):
        _deliver(submit, _receive(sqs, url), url)
    messages = _receive(sqs, url)
    assert _deliver(submit, messages, url) == {"batchItemFailures": []}  # done with: acknowledged
    _, shown = api.call("GET", f"/declarations/{lrn}")
    assert (shown["state"], shown["attempts"]) == ("FAILED", 2)
    dead = _receive(sqs, aws.env("submit")["SUBMIT_DEAD_LETTER_QUEUE_URL"])
    assert [json.loads(m["Body"])["lrn"] for m in dead] == [lrn]
