"""The AuthMode parameter, through the transforms CloudFormation runs (AWS::LanguageExtensions, then SAM):
in IAM mode every method takes SigV4, in COGNITO mode an access token with its route's scope from
ecluse.access; a route outside the table is open only when its event says `Authorizer: NONE`."""

from __future__ import annotations

import graphlib
import re
from typing import Any

import pytest

from ecluse.access import OPERATORS_GROUP, ROUTES, SCOPES
from ecluse.console_sign_in import (
    CLIENT_VARIABLE,
    CONSOLE_SCOPES,
    CONSOLE_URL_VARIABLE,
    DOMAIN_VARIABLE,
    SIGN_IN_VARIABLE,
)
from local.infra import TEMPLATE, translated

OPEN = [{"NONE": []}]  # what SAM writes for an event's `Auth: {Authorizer: NONE}` (the console's page)


def _methods(template: dict) -> dict[tuple[str, str], list]:
    [api] = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    paths = api["Properties"]["Body"]["paths"]
    return {(m.upper(), p): op.get("security") for p, ops in paths.items() for m, op in ops.items()}


@pytest.fixture(scope="module")
def iam() -> dict:
    return translated(parameters={"AuthMode": "IAM"})


@pytest.fixture(scope="module")
def cognito() -> dict:
    return translated(parameters={"AuthMode": "COGNITO"})


def test_iam_is_the_default_mode() -> None:
    assert _methods(translated()) == _methods(translated(parameters={"AuthMode": "IAM"}))


def test_in_iam_mode_every_route_of_the_table_takes_sigv4(iam) -> None:
    methods = _methods(iam)
    assert set(ROUTES) <= set(methods), f"routes without a method: {set(ROUTES) - set(methods)}"
    for route, security in methods.items():
        if route in ROUTES:
            assert security == [{"AWS_IAM": []}], f"{route}: {security}"
        else:
            assert security == OPEN, f"{route} is in no role of ecluse.access.ROUTES and not declared open"


def test_in_cognito_mode_every_route_asks_for_its_roles_scope(cognito) -> None:
    methods = _methods(cognito)
    assert set(ROUTES) <= set(methods)
    for route, security in methods.items():
        if route in ROUTES:
            assert security == [{"EcluseTokens": [SCOPES[ROUTES[route]]]}], f"{route}: {security}"
        else:
            assert security == OPEN, f"{route} is in no role of ecluse.access.ROUTES and not declared open"


def test_in_cognito_mode_the_authorizer_is_the_stacks_user_pool(cognito) -> None:
    [api] = [r for r in cognito["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    schemes = api["Properties"]["Body"]["securityDefinitions"]
    assert schemes["EcluseTokens"]["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools",
        "providerARNs": [{"Fn::GetAtt": ["UserPool", "Arn"]}],
    }
    assert "AWS_IAM" not in schemes


def test_each_mode_creates_only_its_own_resources(iam) -> None:
    resources = iam["Resources"]
    assert {k for k, r in resources.items() if r.get("Condition") == "UseCognito"} == {
        "UserPool", "UserPoolDomain", "EcluseResourceServer", "OperatorsGroup", "ConsoleClient",
    }  # fmt: skip
    assert {k for k, r in resources.items() if r.get("Condition") == "UseIam"} == {
        "ErpInvokePolicy", "OperatorInvokePolicy",
    }  # fmt: skip
    outputs = iam["Outputs"]
    assert outputs["TokenUrl"]["Condition"] == outputs["ConsoleUrl"]["Condition"] == "UseCognito"
    assert outputs["ErpInvokePolicyArn"]["Condition"] == "UseIam"


def test_the_resource_server_offers_exactly_the_roles_scopes(cognito) -> None:
    server = cognito["Resources"]["EcluseResourceServer"]["Properties"]
    offered = {f"{server['Identifier']}/{s['ScopeName']}" for s in server["Scopes"]}
    assert offered == set(SCOPES.values())


def test_the_pools_operators_group_is_the_one_the_api_asks_a_person_to_be_in(cognito) -> None:
    assert cognito["Resources"]["OperatorsGroup"]["Properties"]["GroupName"] == OPERATORS_GROUP


def test_operators_sign_in_to_the_console_with_both_scopes_and_no_secret(cognito) -> None:
    client = cognito["Resources"]["ConsoleClient"]["Properties"]
    assert set(CONSOLE_SCOPES) == set(client["AllowedOAuthScopes"])  # what the console asks for, no more
    # authorization code with PKCE only: never the implicit grant (a token in the address), nor client
    # credentials (a page keeps no secret)
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["GenerateSecret"] is False
    assert client["CallbackURLs"] == [
        {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1/console"}
    ]
    assert cognito["Outputs"]["ConsoleUrl"]["Value"] == client["CallbackURLs"][0]  # the console starts sign-in
    assert cognito["Resources"]["ConsoleClient"]["DependsOn"] == "EcluseResourceServer"


def test_the_consoles_refresh_tokens_rotate_and_are_revocable_and_no_api_flow_bypasses_rotation(cognito) -> None:
    """The console stays signed in for a shift by refreshing at the token endpoint: a public client's refresh
    token must rotate (RFC 9700, 4.14.2), sign-out revokes it, and it ends with the 12 h of the sign-in."""
    client = cognito["Resources"]["ConsoleClient"]["Properties"]
    rotation = client["RefreshTokenRotation"]
    assert rotation["Feature"] == "ENABLED"
    assert 0 <= rotation["RetryGracePeriodSeconds"] <= 10  # a retry's window, not a second life for the token
    assert client["EnableTokenRevocation"] is True
    # REFRESH_TOKEN_AUTH is refused beside rotation; an absent list would allow Cognito's defaults
    assert client["ExplicitAuthFlows"] == []
    assert (client["RefreshTokenValidity"], client["TokenValidityUnits"]["RefreshToken"]) == (12, "hours")


def _stage_variables(template: dict) -> dict | None:
    [stage] = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    return stage["Properties"].get("Variables")


def test_the_console_learns_the_pools_domain_and_its_client_from_the_stage_in_cognito_mode_only(iam, cognito):
    """ecluse.console_sign_in reads these; in IAM mode there are none, and the console offers no sign-in."""
    assert _stage_variables(iam) is None
    assert _stage_variables(cognito) == {
        SIGN_IN_VARIABLE: "pkce",
        DOMAIN_VARIABLE: {"Fn::Sub": "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"},
        CLIENT_VARIABLE: {"Ref": "ConsoleClient"},
        CONSOLE_URL_VARIABLE: {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1/console"},
    }
    # the pool's /logout sends the browser back only to a registered logout URL, exactly
    client = cognito["Resources"]["ConsoleClient"]["Properties"]
    assert client["LogoutURLs"] == [_stage_variables(cognito)[CONSOLE_URL_VARIABLE]]
    assert cognito["Outputs"]["TokenUrl"]["Value"]["Fn::Sub"].startswith(
        _stage_variables(cognito)[DOMAIN_VARIABLE]["Fn::Sub"]
    )
    for template in (iam, cognito):  # the stage alone says it: the function cannot name the client (see below)
        environment = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
        assert not _references(environment) & {"ConsoleClient", "UserPoolDomain", "UserPool"}


def _references(node: Any) -> set[str]:
    """The resources a template fragment names: Ref, Fn::GetAtt and ${…} in Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else value.split(".")[0])
        elif key == "Fn::Sub":
            text, more = (value, {}) if isinstance(value, str) else value
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} | _references(more)
        else:
            found |= _references(value)
    return found


@pytest.mark.parametrize("mode", ["IAM", "COGNITO"])
def test_no_resource_depends_on_itself(mode: str) -> None:
    """CloudFormation refuses a circular dependency, and neither cfn-lint nor sam validate finds one through
    the language extensions: the console's client names the API, the API the function, so the function may
    not name the client (its id reaches the console through the stage's variables instead)."""
    resources = translated(parameters={"AuthMode": mode})["Resources"]
    graph = {
        name: (_references({k: v for k, v in resource.items() if k != "Condition"}) & set(resources))
        | set([resource["DependsOn"]] if isinstance(resource.get("DependsOn"), str) else resource.get("DependsOn", []))
        for name, resource in resources.items()
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_nobody_signs_up_and_operators_use_mfa(cognito) -> None:
    pool = cognito["Resources"]["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # every user is an operator
    assert pool["MfaConfiguration"] == "ON"
    assert pool["DeletionProtection"] == "ACTIVE"
    assert pool["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14


def _sam_cli_translation(mode: str) -> dict:
    """The same template through SAM CLI's implementation of AWS::LanguageExtensions, then the SAM transform."""
    from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    from local.infra import _NoManagedPolicies

    template = yaml_parse(TEMPLATE.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://local-placeholder/code.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://local-placeholder/layer.zip"
    expanded = expand_language_extensions(template, parameter_values={"AuthMode": mode}, enabled=True)
    return transform(expanded.expanded_template, {"AuthMode": mode}, _NoManagedPolicies())


@pytest.mark.parametrize("mode", ["IAM", "COGNITO"])
def test_sam_clis_language_extensions_choose_the_same_authorizers(mode: str) -> None:
    # a second implementation of the transform agrees with local.infra.choose_branches on every method
    assert _methods(_sam_cli_translation(mode)) == _methods(translated(parameters={"AuthMode": mode}))


def test_without_the_language_extensions_the_sam_transform_refuses_the_template(monkeypatch) -> None:
    # why the transform is there: SAM takes no Fn::If in an API's Auth (SAM issues 1138, 1859, 1955)
    from samtranslator.model.exceptions import InvalidDocumentException

    import local.infra

    monkeypatch.setattr(local.infra, "choose_branches", lambda template, parameters: template)
    with pytest.raises(InvalidDocumentException, match="Auth"):
        translated()


def test_no_secret_is_a_parameter_the_language_extensions_would_write_into_the_template() -> None:
    # the transform puts parameters' values in place of their Refs in the processed template, which anyone
    # allowed cloudformation:GetTemplate reads: a secret comes from Secrets Manager, by a dynamic reference
    from samtranslator.yaml_helper import yaml_parse

    written = yaml_parse(TEMPLATE.read_text())
    assert not [name for name, p in written["Parameters"].items() if p.get("NoEcho")]
    webhook = written["Resources"]["WebhookConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert webhook["ApiKeyValue"] == {"Fn::Sub": "{{resolve:secretsmanager:${ErpWebhookSecretName}:SecretString}}"}


def test_api_gateway_refusals_answer_in_the_api_error_shape(iam) -> None:
    """401/403 from API Gateway itself (no token, wrong scope, bad signature) read like the function's own
    errors and like make run's token check: {"error": {"code", "message", "details"}}, never {"message"}."""
    import json

    [api] = [r for r in iam["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    expected = {
        "UNAUTHORIZED": ("401", "unauthenticated"),
        "ACCESS_DENIED": ("403", "forbidden"),
        "MISSING_AUTHENTICATION_TOKEN": ("403", "unauthenticated"),
        "INVALID_SIGNATURE": ("403", "unauthenticated"),
        "EXPIRED_TOKEN": ("403", "unauthenticated"),
        "THROTTLED": ("429", "throttled"),
    }
    assert set(responses) == set(expected)
    for kind, (status, code) in expected.items():
        body = json.loads(responses[kind]["responseTemplates"]["application/json"])
        assert responses[kind]["statusCode"] == status, kind
        assert body["error"]["code"] == code, kind
        assert body["error"]["message"], kind
        assert body["error"]["details"] == [], kind
    assert responses["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
