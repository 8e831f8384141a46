"""Every AWS call a Lambda function makes in the suite, checked against that function's policy in template.yaml.

The embedded AWS (moto) enforces no IAM, so a call the template does not grant passes every test and fails
on AWS with AccessDenied. Here each call made while a handler loaded by `local.functions.load` runs (its
cold start or `lambda_handler`) is recorded with the IAM action(s) and resource it needs, and
`violations` compares them with the inline statements of the function's role in the translated
template. The resource is named in the template's terms through the function's environment: a table
name is the value of `DECLARATIONS_TABLE`, which the template sets to `!Ref DeclarationsTable`.

Managed policies are not counted (SAM's AWSLambdaSQSQueueExecutionRole grants SQS on `*`); statements
under `Fn::If` count as if their condition held (the call that needs them only happens when it does).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import botocore.client

REGION, ACCOUNT = "eu-west-3", "123456789012"
# botocore-stubs leave out the private method every client's call goes through, which `install` wraps
_CLIENT: Any = botocore.client.BaseClient
_invoking: ContextVar[str | None] = ContextVar("ecluse_invoking_function", default=None)
_lock = threading.Lock()
calls: list[Call] = []


@dataclass(frozen=True)
class Need:
    """One IAM action on one resource, the resource given as the environment variables holding its name."""

    action: str
    kind: str  # table, index, queue, parameter
    name: str
    variables: frozenset[str]
    index: str = ""


@dataclass(frozen=True)
class Call:
    function: str  # short name: api, submit, release
    operation: str
    needs: tuple[Need, ...]


# ------------------------------------------------------------------ recording


def _by_value(value: str) -> frozenset[str]:
    return frozenset(k for k, v in os.environ.items() if v == value)


def _table(action: str, table: str, index: str | None = None) -> Need:
    return Need(f"dynamodb:{action}", "index" if index else "table", table, _by_value(table), index or "")


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
# SQS batch operations are authorised by their single-message action
_SQS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def needs(service: str, operation: str, params: Mapping[str, Any]) -> tuple[Need, ...]:
    """The IAM actions and resources an API call needs (https://docs.aws.amazon.com/service-authorization/)."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            parts = [part for item in params["TransactItems"] for part in item.items()]
            return tuple(_table(_TRANSACT[kind], part["TableName"]) for kind, part in parts)
        if operation == "TransactGetItems":
            return tuple(_table("GetItem", item["Get"]["TableName"]) for item in params["TransactItems"])
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return tuple(_table(operation, table) for table in params["RequestItems"])
        return (_table(operation, params["TableName"], params.get("IndexName")),)
    if service == "sqs":
        url = params["QueueUrl"]
        return (Need(f"sqs:{_SQS.get(operation, operation)}", "queue", url, _by_value(url)),)
    if service == "events" and operation == "PutEvents":
        buses = sorted({entry.get("EventBusName", "default") for entry in params["Entries"]})
        return tuple(Need("events:PutEvents", "bus", bus, _by_value(bus)) for bus in buses)
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        names = [params["Name"]] if operation == "GetParameter" else params["Names"]
        return tuple(Need("ssm:GetParameter", "parameter", n, _by_value(n)) for n in names)
    return (Need(f"{service}:{operation}", "unknown", "", frozenset()),)


def install() -> None:
    """Record every botocore call made while a function is invoked; idempotent."""
    if getattr(_CLIENT._make_api_call, "_records_calls", False):
        return
    original = _CLIENT._make_api_call

    @functools.wraps(original)
    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        function = _invoking.get()
        if function:
            service = self.meta.service_model.service_name
            call = Call(function, operation_name, needs(service, operation_name, api_params))
            with _lock:
                calls.append(call)
        return original(self, operation_name, api_params)

    recording._records_calls = True  # type: ignore[attr-defined]
    _CLIENT._make_api_call = recording


class Loader(Protocol):
    """`local.functions.load`."""

    def __call__(self, short_name: str, environment: dict[str, str]) -> ModuleType: ...


def tagging(load: Loader) -> Loader:
    """`local.functions.load`, with the function's cold start and every `lambda_handler` call tagged."""

    @functools.wraps(load)
    def load_tagged(short_name: str, environment: dict[str, str]) -> ModuleType:
        token = _invoking.set(short_name)
        try:
            module = load(short_name, environment)
        finally:
            _invoking.reset(token)
        handler = module.lambda_handler

        @functools.wraps(handler)
        def invoke(event: Any, context: Any) -> Any:
            token = _invoking.set(short_name)
            try:
                return handler(event, context)
            finally:
                _invoking.reset(token)

        module.__dict__["lambda_handler"] = invoke  # as `module.lambda_handler = invoke`, which mypy refuses
        return module

    return load_tagged


# ------------------------------------------------------------------ checking


@functools.cache
def _template() -> dict[str, Any]:
    from local.infra import translated

    return translated(REGION)


def _arn(resources: Mapping[str, Any], logical: str) -> str:
    kind = resources[logical]["Type"]
    prefix = {
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/",
        "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/",
    }[kind]
    return prefix + logical


def _resolve(value: Any, template: Mapping[str, Any]) -> list[str]:
    """A policy's Resource as ARN patterns; parameters stay symbolic (`${Name}`)."""
    resources = template["Resources"]
    if isinstance(value, list):
        return [arn for v in value for arn in _resolve(v, template)]
    if isinstance(value, str):
        return [value]
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return [_arn(resources, value["Fn::GetAtt"][0])]
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "StreamArn":
        return [_arn(resources, value["Fn::GetAtt"][0]) + "/stream/*"]
    if "Fn::If" in value:
        return _resolve(value["Fn::If"][1], template)
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        for pseudo, actual in (("AWS::Partition", "aws"), ("AWS::Region", REGION), ("AWS::AccountId", ACCOUNT)):
            text = text.replace("${" + pseudo + "}", actual)
        for logical in resources:
            if "${" + logical + ".Arn}" in text:
                text = text.replace("${" + logical + ".Arn}", _arn(resources, logical))
        return [text]
    raise ValueError(f"cannot resolve policy resource {value!r}")


def _statements(function: str, template: Mapping[str, Any]) -> Iterator[tuple[list[str], list[str]]]:
    """(action patterns, resource patterns) of every Allow statement in the function's role."""
    from local.infra import FUNCTIONS

    resources = template["Resources"]
    role = resources[FUNCTIONS[function]]["Properties"]["Role"]["Fn::GetAtt"][0]
    for policy in resources[role]["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            yield [a.lower() for a in actions], _resolve(statement["Resource"], template)


def _in_template_terms(function: str, need: Need, template: Mapping[str, Any]) -> str | None:
    """The ARN the policy must grant, through the environment variable that named the resource."""
    from local.infra import FUNCTIONS

    resources = template["Resources"]
    variables = resources[FUNCTIONS[function]]["Properties"].get("Environment", {}).get("Variables", {})
    for variable in sorted(need.variables):
        ref = variables.get(variable)
        if not (isinstance(ref, dict) and "Ref" in ref):
            continue
        if ref["Ref"] in resources:
            arn = _arn(resources, ref["Ref"])
            return f"{arn}/index/{need.index}" if need.kind == "index" else arn
        if ref["Ref"] in template.get("Parameters", {}) and need.kind == "parameter":
            return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter${{{ref['Ref']}}}"
    return None


def violations(recorded: list[Call]) -> list[str]:
    """Each (function, action, resource) called but not granted by the function's template policy."""
    if not recorded:
        return []
    template = _template()
    problems: set[str] = set()
    for call in recorded:
        statements = list(_statements(call.function, template))
        for need in call.needs:
            arn = _in_template_terms(call.function, need, template)
            where = f"{need.kind} {need.name!r}" + (f" index {need.index}" if need.index else "")
            if arn is None:
                problems.add(
                    f"{call.function}: {call.operation} needs {need.action} on {where}, which none of its "
                    "template environment variables names"
                )
            elif not any(
                any(fnmatch.fnmatchcase(need.action.lower(), a) for a in actions)
                and any(fnmatch.fnmatchcase(arn, r) for r in resources)
                for actions, resources in statements
            ):
                problems.add(f"{call.function}: {call.operation} needs {need.action} on {arn}, not granted by its role")
    return sorted(problems)
