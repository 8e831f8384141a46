"""Who is calling, read where API Gateway puts it (ecluse.aws.callers): the audit trail's principal,
whose declarations it reaches, and whether it is an operator."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from ecluse.access import Role
from ecluse.aws.callers import caller, iam_identity, operator_principals
from ecluse.callers import LOCAL, Caller
from ecluse.errors import EcluseError
from tests.factories import ERP_SCOPE, OPERATOR_SCOPE, cognito_client, cognito_user, iam_signer

ACCOUNT = "123456789012"
OPERATORS = operator_principals(f"arn:aws:iam::{ACCOUNT}:role/ops/ecluse-operator, arn:aws:iam::{ACCOUNT}:user/alice")


def _caller(identity: dict) -> Caller:
    return caller(APIGatewayProxyEvent({"requestContext": identity}).request_context, OPERATORS)


def test_an_erps_client_credentials_token_is_that_client_reaching_its_own() -> None:
    assert _caller(cognito_client("7f3kq2erpclient")) == Caller("7f3kq2erpclient", "7f3kq2erpclient", Role.ERP)


def test_a_token_with_the_operations_scope_is_an_operator() -> None:
    assert _caller(cognito_client("ops-client", ERP_SCOPE, OPERATOR_SCOPE)).role is Role.OPERATOR


def test_a_signed_in_operator_is_recorded_by_username_under_the_consoles_client() -> None:
    assert _caller(cognito_user("marie.dupont", "console")) == Caller("marie.dupont", "console", Role.OPERATOR)


def test_a_token_naming_no_client_is_refused_not_guessed() -> None:
    with pytest.raises(EcluseError) as refused:
        _caller({"authorizer": {"claims": {"sub": "x", "scope": ERP_SCOPE}}})
    assert (refused.value.code, refused.value.http_status) == ("unauthenticated", 401)


def test_an_assumed_role_session_is_recorded_as_itself_and_its_declarations_are_the_roles() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/erp-acme/sap-pi-7"
    assert _caller(iam_signer(session)) == Caller(session, f"arn:aws:iam::{ACCOUNT}:role/erp-acme", Role.ERP)


def test_operators_are_the_principals_listed_however_their_arn_is_written() -> None:
    """The parameter names the role with its path, the session's ARN carries none: the same role."""
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ecluse-operator/jdoe"
    assert _caller(iam_signer(session)).role is Role.OPERATOR
    assert _caller(iam_signer(f"arn:aws:iam::{ACCOUNT}:user/team/alice")).role is Role.OPERATOR
    assert _caller(iam_signer(f"arn:aws:iam::{ACCOUNT}:user/bob")).role is Role.ERP


def test_a_request_without_any_identity_is_the_local_operator() -> None:
    assert _caller({"identity": {"sourceIp": "127.0.0.1"}}) is LOCAL
    assert LOCAL.reaches("anyone")


@pytest.mark.parametrize(
    ("arn", "identity"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/a/b/erp", f"arn:aws:iam::{ACCOUNT}:role/erp"),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/erp/s", f"arn:aws-cn:iam::{ACCOUNT}:role/erp"),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:root"),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", f"arn:aws:sts::{ACCOUNT}:federated-user/bob"),
    ],
)
def test_iam_identities(arn: str, identity: str) -> None:
    assert iam_identity(arn) == identity


def test_an_erp_reaches_its_own_declarations_only() -> None:
    erp = Caller("c1", "c1", Role.ERP)
    assert erp.reaches("c1")
    assert not erp.reaches("c2")


@pytest.mark.parametrize("groups", ["operators", "auditors,operators", "[auditors operators]", ["operators"]])
def test_a_signed_in_person_in_the_operators_group_is_an_operator_however_the_groups_are_written(groups) -> None:
    identity = cognito_user("marie.dupont")
    identity["authorizer"]["claims"]["cognito:groups"] = groups
    assert _caller(identity).role is Role.OPERATOR


@pytest.mark.parametrize("groups", [None, "", "auditors", "operators-old", "[auditors]"])
def test_a_signed_in_person_outside_the_operators_group_is_refused_whatever_the_tokens_scopes(groups) -> None:
    """The console's client grants every scope to whoever signs in: the group is what makes an operator."""
    identity = cognito_user("marie.dupont")
    claims = identity["authorizer"]["claims"]
    claims.pop("cognito:groups")
    if groups is not None:
        claims["cognito:groups"] = groups
    with pytest.raises(EcluseError) as refused:
        _caller(identity)
    assert (refused.value.code, refused.value.http_status) == ("not_an_operator", 403)
    assert "marie.dupont" not in refused.value.message  # the answer may be logged: no name in it


def test_a_client_credentials_token_needs_no_group() -> None:
    """ERPs' and operators' scripts sign in as app clients, which belong to no group."""
    assert _caller(cognito_client("ops-client", ERP_SCOPE, OPERATOR_SCOPE)).role is Role.OPERATOR
