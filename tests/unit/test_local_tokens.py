"""`make run`'s stand-in for Cognito's token endpoint and authorizer (local/auth.py), where the end-to-end
tests cannot reach: a token whose hour is up, credentials written as OAuth2 encodes them, the claims."""

from __future__ import annotations

import base64

from local.auth import CLIENTS, LocalAuth

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {**FORM, "Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_an_expired_token_is_refused_as_no_token() -> None:
    auth = LocalAuth("http://127.0.0.1/local-user-pool")
    token = auth.token(_basic("erp-demo", "erp-demo-secret"), b"grant_type=client_credentials").body["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert auth.authorize("GET", "/declarations/X-1", bearer)[1] is None
    auth.expire(token)
    _, refused = auth.authorize("GET", "/declarations/X-1", bearer)
    assert refused is not None
    assert (refused.status, refused.body["error"]["code"]) == (401, "unauthenticated")


def test_the_claims_are_where_and_as_api_gateway_gives_them() -> None:
    auth = LocalAuth("http://127.0.0.1/local-user-pool")
    answer = auth.token(_basic("operator-demo", "operator-demo-secret"), b"grant_type=client_credentials")
    authorized, _ = auth.authorize(
        "PUT", "/systems/CDS/status", {"authorization": f"bearer {answer.body['access_token']}"}
    )
    assert authorized is not None
    assert authorized["resource"] == "/systems/{system}/status"
    claims = authorized["authorizer"]["claims"]
    assert (claims["client_id"], claims["sub"], claims["token_use"]) == ("operator-demo", "operator-demo", "access")
    assert claims["scope"].split() == list(CLIENTS["operator-demo"].scopes)
    assert all(isinstance(value, str) for value in claims.values())


def test_credentials_are_form_decoded_as_oauth2_encodes_them() -> None:
    auth = LocalAuth("http://x", {"erp:1": CLIENTS["erp-demo"]})
    assert auth.token(_basic("erp%3A1", "erp-demo-secret"), b"grant_type=client_credentials").status == 200


def test_routes_outside_the_roles_table_pass_as_they_are() -> None:
    auth = LocalAuth("http://x")
    assert auth.authorize("GET", "/nowhere", {}) == (None, None)
    assert auth.authorize("PATCH", "/declarations", {}) == (None, None)  # API Gateway has no such method


def test_a_body_that_is_not_a_form_is_an_invalid_request() -> None:
    answer = LocalAuth("http://x").token({"Content-Type": "application/json"}, b'{"grant_type":"client_credentials"}')
    assert (answer.status, answer.body["error"]) == (400, "invalid_request")
