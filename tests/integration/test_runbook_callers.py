"""The runbook's commands for a new ERP client and a new operator (COGNITO mode), read from docs/runbook.md,
checked against the Cognito API's model as the AWS CLI maps its options, and run on the embedded AWS
against the user pool's resource server and group as the template makes them."""

from __future__ import annotations

import re
import shlex
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.validate import validate_parameters
from moto import mock_aws

from ecluse.access import SCOPES, Role
from local.infra import ROOT, translated

EXAMPLES = {"<name>": "acme", "<address>": "operator@example.com"}


def _commands() -> list[tuple[str, list[str]]]:
    """Every `aws cognito-idp …` command of the runbook's code blocks: (operation, its words)."""
    text = (ROOT / "docs" / "runbook.md").read_text().replace("\\\n", " ")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [(words[2], words[3:]) for words in map(shlex.split, lines) if words[:2] == ["aws", "cognito-idp"]]


def _value(shape: Any, words: list[str]) -> Any:
    kind = shape.type_name
    if kind == "boolean":
        assert not words
        return True
    if kind == "integer":
        return int(words[0])
    if kind == "structure":  # the CLI's shorthand: Key=value,Key=value
        return dict(pair.split("=", 1) for pair in words[0].split(","))
    if kind == "list":
        return [_value(shape.member, [word]) for word in words]
    [word] = words
    return word


def _parameters(operation: Any, words: list[str], pool_id: str) -> dict:
    members = {xform_name(name, "-"): (name, shape) for name, shape in operation.input_shape.members.items()}
    parameters: dict[str, Any] = {}
    option = None
    for word in words:
        if word.startswith("--"):
            option = word[2:]
            assert option in members, f"the AWS CLI has no --{option} for {operation.name}"
            parameters[option] = []
        else:
            for placeholder, example in {**EXAMPLES, "<UserPoolId>": pool_id}.items():
                word = word.replace(placeholder, example)
            parameters[option].append(word)  # type: ignore[index]
    return {members[o][0]: _value(members[o][1], w) for o, w in parameters.items()}


@pytest.fixture
def pool() -> Any:
    resources = translated(parameters={"AuthMode": "COGNITO"})["Resources"]
    server = resources["EcluseResourceServer"]["Properties"]
    group = resources["OperatorsGroup"]["Properties"]
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="eu-west-3")
        pool_id = cognito.create_user_pool(PoolName="callers")["UserPool"]["Id"]
        cognito.create_resource_server(
            UserPoolId=pool_id, Identifier=server["Identifier"], Name=server["Name"], Scopes=server["Scopes"]
        )
        cognito.create_group(UserPoolId=pool_id, GroupName=group["GroupName"])
        yield cognito, pool_id


def test_the_runbooks_commands_are_what_the_cognito_api_takes_and_do_what_it_says(pool) -> None:
    cognito, pool_id = pool
    commands = _commands()
    assert [operation for operation, _ in commands] == [
        "create-user-pool-client", "admin-create-user", "admin-add-user-to-group",
    ]  # fmt: skip
    for operation, words in commands:
        model = cognito.meta.service_model.operation_model(
            next(o for o in cognito.meta.service_model.operation_names if xform_name(o, "-") == operation)
        )
        parameters = _parameters(model, words, pool_id)
        validate_parameters(parameters, model.input_shape)
        answer = getattr(cognito, xform_name(model.name))(**parameters)
        if operation == "create-user-pool-client":
            client = answer["UserPoolClient"]
            assert client["ClientSecret"]  # HTTP Basic at the token endpoint
            assert client["AllowedOAuthFlows"] == ["client_credentials"]
            assert client["AllowedOAuthScopes"] == [SCOPES[Role.ERP]]  # never the operators' scope
    [member] = cognito.list_users_in_group(UserPoolId=pool_id, GroupName="operators")["Users"]
    assert member["Username"] == EXAMPLES["<name>"]
