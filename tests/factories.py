"""Small builders for test data: a valid declaration body, changed only where a test cares."""

from __future__ import annotations

import copy
import itertools
from typing import Any

_counter = itertools.count(1)
EORI = "FR12345678901234"  # the declaring party of every body built here unless a test says otherwise

_BASE: dict[str, Any] = {
    "lrn": "FR-2025-000123",
    "system": "DELTA_G",
    "declarant": {
        "eori": EORI,
        "name": "Transports Exemple SAS",
        "address": {"street": "1 rue du Port", "postcode": "76600", "city": "Le Havre", "country": "FR"},
    },
    "kind": "standard",
    "direction": "import",
    "customs_office": "FR000730",
    "incoterm": "DAP",
    "delivery_place": "Lyon",
    "gross_mass_kg": 1250.5,
    "net_mass_kg": 1100.0,
    "items": [
        {
            "number": 1,
            "commodity_code": "8471300000",
            "description": "Laptops",
            "procedure": "4000",
            "origin": "CN",
            "net_mass_kg": 1100.0,
            "value": {"amount": "48200.00", "currency": "EUR"},
        }
    ],
    "documents": [{"code": "N380", "reference": "INV-7781"}],
    "urgent": False,
    "anticipated": False,
    "anticipation_expires_at": None,
    "message": "<CC415A>native message</CC415A>",
}


def declaration_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(_BASE)
    body["lrn"] = f"T-{next(_counter):06d}"
    body.update(overrides)
    return body


# Where API Gateway puts the caller in the event's requestContext (ecluse.aws.callers reads it back)
ERP_SCOPE, OPERATOR_SCOPE = "ecluse/declarations", "ecluse/operations"


def cognito_client(client_id: str, *scopes: str) -> dict[str, Any]:
    """A Cognito authorizer's claims for a client-credentials access token (an ERP's, or an operator's
    with both scopes)."""
    claims = {
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(scopes or (ERP_SCOPE,)),
        "token_use": "access",
        "iss": "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_example",
    }
    return {"authorizer": {"claims": claims}}


def cognito_user(username: str, client_id: str = "console") -> dict[str, Any]:
    """A signed-in operator's access token (the console's hosted UI): both scopes, a username, a group."""
    identity = cognito_client(client_id, ERP_SCOPE, OPERATOR_SCOPE)
    identity["authorizer"]["claims"].update({"sub": "9f1c-user", "username": username, "cognito:groups": "operators"})
    return identity


def iam_signer(user_arn: str) -> dict[str, Any]:
    """A SigV4-signed request's identity (the AWS_IAM authorizer)."""
    account = user_arn.split(":")[4]
    return {"identity": {"sourceIp": "203.0.113.10", "accountId": account, "userArn": user_arn, "caller": "AROA:x"}}
