"""The console signs in as it does on AWS with AuthMode=COGNITO, against make run's stand-in for the user
pool (CONSOLE_SIGN_IN=pkce, local/auth.py): authorization code with PKCE, S256 (RFC 7636), in Debian's
Chromium. The browser's own network log is the witness of what it sent: the challenge on the way out, the
verifier with the code on the way back, and SHA-256 of the one is the other."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.auth import CONSOLE_CLIENT
from tests.chaos.border import local_stack
from tests.e2e.browser import chromium, requests_sent, wait

pytestmark = pytest.mark.e2e
TOKEN_KEY, PENDING_KEY = "ecluse.console.token", "ecluse.console.sign-in"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with local_stack(log, LOCAL_AUTH="on", CONSOLE_SIGN_IN="pkce") as http:
        yield http.base


def _listed(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#systems tbody tr')].map(r => r.dataset.system)"
    )


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def test_the_console_signs_in_with_a_code_and_pkce_and_keeps_no_code_in_the_address(base):
    from selenium.webdriver.common.by import By

    config = json.loads(urllib.request.urlopen(f"{base}/console/config.json", timeout=10).read())
    assert (config["sign_in"], config["client_id"]) == ("pkce", CONSOLE_CLIENT)
    with chromium(network_log=True) as browser:
        browser.get(f"{base}/console")
        wait(browser, "the hosted sign-in offered", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        assert not browser.find_element(By.ID, "sign-in-form").is_displayed()  # no secret asked for
        browser.find_element(By.ID, "sign-in-start").click()
        wait(browser, "the systems shown", lambda d: len(_listed(d)) > 0)
        assert browser.execute_script("return location.search") == ""  # neither code nor state left
        assert browser.execute_script("return location.pathname") == "/console"
        assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')")
        assert browser.execute_script(f"return sessionStorage.getItem('{PENDING_KEY}')") is None
        assert not browser.find_element(By.ID, "sign-in").is_displayed()
        sent = requests_sent(browser)

    [authorize] = [r for r in sent if urlsplit(r["url"]).path == "/oauth2/authorize"]
    asked = _query(authorize["url"])
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CONSOLE_CLIENT
    assert asked["redirect_uri"] == f"{base}/console"
    assert asked["scope"].split() == ["openid", "ecluse/declarations", "ecluse/operations"]
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 16
    [back] = [r for r in sent if urlsplit(r["url"]).path == "/console" and "code=" in r["url"]]
    assert _query(back["url"])["state"] == asked["state"]
    [exchange] = [r for r in sent if urlsplit(r["url"]).path == "/oauth2/token"]
    assert exchange["method"] == "POST"
    form = {k: v[-1] for k, v in parse_qs(exchange["postData"]).items()}
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == _query(back["url"])["code"]
    assert form["redirect_uri"] == asked["redirect_uri"]
    assert 43 <= len(form["code_verifier"]) <= 128
    assert _s256(form["code_verifier"]) == asked["code_challenge"]
    assert "Authorization" not in exchange["headers"]  # a public client: no secret goes anywhere


def _code_for_someone_else(base: str) -> str:
    """A real code, got as an attacker would for their own sign-in (their challenge, their state)."""
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": CONSOLE_CLIENT,
            "redirect_uri": f"{base}/console",
            "code_challenge": _s256("a" * 43),
            "code_challenge_method": "S256",
            "state": "the-attackers-state",
        }
    )

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as redirect:  # a redirect not followed is an HTTPError
        urllib.request.build_opener(Stay).open(f"{base}/oauth2/authorize?{query}", timeout=10)
    assert redirect.value.code == 302
    return _query(redirect.value.headers["Location"])["code"]


def test_an_answer_whose_state_this_tab_did_not_send_is_refused_and_said(base):
    from selenium.webdriver.common.by import By

    code = _code_for_someone_else(base)
    with chromium(network_log=True) as browser:
        browser.get(f"{base}/console")
        wait(browser, "the hosted sign-in offered", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        # this tab started a sign-in of its own; the link it is then sent to carries another one's answer
        browser.execute_script(
            f"sessionStorage.setItem('{PENDING_KEY}', JSON.stringify({{verifier: 'v'.repeat(64), state: 'mine'}}))"
        )
        browser.get(f"{base}/console?code={code}&state=the-attackers-state")
        wait(browser, "the refusal said", lambda d: "state differs" in d.find_element(By.ID, "message").text)
        assert browser.find_element(By.ID, "message").get_attribute("data-kind") == "error"
        assert browser.execute_script("return location.search") == ""
        assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None
        assert browser.find_element(By.ID, "sign-in-start").is_displayed()  # sign in again, properly
        sent = requests_sent(browser)
    assert not [r for r in sent if urlsplit(r["url"]).path == "/oauth2/token"]  # the code was never spent
    assert _listed_nothing(sent)


def _listed_nothing(sent: list[dict[str, Any]]) -> bool:
    """No call went out with a token: every /systems request was the unauthenticated first one."""
    return all("Authorization" not in r["headers"] for r in sent if urlsplit(r["url"]).path == "/systems")
