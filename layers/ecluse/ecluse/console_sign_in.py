"""How the operator console signs in, and the Content-Security-Policy its page and files carry.

The deployment says it through four API Gateway stage variables (template.yaml, `Api`'s `Variables`;
make run's stand-in sets them the same way). Stage variables, not the function's environment: the
console's app client names the API in its callback URL, the API names the function in its integrations,
so the function's environment cannot name the client (a circular dependency CloudFormation refuses).

- `pkce`: AWS with `AuthMode=COGNITO`. The page signs in at the user pool's hosted UI with the
  authorization code grant and PKCE (S256), then posts the code to the pool's token endpoint itself:
  the policy's `connect-src` names that one origin beside the page's own. It keeps the refresh token the
  code brings, renews the access token at the same endpoint, and at sign-out revokes the refresh token
  there (`/oauth2/revoke`, a fetch: the same origin) and ends the hosted UI's session at `/logout` (a
  navigation, which CSP does not govern), which sends the browser back to the console's own address.
- `client_credentials`: make run. The page's form posts a client id and secret to `/oauth2/token` on its
  own origin (local/auth.py).
- `none`: `AuthMode=IAM` or make run with `LOCAL_AUTH=off`: the page offers no sign-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal
from urllib.parse import urlencode

from ecluse.access import SCOPES

SignIn = Literal["pkce", "client_credentials", "none"]
_SIGN_INS: dict[str, SignIn] = {"pkce": "pkce", "client_credentials": "client_credentials", "none": "none"}
SIGN_IN_VARIABLE, DOMAIN_VARIABLE, CLIENT_VARIABLE = "consoleSignIn", "authDomainUrl", "consoleClientId"
CONSOLE_URL_VARIABLE = "consoleUrl"  # where /logout sends the browser back: exactly one of the client's LogoutURLs
# what the console asks for: the operator's and the ERP's scopes (operators hold both), and openid, which
# Cognito's authorize endpoint wants alongside custom scopes for a user's sign-in
CONSOLE_SCOPES = ("openid", *SCOPES.values())
# An origin and nothing else: it goes into a header, so no path, space, quote or semicolon may ride along
_ORIGIN = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}$|^http://127\.0\.0\.1:[0-9]{1,5}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# The console's own address: an origin as above, then a path ending in /console (API Gateway's /v1/console)
_CONSOLE_URL = re.compile(
    r"^(https://[a-z0-9.-]+\.[a-z]{2,}(/[A-Za-z0-9._~-]+)*|http://127\.0\.0\.1:[0-9]{1,5})/console$"
)
# A <button> click or location.assign() is a navigation: CSP governs neither (form-action governs form
# submissions only), so sending the operator to the hosted UI needs no directive; fetching its token
# endpoint does (connect-src).
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class ConsoleSignIn:
    sign_in: SignIn
    domain: str = ""  # the user pool's origin (pkce only): https://<prefix>-<account>.auth.<region>.amazoncognito.com
    client_id: str = ""  # the console's public app client (pkce only): no secret
    console_url: str = ""  # the console's own address (pkce only), where the pool's /logout sends the browser

    def config(self) -> dict[str, Any]:
        """GET /console/config.json: what the page needs to sign in. Nothing in it is secret."""
        if self.sign_in != "pkce":
            return {"sign_in": self.sign_in}
        logout = urlencode({"client_id": self.client_id, "logout_uri": self.console_url})
        return {
            "sign_in": "pkce",
            "authorize_url": f"{self.domain}/oauth2/authorize",
            "token_url": f"{self.domain}/oauth2/token",
            "revoke_url": f"{self.domain}/oauth2/revoke",
            "logout_url": f"{self.domain}/logout?{logout}",
            "client_id": self.client_id,
            "scope": " ".join(CONSOLE_SCOPES),
        }

    def content_security_policy(self) -> str:
        return _policy(self.domain if self.sign_in == "pkce" else "")


@cache
def _policy(extra_origin: str) -> str:
    return _POLICY.format(connect=" ".join(("'self'", extra_origin)) if extra_origin else "'self'")


def from_stage_variables(variables: dict[str, str] | None) -> ConsoleSignIn:
    """The sign-in the stage's variables describe. PKCE with a domain that is not an origin, a client id
    that is not one, or a console address that is not one, raises ValueError naming what to fix: a console
    that cannot sign in should say so, not send operators to a wrong address."""
    variables = variables or {}
    sign_in = _SIGN_INS.get(variables.get(SIGN_IN_VARIABLE, "none"))
    if sign_in is None:
        raise ValueError(f"stage variable {SIGN_IN_VARIABLE} must be pkce, client_credentials or none")
    if sign_in != "pkce":
        return ConsoleSignIn(sign_in)
    domain, client_id = variables.get(DOMAIN_VARIABLE, ""), variables.get(CLIENT_VARIABLE, "")
    if not _ORIGIN.match(domain):
        raise ValueError(f"stage variable {DOMAIN_VARIABLE} must be the user pool domain's https origin, no path")
    if not _CLIENT_ID.match(client_id):
        raise ValueError(f"stage variable {CLIENT_VARIABLE} must be the console app client's id")
    console_url = variables.get(CONSOLE_URL_VARIABLE, "")
    if not _CONSOLE_URL.match(console_url):
        raise ValueError(f"stage variable {CONSOLE_URL_VARIABLE} must be the console's https address, up to /console")
    return ConsoleSignIn("pkce", domain, client_id, console_url)
