"""`make run`'s stand-in for Cognito and API Gateway's Cognito authorizer: an OAuth2 client-credentials token
endpoint, and the check of `Authorization: Bearer …` on every route of `ecluse.access.ROUTES`.

As deployed: a token without the route's scope is refused before the handler runs, and the handler finds
the token's claims where API Gateway puts them (`requestContext.authorizer.claims`, every value a string).
`LOCAL_AUTH=off make run` turns it off (every request then reaches the API as the local operator).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from ecluse.access import ROUTES, SCOPES, Role

TOKEN_SECONDS = 3600  # Cognito's default access-token validity
ERP, OPERATIONS = SCOPES[Role.ERP], SCOPES[Role.OPERATOR]


@dataclass(frozen=True)
class Client:
    secret: str
    scopes: tuple[str, ...]


# The clients printed at start-up: two separate ERPs, and an operator (both scopes, as operators hold)
CLIENTS = {
    "erp-demo": Client("erp-demo-secret", (ERP,)),
    "erp-other": Client("erp-other-secret", (ERP,)),
    "operator-demo": Client("operator-demo-secret", (ERP, OPERATIONS)),
}
# (method, compiled path) -> (API Gateway resource, the scope it requires); a route no scope guards is open
_ROUTES = [
    (method, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", resource) + "$"), resource, SCOPES[role])
    for (method, resource), role in ROUTES.items()
    if role in SCOPES
]


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class LocalAuth:
    def __init__(self, issuer: str, clients: dict[str, Client] | None = None) -> None:
        self._issuer = issuer
        self._clients = CLIENTS if clients is None else clients
        self._tokens: dict[str, tuple[float, dict[str, str]]] = {}  # token -> (expiry, claims)
        self._lock = threading.Lock()

    def describe(self) -> str:
        lines = [
            f"  {client_id} / {client.secret}  (scope {' '.join(client.scopes)})"
            for client_id, client in self._clients.items()
        ]
        return "OAuth2 clients (POST /oauth2/token, grant_type=client_credentials):\n" + "\n".join(lines)

    # ------------------------------------------------------------------ the token endpoint
    def token(self, headers: dict[str, str], raw: bytes) -> Answer:
        """`POST /oauth2/token` as Cognito answers it: the client by HTTP Basic (or as form fields), the
        form's grant_type and optional scope (space-separated; none asked: every scope the client has)."""
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "send the form as application/x-www-form-urlencoded")
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
        client_id, secret = _basic(_header(headers, "authorization")) or (
            form.get("client_id"),
            form.get("client_secret"),
        )
        client = self._clients.get(client_id or "")
        if client is None or not secrets.compare_digest((secret or "").encode(), client.secret.encode()):
            return Answer(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="ecluse"'})
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        asked = form.get("scope", "").split() or list(client.scopes)
        if not set(asked) <= set(client.scopes):
            return _oauth_error(400, "invalid_scope", f"this client may ask for {' '.join(client.scopes)}")
        return Answer(200, self._issue(client_id or "", asked), {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _issue(self, client_id: str, scopes: list[str]) -> dict[str, Any]:
        now = int(time.time())
        token = secrets.token_urlsafe(32)
        claims = {  # a client-credentials access token's claims, strings as API Gateway passes them
            "sub": client_id,
            "client_id": client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": str(now),
            "iss": self._issuer,
            "exp": str(now + TOKEN_SECONDS),
            "iat": str(now),
            "jti": secrets.token_hex(16),
            "version": "2",
        }
        with self._lock:
            self._tokens = {t: held for t, held in self._tokens.items() if held[0] > now}  # the expired go
            self._tokens[token] = (now + TOKEN_SECONDS, claims)
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}

    def expire(self, token: str) -> None:
        """Tests: the token's hour is up."""
        with self._lock:
            if token in self._tokens:
                self._tokens[token] = (0, self._tokens[token][1])

    # ------------------------------------------------------------------ the authorizer
    def authorize(self, method: str, path: str, headers: dict[str, str]) -> tuple[dict[str, Any] | None, Answer | None]:
        """For a route of ROUTES: the request context's authorizer (the token's claims) and its resource, or
        the refusal (401 no valid token, 403 a token without the route's scope). Other paths pass as they are."""
        route = next(
            ((resource, scope) for m, pattern, resource, scope in _ROUTES if m == method and pattern.match(path)), None
        )
        if route is None:
            return None, None
        resource, scope = route
        claims = self._claims(_header(headers, "authorization"))
        if claims is None:
            return None, _api_error(
                401,
                "unauthenticated",
                "send Authorization: Bearer <access token>; get one from POST /oauth2/token (client credentials)",
                {"WWW-Authenticate": 'Bearer realm="ecluse"'},
            )
        if scope not in claims["scope"].split():
            return None, _api_error(
                403, "forbidden", f"{method} {resource} needs the scope {scope}; this token has {claims['scope']}"
            )
        return {"resource": resource, "authorizer": {"claims": claims}}, None

    def _claims(self, authorization: str | None) -> dict[str, str] | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with self._lock:
            held = self._tokens.get(token.strip())
        if held is None or held[0] <= time.time():
            return None
        return dict(held[1])


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_error(status: int, code: str, description: str) -> Answer:
    return Answer(status, {"error": code, "error_description": description}, {})


def _api_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    """The API's own error shape (API Gateway's gateway responses are shaped alike when deployed)."""
    return Answer(status, {"error": {"code": code, "message": message, "details": []}}, headers or {})


def encoded(answer: Answer) -> tuple[int, bytes, dict[str, str]]:
    return answer.status, json.dumps(answer.body).encode(), {"Content-Type": "application/json", **answer.headers}
