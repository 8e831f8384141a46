"""IAM mode: the two managed policies an ERP's or an operator's principal is given, checked the way IAM
evaluates them against the method ARN of each route (execute-api:/v1/METHOD/path) in ecluse.access.ROUTES."""

from __future__ import annotations

import re

import pytest

from ecluse.access import ROUTES, Role
from local.infra import translated

# What ${…} stands for once deployed; any values do, the policies' paths are what is checked.
DEPLOYED = {"AWS::Partition": "aws", "AWS::Region": "eu-west-3", "AWS::AccountId": "123456789012", "Api": "a1b2c3d4e5"}
STAGE = "arn:aws:execute-api:eu-west-3:123456789012:a1b2c3d4e5/v1/"


@pytest.fixture(scope="module")
def resources() -> dict:
    return translated(parameters={"AuthMode": "IAM"})["Resources"]


def iam_matches(pattern: str, arn: str) -> bool:
    """IAM's wildcards in a Resource: * any run of characters, `/` included; ? exactly one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def called(method: str, path: str) -> str:
    """The ARN API Gateway asks IAM about when this route is called (a value in each path parameter)."""
    return STAGE + method + re.sub(r"\{(\w+)\}", lambda m: f"some-{m.group(1)}", path)


def granted(method: str, path: str) -> str:
    """The pattern a policy names for a route: each path parameter a *."""
    return STAGE + method + re.sub(r"\{\w+\}", "*", path)


def patterns(resources: dict, name: str) -> set[str]:
    policy = resources[name]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert set(statement) == {"Sid", "Effect", "Action", "Resource"}  # no NotResource, no Condition to reason about
    found = set()
    for resource in statement["Resource"]:
        arn = re.sub(r"\$\{([^}]+)\}", lambda m: DEPLOYED[m.group(1)], resource["Fn::Sub"])
        found.add(arn)
    return found


def routes(role: Role | None = None) -> list[tuple[str, str]]:
    return [route for route, owner in ROUTES.items() if role is None or owner is role]


def test_the_wildcard_semantics_this_file_relies_on() -> None:
    # * spans `/`: a parameter's * reaches every path below it, which is why ERP patterns stay under /declarations
    assert iam_matches(granted("GET", "/declarations/{lrn}"), called("GET", "/declarations/{lrn}/fallback-document"))
    assert not iam_matches(granted("GET", "/declarations/{lrn}"), called("GET", "/systems"))
    assert not iam_matches(granted("GET", "/declarations/{lrn}"), called("POST", "/declarations/{lrn}/emergency"))
    assert iam_matches(STAGE + "GET/*", called("GET", "/systems/{system}"))  # what the ERP policy must not say


def test_the_erp_policy_reaches_every_erp_route_and_no_operator_route(resources) -> None:
    erp = patterns(resources, "ErpInvokePolicy")
    for method, path in routes(Role.ERP):
        assert any(iam_matches(p, called(method, path)) for p in erp), f"an ERP cannot call {method} {path}"
    for method, path in routes(Role.OPERATOR):
        reaching = [p for p in erp if iam_matches(p, called(method, path))]
        assert not reaching, f"the ERP policy reaches the operator route {method} {path} through {reaching}"


def test_the_operator_policy_reaches_every_route(resources) -> None:
    operator = patterns(resources, "OperatorInvokePolicy")
    for method, path in routes():
        assert any(iam_matches(p, called(method, path)) for p in operator), f"an operator cannot call {method} {path}"


def test_each_policy_names_exactly_its_routes_of_the_table(resources) -> None:
    # a route added to ecluse.access.ROUTES (and so to the API) without its policy fails here, and so does a
    # policy entry for a route that is not in the table
    assert patterns(resources, "ErpInvokePolicy") == {granted(m, p) for m, p in routes(Role.ERP)}
    assert patterns(resources, "OperatorInvokePolicy") == {granted(m, p) for m, p in routes()}


def test_the_policies_name_the_deployed_stage(resources) -> None:
    [stage] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage["RestApiId"] == {"Ref": "Api"}
    assert STAGE.endswith(f"/{stage['StageName']}/")
