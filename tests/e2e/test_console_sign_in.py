"""The console's way in under make run when the API asks for credentials: a 401 shows the sign-in form
(console/config.json says client_credentials), which gets a token from /oauth2/token (client credentials,
HTTP Basic) and sends it as a bearer token on every call; a token in the URL fragment (the implicit
grant's redirect) is no longer taken. Against a stand-in API that knows one client and one token, in a
real browser. The AWS sign-in (authorization code with PKCE) is tests/e2e/test_console_pkce.py."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecluse.operations import view
from ecluse.systems import SystemState
from local.infra import ROOT
from tests.e2e.browser import chromium, wait

pytestmark = pytest.mark.e2e
CONSOLE = ROOT / "functions" / "api" / "console"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
CLIENT, SECRET, TOKEN = "operator-demo", "operator-demo-secret", "token-for-operator-demo"


class StandIn:
    """Serves the console's files as GET /console does, answers /systems only with the token, and hands
    the token to the one client that presents its secret."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        system = view(SystemState("DELTA_G"), datetime.now(UTC))
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/console/config.json":  # what make run's stage says (local/stack.py)
                    self._reply(200, json.dumps({"sign_in": "client_credentials"}).encode())
                    return
                if self.path.startswith("/console"):
                    name = "index.html" if self.path == "/console" else self.path.removeprefix("/console/")
                    file = CONSOLE / name
                    self._reply(200, file.read_bytes(), TYPES[file.suffix])
                    return
                stand_in.authorizations.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    error = {"error": {"code": "unauthenticated", "message": "sign in", "details": []}}
                    self._reply(401, json.dumps(error).encode())
                    return
                self._reply(200, json.dumps({"items": [system]}).encode())

            def do_POST(self) -> None:
                form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                basic = base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
                if (
                    self.path != "/oauth2/token"
                    or form != "grant_type=client_credentials"
                    or (self.headers.get("Authorization") != f"Basic {basic}")
                ):
                    self._reply(401, json.dumps({"error": "invalid_client"}).encode())
                    return
                token = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}
                self._reply(200, json.dumps(token).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.server.shutdown()


def _listed(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#systems tbody tr')].map(r => r.dataset.system)"
    )


def test_a_401_asks_to_sign_in_and_the_token_then_goes_with_every_call(stand_in):
    from selenium.webdriver.common.by import By

    with chromium() as browser:
        browser.get(stand_in.url + "/console")
        wait(browser, "the sign-in form shown", lambda d: d.find_element(By.ID, "sign-in").is_displayed())
        assert _listed(browser) == []
        fields = browser.find_element(By.ID, "sign-in-form")
        fields.find_element(By.NAME, "client_id").send_keys(CLIENT)
        fields.find_element(By.NAME, "client_secret").send_keys("not-the-secret")
        fields.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(browser, "the refusal said", lambda d: "sign-in refused" in d.find_element(By.ID, "message").text)
        fields.find_element(By.NAME, "client_secret").clear()
        fields.find_element(By.NAME, "client_secret").send_keys(SECRET)
        fields.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(browser, "the systems shown", lambda d: _listed(d) == ["DELTA_G"])
        assert not browser.find_element(By.ID, "sign-in").is_displayed()
        assert browser.find_element(By.ID, "sign-out").is_displayed()
        assert browser.execute_script("return sessionStorage.getItem('ecluse.console.refresh')") is None
        # signing out of the form's sign-in stays on the page: nothing to revoke, no hosted session to end
        browser.find_element(By.ID, "sign-out").click()
        wait(browser, "the sign-in form shown again", lambda d: d.find_element(By.ID, "sign-in-form").is_displayed())
        assert browser.execute_script("return location.pathname + location.search") == "/console"
        assert browser.execute_script("return sessionStorage.getItem('ecluse.console.token')") is None
    assert stand_in.authorizations[0] is None
    assert f"Bearer {TOKEN}" in stand_in.authorizations
    assert stand_in.authorizations[-1] is None  # the call after sign-out went without the token


def test_a_token_in_the_url_fragment_is_not_taken(stand_in):
    """The implicit grant's way of handing a token over is gone (RFC 9700, 2.1.2): a link carrying one
    (an attacker's, say) signs nobody in."""
    from selenium.webdriver.common.by import By

    with chromium() as browser:
        browser.get(f"{stand_in.url}/console#access_token={TOKEN}&token_type=Bearer&expires_in=3600")
        wait(browser, "the sign-in form shown", lambda d: d.find_element(By.ID, "sign-in").is_displayed())
        assert browser.execute_script("return sessionStorage.getItem('ecluse.console.token')") is None
        assert _listed(browser) == []
    assert f"Bearer {TOKEN}" not in stand_in.authorizations
