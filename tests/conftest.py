"""Shared fixtures. AWS is moto, its resources created from template.yaml (local/infra.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.environment import offline_aws

offline_aws()

import local.functions  # noqa: E402 - `local` puts layers/ecluse on sys.path
from tests import aws_permissions  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402

# Before any test module imports `load`: every handler's AWS calls are recorded and checked against the
# template's policies (moto enforces no IAM), after each test.
aws_permissions.install()
local.functions.load = aws_permissions.tagging(local.functions.load)


@pytest.fixture(autouse=True)
def _aws_calls_are_granted_by_the_template() -> Iterator[None]:
    start = len(aws_permissions.calls)
    yield
    problems = aws_permissions.violations(aws_permissions.calls[start:])
    if problems:
        pytest.fail("AWS calls the template does not allow (AccessDenied on AWS):\n" + "\n".join(problems))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def aws() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from local import infra

    with mock_aws():
        yield infra.create(boto3.Session(region_name="eu-west-3"))


@pytest.fixture
def dynamodb(aws: Any) -> Any:
    import boto3

    return boto3.client("dynamodb")


@pytest.fixture
def sqs(aws: Any) -> Any:
    import boto3

    return boto3.client("sqs")


@pytest.fixture
def ledger(aws: Any, dynamodb: Any) -> Any:
    from ecluse.aws.dynamodb_ledger import DynamoDbLedger

    env = aws.env("api")
    return DynamoDbLedger(dynamodb, env["DECLARATIONS_TABLE"], env["SYSTEMS_TABLE"])


@pytest.fixture
def board(aws: Any, dynamodb: Any) -> Any:
    from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard

    return DynamoDbStatusBoard(dynamodb, aws.env("api")["SYSTEMS_TABLE"])


@pytest.fixture
def submit_queue(aws: Any, sqs: Any) -> Any:
    from ecluse.aws.sqs_submit_queue import SqsSubmitQueue

    return SqsSubmitQueue(sqs, aws.env("api")["SUBMIT_QUEUE_URL"])


def drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue (and removes them), in FIFO order."""
    messages: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        batch = answer.get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch


class ApiClient:
    """Calls the API Lambda handler with API Gateway REST events, as API Gateway would."""

    def __init__(self, module: Any, identity: dict[str, Any] | None = None) -> None:
        self.module = module
        self.identity = identity or {}  # where API Gateway puts the caller (tests.factories.cognito_client…)

    def as_(self, identity: dict[str, Any]) -> ApiClient:
        """The same API, called by another caller."""
        return ApiClient(self.module, identity)

    def invoke(
        self,
        method: str,
        path: str,
        *,
        text: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        stage_variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The handler's raw answer (status, headers, possibly base64 body); `stage_variables` as the API's
        stage hands them over (template.yaml, Api's Variables)."""
        from local.functions import LambdaContext

        headers = headers or {"Content-Type": "application/json"}
        event = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "stageVariables": stage_variables,
            "requestContext": {
                "requestId": "test",
                "stage": "test",
                "httpMethod": method,
                "path": path,
                "identity": {"sourceIp": "127.0.0.1"},
                **self.identity,
            },
            "body": text,
            "isBase64Encoded": False,
        }
        answer: dict[str, Any] = self.module.lambda_handler(event, LambdaContext(function_name="api"))
        return answer

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None, raw: str | None = None
    ) -> tuple[int, Any]:
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        answer = self.invoke(method, path, text=text, query=query)
        payload = answer.get("body")
        try:
            return answer["statusCode"], json.loads(payload) if payload else None
        except ValueError:
            return answer["statusCode"], payload


@pytest.fixture
def api(aws: Any) -> ApiClient:
    from local.functions import load

    return ApiClient(load("api", aws.env("api")))
