"""`make run`'s stand-in for Cognito and API Gateway's Cognito authorizer: an OAuth2 token endpoint
(client credentials for ERPs and scripts; authorization code with PKCE, then refresh tokens that rotate,
for the console), an authorization endpoint, a revocation endpoint and a logout endpoint for the console's
public client, and the check of `Authorization: Bearer …` on every route of
`ecluse.access.ROUTES`.

As deployed: a token without the route's scope is refused before the handler runs, and the handler finds
the token's claims where API Gateway puts them (`requestContext.authorizer.claims`, every value a string).
`LOCAL_AUTH=off make run` turns it off (every request then reaches the API as the local operator).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

from ecluse.access import OPERATORS_GROUP, ROUTES, SCOPES, Role
from ecluse.console_sign_in import CONSOLE_SCOPES

TOKEN_SECONDS = 3600  # Cognito's default access-token validity
CODE_SECONDS = 300  # Cognito's authorization codes last five minutes
REFRESH_SECONDS = 12 * 3600  # the stack's ConsoleClient: RefreshTokenValidity 12 hours
ERP, OPERATIONS = SCOPES[Role.ERP], SCOPES[Role.OPERATOR]
CONSOLE_CLIENT = "console-local"  # the console's public client, as the stack's ConsoleClient: no secret
CONSOLE_USER = "operator-local"  # who signs in through the stand-in's authorization endpoint
# RFC 7636, section 4.1: 43 to 128 characters of the unreserved set; an S256 challenge is 43 of base64url
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


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


@dataclass(frozen=True)
class Grant:
    """An authorization code waiting to be exchanged: for whom, where it was sent, and the PKCE challenge."""

    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    expires: float


@dataclass(frozen=True)
class Session:
    """What a refresh token renews: the console's sign-in, until the end of the refresh token's 12 hours."""

    client_id: str
    username: str
    scopes: tuple[str, ...]
    expires: float


class LocalAuth:
    def __init__(
        self, issuer: str, clients: dict[str, Client] | None = None, console_redirect_uris: tuple[str, ...] = ()
    ) -> None:
        self._issuer = issuer
        self._clients = CLIENTS if clients is None else clients
        # the console's public client and where it may be sent back (the stack's own /console, as the
        # ConsoleClient's CallbackURLs on AWS); none given, it is not offered
        self._console_redirect_uris = console_redirect_uris
        self._tokens: dict[str, tuple[float, dict[str, str]]] = {}  # token -> (expiry, claims)
        self._codes: dict[str, Grant] = {}  # authorization code -> what it grants, until exchanged
        self._refresh: dict[str, Session] = {}  # refresh token -> its sign-in, until used (rotated) or revoked
        self._lock = threading.Lock()

    def describe(self) -> str:
        lines = [
            f"  {client_id} / {client.secret}  (scope {' '.join(client.scopes)})"
            for client_id, client in self._clients.items()
        ]
        described = "OAuth2 clients (POST /oauth2/token, grant_type=client_credentials):\n" + "\n".join(lines)
        if self._console_redirect_uris:
            described += (
                f"\nThe console's public client: {CONSOLE_CLIENT} (authorization code with PKCE, no secret; "
                f"GET /oauth2/authorize signs in {CONSOLE_USER} without asking; refresh tokens rotate, "
                "POST /oauth2/revoke revokes them, GET /logout goes back to the console)"
            )
        return described

    # ------------------------------------------------------------------ the authorization endpoint
    def authorize_code(self, query: dict[str, str]) -> Answer:
        """`GET /oauth2/authorize` for the console's public client: no login page (the stand-in has no users
        to ask for): it signs in CONSOLE_USER at once and redirects to the registered redirect_uri with a
        one-time code and the state. PKCE is required, S256 only (RFC 7636; `plain` is refused, as the
        OAuth 2.0 Security Best Current Practice, RFC 9700, section 2.1.1, advises).

        As RFC 6749, section 4.1.2.1: an unknown client or redirect_uri is answered here (400), never
        redirected to; every other error goes back to the redirect_uri as `error` with the state."""
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id != CONSOLE_CLIENT or not self._console_redirect_uris:
            return _oauth_error(400, "invalid_request", f"client_id must be {CONSOLE_CLIENT} (the console's client)")
        if redirect_uri not in self._console_redirect_uris:
            registered = " ".join(self._console_redirect_uris)
            return _oauth_error(400, "invalid_request", f"redirect_uri must be one registered: {registered}")
        state = query.get("state")
        if query.get("response_type") != "code":
            return _redirect(redirect_uri, state, error="unsupported_response_type")
        if query.get("code_challenge_method") != "S256" or not _S256_CHALLENGE.match(query.get("code_challenge", "")):
            return _redirect(redirect_uri, state, error="invalid_request", why="PKCE: send an S256 code_challenge")
        asked = query.get("scope", "").split() or list(CONSOLE_SCOPES)
        if not set(asked) <= set(CONSOLE_SCOPES):
            return _redirect(
                redirect_uri, state, error="invalid_scope", why=f"this client may ask for {' '.join(CONSOLE_SCOPES)}"
            )
        code = secrets.token_urlsafe(32)
        grant = Grant(client_id, redirect_uri, query["code_challenge"], tuple(asked), time.time() + CODE_SECONDS)
        with self._lock:
            self._codes = {c: g for c, g in self._codes.items() if g.expires > time.time()}  # the expired go
            self._codes[code] = grant
        return _redirect(redirect_uri, state, code=code)

    def expire_code(self, code: str) -> None:
        """Tests: the code's five minutes are up."""
        with self._lock:
            if code in self._codes:
                self._codes[code] = replace(self._codes[code], expires=0)

    # ------------------------------------------------------------------ the token endpoint
    def token(self, headers: dict[str, str], raw: bytes) -> Answer:
        """`POST /oauth2/token` as Cognito answers it: the client by HTTP Basic (or as form fields), the
        form's grant_type and optional scope (space-separated; none asked: every scope the client has)."""
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "send the form as application/x-www-form-urlencoded")
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
        if form.get("grant_type") == "authorization_code":
            return self._exchange_code(form)
        if form.get("grant_type") == "refresh_token":
            return self._refresh_grant(form)
        client_id, secret = _basic(_header(headers, "authorization")) or (
            form.get("client_id"),
            form.get("client_secret"),
        )
        client = self._clients.get(client_id or "")
        if client is None or not secrets.compare_digest((secret or "").encode(), client.secret.encode()):
            return Answer(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="ecluse"'})
        if form.get("grant_type") != "client_credentials":
            # authorization_code is the console's public client's alone (above): a confidential client has this one
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        asked = form.get("scope", "").split() or list(client.scopes)
        if not set(asked) <= set(client.scopes):
            return _oauth_error(400, "invalid_scope", f"this client may ask for {' '.join(client.scopes)}")
        return Answer(200, self._issue(client_id or "", asked), NO_STORE)

    def _exchange_code(self, form: dict[str, str]) -> Answer:
        """grant_type=authorization_code from the console's public client (no secret): the code is used once
        whatever the outcome, and only by the client it was issued to, with the same redirect_uri, within
        its five minutes, by whoever holds the verifier whose SHA-256 is the challenge (RFC 7636, 4.6)."""
        if form.get("client_id") != CONSOLE_CLIENT or not self._console_redirect_uris:
            return Answer(401, {"error": "invalid_client"}, {})
        missing = [name for name in ("code", "redirect_uri", "code_verifier") if not form.get(name)]
        if missing:
            return _oauth_error(400, "invalid_request", f"send {', '.join(missing)} with the authorization code")
        if not _VERIFIER.match(form["code_verifier"]):
            return _oauth_error(400, "invalid_request", "code_verifier must be 43-128 characters of A-Z a-z 0-9 -._~")
        with self._lock:
            grant = self._codes.pop(form["code"], None)
        if grant is None or grant.expires <= time.time():
            return _oauth_error(400, "invalid_grant", "the code is unknown, used already or expired: sign in again")
        if grant.client_id != form["client_id"] or grant.redirect_uri != form["redirect_uri"]:
            return _oauth_error(400, "invalid_grant", "the code was issued to another client or redirect_uri")
        if not secrets.compare_digest(_s256(form["code_verifier"]), grant.challenge):
            return _oauth_error(400, "invalid_grant", "the code_verifier does not match the code_challenge")
        scopes = [s for s in grant.scopes if s != "openid"]  # openid goes in the ID token, not the access token
        session = Session(grant.client_id, CONSOLE_USER, tuple(scopes), time.time() + REFRESH_SECONDS)
        return Answer(200, self._issue(grant.client_id, scopes, username=CONSOLE_USER) | self._keep(session), NO_STORE)

    def _refresh_grant(self, form: dict[str, str]) -> Answer:
        """grant_type=refresh_token from the console's public client (client_id, no secret), as Cognito answers
        it with refresh token rotation: a new access token and a new refresh token, the one sent refused from
        then on (RetryGracePeriodSeconds 0: the stack's 10 s grace only lets a page reloaded mid-refresh
        retry, which nothing here needs), and the new one expiring when the sign-in's first would have."""
        if form.get("client_id") != CONSOLE_CLIENT or not self._console_redirect_uris:
            return Answer(401, {"error": "invalid_client"}, {})
        if not form.get("refresh_token"):
            return _oauth_error(400, "invalid_request", "send refresh_token")
        with self._lock:
            session = self._refresh.pop(form["refresh_token"], None)
        if session is None or session.expires <= time.time() or session.client_id != form["client_id"]:
            return _oauth_error(400, "invalid_grant", "the refresh token is unknown, used already, revoked or expired")
        access = self._issue(session.client_id, list(session.scopes), username=session.username)
        return Answer(200, access | self._keep(session), NO_STORE)

    def _keep(self, session: Session) -> dict[str, str]:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._refresh = {t: s for t, s in self._refresh.items() if s.expires > time.time()}  # the expired go
            self._refresh[token] = session
        return {"refresh_token": token}

    # ------------------------------------------------------------------ revocation and logout
    def revoke(self, headers: dict[str, str], raw: bytes) -> Answer:
        """`POST /oauth2/revoke` (RFC 7009) for the console's public client: the form's refresh token is refused
        from then on. A token unknown (used, revoked, expired) is answered 200 as well (RFC 7009, 2.2): the
        caller wanted it dead and it is."""
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "send the form as application/x-www-form-urlencoded")
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", errors="replace")).items()}
        if form.get("client_id") != CONSOLE_CLIENT or not self._console_redirect_uris:
            return Answer(401, {"error": "invalid_client"}, {})
        if not form.get("token"):
            return _oauth_error(400, "invalid_request", "send the refresh token as token")
        with self._lock:
            session = self._refresh.get(form["token"])
            if session is not None and session.client_id == form["client_id"]:
                del self._refresh[form["token"]]
        return Answer(200, {}, NO_STORE)

    def logout(self, query: dict[str, str]) -> Answer:
        """`GET /logout` as the user pool's: ends the hosted UI's session (the stand-in keeps none: it signs in
        at once) and sends the browser to logout_uri, which must be one registered for the client (the
        console's own address); anything else is answered here, never redirected to."""
        if query.get("client_id") != CONSOLE_CLIENT or not self._console_redirect_uris:
            return _oauth_error(400, "invalid_request", f"client_id must be {CONSOLE_CLIENT} (the console's client)")
        if query.get("logout_uri") not in self._console_redirect_uris:
            registered = " ".join(self._console_redirect_uris)
            return _oauth_error(400, "invalid_request", f"logout_uri must be one registered: {registered}")
        return Answer(302, {}, {"Location": query["logout_uri"], "Cache-Control": "no-store"})

    def _issue(self, client_id: str, scopes: list[str], username: str | None = None) -> dict[str, Any]:
        now = int(time.time())
        token = secrets.token_urlsafe(32)
        claims = {  # an access token's claims, strings as API Gateway passes them
            "sub": username or client_id,
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
        if username:  # a user's sign-in through the console's client, as Cognito names them, an operator
            claims["username"] = username
            claims["cognito:groups"] = OPERATORS_GROUP
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


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # a token answer is never cached (RFC 6749, 5.1)


def _s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))), unpadded (RFC 7636, section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _redirect(redirect_uri: str, state: str | None, **fields: str) -> Answer:
    """Back to the client (302), with the code or the error; `why` travels as error_description."""
    if "why" in fields:
        fields["error_description"] = fields.pop("why")
    query = urlencode({**fields, **({"state": state} if state is not None else {})})
    return Answer(302, {}, {"Location": f"{redirect_uri}?{query}", "Cache-Control": "no-store"})


def _oauth_error(status: int, code: str, description: str) -> Answer:
    return Answer(status, {"error": code, "error_description": description}, {})


def _api_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    """The API's own error shape (API Gateway's gateway responses are shaped alike when deployed)."""
    return Answer(status, {"error": {"code": code, "message": message, "details": []}}, headers or {})


def encoded(answer: Answer) -> tuple[int, bytes, dict[str, str]]:
    return answer.status, json.dumps(answer.body).encode(), {"Content-Type": "application/json", **answer.headers}
