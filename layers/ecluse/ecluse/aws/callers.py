"""The caller of an API request, read where API Gateway puts it: a Cognito authorizer's token claims
(`requestContext.authorizer.claims`), or the SigV4 signer (`requestContext.identity.userArn`).

API Gateway has already authenticated the request and checked the route's scope or IAM policy; this
reads who it was, for the audit trail and for whose declarations it reaches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayEventRequestContext

from ecluse.access import OPERATORS_GROUP, SCOPES, Role
from ecluse.callers import LOCAL, Caller
from ecluse.errors import EcluseError

# arn:aws:sts::123456789012:assumed-role/erp-acme/session, arn:aws:iam::123456789012:role/path/erp-acme, …
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/.+$")
_IAM_NAMED = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<kind>role|user)/(?:.+/)?(?P<name>[^/]+)$"
)


def iam_identity(arn: str) -> str:
    """The identity an IAM principal ARN stands for: an assumed role's session is its role, and a role or
    a user is named without its path (names are unique in an account, and an assumed-role ARN carries no
    path), so that `OperatorPrincipalArns` and the declarant match however the ARN was written."""
    arn = arn.strip()
    if assumed := _ASSUMED_ROLE.match(arn):
        return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['name']}"
    if named := _IAM_NAMED.match(arn):
        return f"arn:{named['partition']}:iam::{named['account']}:{named['kind']}/{named['name']}"
    return arn


def operator_principals(listed: str) -> frozenset[str]:
    """The `OperatorPrincipalArns` parameter (comma-separated ARNs) as the identities it names."""
    return frozenset(iam_identity(arn) for arn in listed.split(",") if arn.strip())


def caller(context: APIGatewayEventRequestContext, operators: frozenset[str]) -> Caller:
    """The caller of the request; `LOCAL` (an operator) when it carries no identity at all, as under
    `LOCAL_AUTH=off make run` and in tests (deployed, API Gateway lets no such request through)."""
    claims = context.authorizer.claims
    if claims:
        return _from_claims(claims)
    user_arn = context.identity.user_arn
    if user_arn:
        identity = iam_identity(user_arn)
        return Caller(user_arn, identity, Role.OPERATOR if identity in operators else Role.ERP)
    return LOCAL


def require_operator(calling: Caller) -> None:
    """An operator's route: API Gateway admitted the caller (the operator policy, or the operations scope),
    and the API must count it as an operator too."""
    if not calling.operator:
        raise EcluseError(
            "not_an_operator",
            "this route is an operator's, and the API does not count this caller as one: with IAM auth, the "
            "stack's OperatorPrincipalArns parameter must list its role or user",
            http_status=403,
        )


def _from_claims(claims: Mapping[str, Any]) -> Caller:
    """A Cognito access token: an ERP's client (client credentials) or an operator signed in through the
    console's client; operators are the tokens carrying the operations scope."""
    client_id = str(claims.get("client_id") or "")
    if not client_id:
        raise EcluseError(
            "unauthenticated", "the access token names no client: get one from /oauth2/token", http_status=401
        )
    username = str(claims.get("username") or claims.get("cognito:username") or "")
    if username and OPERATORS_GROUP not in _groups(claims.get("cognito:groups")):
        # A person signs in only through the console's client, which grants every scope: being in the pool
        # is not being an operator (an account created and not yet, or no longer, in the group)
        raise EcluseError(
            "not_an_operator",
            f"this account is not in the user pool's {OPERATORS_GROUP!r} group: an administrator adds it "
            "(runbook, 'A new operator'), then sign in again",
            http_status=403,
        )
    scopes = str(claims.get("scope") or "").split()
    role = Role.OPERATOR if SCOPES[Role.OPERATOR] in scopes else Role.ERP
    return Caller(username or client_id, client_id, role)


def _groups(claim: Any) -> set[str]:
    """`cognito:groups` as API Gateway hands it over: a list in the token, a string in the request context,
    comma-separated for a REST API's Cognito authorizer, "[a b]" for an HTTP API's JWT authorizer."""
    if isinstance(claim, list | tuple):
        return {str(group) for group in claim}
    return set(re.split(r"[\s,]+", str(claim or "").strip("[] "))) - {""}
