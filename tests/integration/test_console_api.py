"""GET /console: the operator console's page and files, served by the API function as Lambda runs it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from local.infra import ROOT

CONSOLE = ROOT / "functions" / "api" / "console"


def test_the_page_is_served_with_a_policy_that_keeps_it_to_its_own_files_and_api(api):
    answer = api.invoke("GET", "/console")
    assert answer["statusCode"] == 200
    headers = {name: values[-1] for name, values in answer["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    assert {"script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} <= set(policy.split("; "))
    assert '<script type="module" src="console/console.js">' in answer["body"]


def test_every_file_the_page_loads_is_served_and_nothing_else_is(api):
    """What index.html and the scripts reference (relative to /console, so /v1/console works on API
    Gateway) is served; a name the console does not have, or a path out of its folder, is a 404."""
    page = api.invoke("GET", "/console")["body"]
    wanted = {name for name in re.findall(r'(?:src|href)="console/([^"]+)"', page)}
    for script in CONSOLE.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    wanted.discard("config.json")  # fetched by api.js, and answered by a route of its own (below)
    assert wanted == {"console.css", "console.js", "api.js", "drain.js", "view.js", "favicon.svg"}
    for name in wanted:
        answer = api.invoke("GET", f"/console/{name}")
        assert answer["statusCode"] == 200, name
        assert answer["body"] == (CONSOLE / name).read_text()
    for name in ("app.py", "index.html", "..%2Fapp.py"):
        status, body = api.call("GET", f"/console/{name}")
        assert status == 404, name
        assert body["error"]["code"] in ("console_file_not_found", "route_not_found")


def test_the_console_works_offline_nothing_comes_from_another_host():
    for path in CONSOLE.iterdir():
        text = path.read_text().replace("http://www.w3.org/2000/svg", "")  # SVG's namespace, not a fetch
        assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", text, re.I), path.name


def test_the_files_are_read_when_asked_for_not_at_cold_start(aws):
    from local.functions import load

    module = load("api", aws.env("api"))
    assert module._console_file.cache_info().currsize == 0


POOL = "https://ecluse-123456789012.auth.eu-west-3.amazoncognito.com"
CONSOLE_URL = "https://abc123defg.execute-api.eu-west-3.amazonaws.com/v1/console"
COGNITO_STAGE = {
    "consoleSignIn": "pkce",
    "authDomainUrl": POOL,
    "consoleClientId": "4pkceconsoleclient0123456",
    "consoleUrl": CONSOLE_URL,
}


def _policy(answer: dict) -> dict[str, str]:
    headers = {name: values[-1] for name, values in answer["multiValueHeaders"].items()}
    return dict(directive.split(" ", 1) for directive in headers["Content-Security-Policy"].split("; "))


def test_with_pkce_the_config_names_the_pool_and_the_policy_admits_its_origin_and_no_other(api):
    """AWS with AuthMode=COGNITO: the page learns where to sign in, and may fetch the pool's token endpoint."""
    answer = api.invoke("GET", "/console/config.json", stage_variables=COGNITO_STAGE)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {
        "sign_in": "pkce",
        "authorize_url": f"{POOL}/oauth2/authorize",
        "token_url": f"{POOL}/oauth2/token",
        # sign-out: the refresh token revoked (a fetch to the pool's origin), then the hosted UI's session
        # ended, which sends the browser back to the console
        "revoke_url": f"{POOL}/oauth2/revoke",
        "logout_url": f"{POOL}/logout?client_id=4pkceconsoleclient0123456&logout_uri={quote(CONSOLE_URL, safe='')}",
        "client_id": "4pkceconsoleclient0123456",
        "scope": "openid ecluse/declarations ecluse/operations",
    }
    for path in ("/console", "/console/config.json", "/console/api.js"):
        policy = _policy(api.invoke("GET", path, stage_variables=COGNITO_STAGE))
        assert policy["connect-src"] == f"'self' {POOL}", path
        # the way to the hosted UI is a navigation (location.assign), which no directive governs
        assert (policy["default-src"], policy["script-src"], policy["form-action"]) == ("'none'", "'self'", "'self'")
        assert "unsafe-inline" not in str(policy)


@pytest.mark.parametrize(
    ("stage", "offered"),
    [
        (None, "none"),
        ({"consoleSignIn": "none"}, "none"),
        ({"consoleSignIn": "client_credentials"}, "client_credentials"),
    ],
)
def test_without_pkce_the_config_names_no_pool_and_the_policy_admits_only_the_page_origin(api, stage, offered):
    """AuthMode=IAM (no stage variables), make run's form, or auth off: nothing to fetch elsewhere."""
    answer = api.invoke("GET", "/console/config.json", stage_variables=stage)
    assert json.loads(answer["body"]) == {"sign_in": offered}
    assert _policy(api.invoke("GET", "/console", stage_variables=stage))["connect-src"] == "'self'"


@pytest.mark.parametrize(
    "stage",
    [
        {**COGNITO_STAGE, "authDomainUrl": f"{POOL}; script-src *"},  # a policy smuggled in
        {**COGNITO_STAGE, "authDomainUrl": "http://ecluse.auth.eu-west-3.amazoncognito.com"},  # not https
        {**COGNITO_STAGE, "authDomainUrl": f"{POOL}/oauth2"},  # a path
        {"consoleSignIn": "pkce", "authDomainUrl": POOL},  # no client
        {**COGNITO_STAGE, "consoleUrl": ""},  # nowhere for /logout to send the browser back
        {**COGNITO_STAGE, "consoleUrl": "https://ecluse.example.com/v1/console?x=1"},  # a query
        {**COGNITO_STAGE, "consoleUrl": "https://ecluse.example.com/v1/dashboard"},  # not the console's path
        {"consoleSignIn": "implicit"},
    ],
)
def test_a_misconfigured_stage_is_a_500_saying_what_to_fix_and_the_page_keeps_the_narrowest_policy(api, stage):
    answer = api.invoke("GET", "/console/config.json", stage_variables=stage)
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 500
    assert body["error"]["code"] == "console_misconfigured"
    assert "stage variable" in body["error"]["message"]
    page = api.invoke("GET", "/console", stage_variables=stage)
    assert page["statusCode"] == 200
    assert _policy(page)["connect-src"] == "'self'"
