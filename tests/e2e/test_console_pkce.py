"""The console signs in as it does on AWS with AuthMode=COGNITO, against make run's stand-in for the user
pool (CONSOLE_SIGN_IN=pkce, local/auth.py): authorization code with PKCE, S256 (RFC 7636), in Debian's
Chromium. The browser's own network log is the witness of what it sent: the challenge on the way out, the
verifier with the code on the way back, and SHA-256 of the one is the other. Then a shift: the console
renews an expired access token with the rotating refresh token without a new sign-in, one renewal at a
time, and signing out revokes the refresh token and ends the session at the stand-in's /logout; it signs out
the browser's other tabs too (each revokes its own refresh token), and when the sign-in settings do not load
it empties the tab all the same and says the session could not be ended."""

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


# ------------------------------------------------------------------ staying signed in for a shift, signing out
REFRESH_KEY, EXPIRES_KEY = "ecluse.console.refresh", "ecluse.console.expires"


def _signed_in(browser: Any, base: str) -> tuple[str, str]:
    """Signed in with PKCE: the access token and the refresh token the tab holds."""
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/console")
    wait(browser, "the hosted sign-in offered", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
    browser.find_element(By.ID, "sign-in-start").click()
    wait(browser, "the systems shown", lambda d: len(_listed(d)) > 0)
    access, refresh = _held(browser)
    assert access
    assert refresh
    return access, refresh


def _held(browser: Any) -> tuple[str | None, str | None]:
    return tuple(browser.execute_script(f"return ['{TOKEN_KEY}', '{REFRESH_KEY}'].map(k => sessionStorage.getItem(k))"))


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def _refresh_with(base: str, refresh_token: str) -> tuple[int, dict[str, Any]]:
    """The token endpoint asked to renew with a refresh token, as the console does (public client, no secret)."""
    form = {"grant_type": "refresh_token", "client_id": CONSOLE_CLIENT, "refresh_token": refresh_token}
    return _post(f"{base}/oauth2/token", urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded")


def _api_status(base: str, access_token: str) -> int:
    request = urllib.request.Request(f"{base}/systems", headers={"Authorization": f"Bearer {access_token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _expire(base: str, access_token: str) -> None:
    """The stand-in's hook: this access token's hour is up now."""
    status, _ = _post(f"{base}/_sim/expire-token", json.dumps({"token": access_token}).encode(), "application/json")
    assert status == 200


def test_the_console_renews_its_token_and_stays_signed_in_and_a_used_refresh_token_is_refused(base):
    from selenium.webdriver.common.by import By

    with chromium(network_log=True) as browser:
        access, refresh = _signed_in(browser, base)
        _expire(base, access)  # an hour into the shift
        assert _api_status(base, access) == 401
        # the console's next call is refused, it renews, and goes on: no sign-in asked for
        wait(browser, "the access token renewed", lambda d: _held(d)[0] not in (None, access))
        renewed, rotated = _held(browser)
        assert rotated not in (None, refresh)
        assert _api_status(base, renewed) == 200
        wait(browser, "the systems shown again", lambda d: len(_listed(d)) > 0)
        assert not browser.find_element(By.ID, "sign-in").is_displayed()
        # rotation: the refresh token the console used is refused from then on
        status, refused = _refresh_with(base, refresh)
        assert (status, refused.get("error")) == (400, "invalid_grant"), refused

        # two minutes before its expiry, the console renews ahead, while the token still works (no 401 first)
        browser.execute_script(f"sessionStorage.setItem('{EXPIRES_KEY}', String(Date.now() + 60000))")
        wait(browser, "the access token renewed ahead", lambda d: _held(d)[0] not in (None, renewed))
        assert _api_status(base, renewed) == 200  # it had not expired: renewed ahead of a refusal
        assert _held(browser)[1] not in (None, rotated)
        wait(browser, "the systems shown again", lambda d: len(_listed(d)) > 0)
        assert not browser.find_element(By.ID, "sign-in").is_displayed()

        # an operator's action while the 4 s refresh is on the way: both refused, one renewal for both (a
        # second, with the refresh token the first rotated, would be refused and sign the operator out)
        _expire(base, _held(browser)[0])
        both = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "import('/console/api.js')"  # the page's own module: the same URL is the same instance
            ".then(api => Promise.all([api.call('GET', 'systems'), api.call('GET', 'systems')]))"
            ".then(answers => done(answers.map(a => a.items.length)), error => done(String(error)));"
        )
        assert isinstance(both, list), both
        assert min(both) > 0
        assert not browser.find_element(By.ID, "sign-in").is_displayed()
        sent = requests_sent(browser)

    assert len([r for r in sent if urlsplit(r["url"]).path == "/oauth2/authorize"]) == 1  # signed in once
    renewals = [
        parse_qs(r["postData"])
        for r in sent
        if urlsplit(r["url"]).path == "/oauth2/token" and "grant_type=refresh_token" in r.get("postData", "")
    ]
    used = [form["refresh_token"][0] for form in renewals]
    assert used[:2] == [refresh, rotated]
    assert len(used) == len(set(used)) >= 3  # each refresh token sent once: never two renewals at once
    assert all(form["client_id"] == [CONSOLE_CLIENT] for form in renewals)
    assert all(
        "Authorization" not in r["headers"] for r in sent if urlsplit(r["url"]).path == "/oauth2/token"
    )  # a public client: no secret


def test_signing_out_revokes_the_refresh_token_and_ends_the_hosted_session(base):
    from selenium.webdriver.common.by import By

    with chromium(network_log=True) as browser:
        _, refresh = _signed_in(browser, base)
        wait(browser, "the sign-out offered", lambda d: d.find_element(By.ID, "sign-out").is_displayed())
        browser.find_element(By.ID, "sign-out").click()
        wait(browser, "the sign-in offered again", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        assert browser.execute_script("return location.pathname + location.search") == "/console"
        assert _held(browser) == (None, None)
        sent = requests_sent(browser)

    status, refused = _refresh_with(base, refresh)
    assert (status, refused.get("error")) == (400, "invalid_grant"), refused  # revoked: nobody renews with it any more
    paths = [urlsplit(r["url"]).path for r in sent]
    [revoke] = [r for r in sent if urlsplit(r["url"]).path == "/oauth2/revoke"]
    assert revoke["method"] == "POST"
    assert parse_qs(revoke["postData"]) == {"token": [refresh], "client_id": [CONSOLE_CLIENT]}
    [logout] = [r for r in sent if urlsplit(r["url"]).path == "/logout"]
    assert _query(logout["url"]) == {"client_id": CONSOLE_CLIENT, "logout_uri": f"{base}/console"}
    # revoked, then the hosted session ended, then back on the console
    assert paths.index("/oauth2/revoke") < paths.index("/logout") < len(paths) - 1 - paths[::-1].index("/console")


def test_a_refused_renewal_shows_the_sign_in_and_says_the_session_ended(base):
    from selenium.webdriver.common.by import By

    with chromium() as browser:
        access, refresh = _signed_in(browser, base)
        form = urllib.parse.urlencode({"token": refresh, "client_id": CONSOLE_CLIENT}).encode()
        assert _post(f"{base}/oauth2/revoke", form, "application/x-www-form-urlencoded")[0] == 200  # elsewhere
        _expire(base, access)
        wait(browser, "the sign-in offered again", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        wait(browser, "the end said", lambda d: "session ended" in d.find_element(By.ID, "message").text)
        assert _held(browser) == (None, None)


# ------------------------------------------------------------------ signing out everywhere in the browser
def test_signing_out_in_one_tab_signs_out_the_other_tabs_and_revokes_their_refresh_tokens(base):
    from selenium.webdriver.common.by import By

    with chromium() as browser:
        first = browser.current_window_handle
        _, first_refresh = _signed_in(browser, base)
        browser.switch_to.new_window("tab")  # the same browser: sessionStorage is the tab's, so it signs in too
        second = browser.current_window_handle
        _, second_refresh = _signed_in(browser, base)
        assert second_refresh != first_refresh

        browser.switch_to.window(first)
        wait(browser, "the sign-out offered", lambda d: d.find_element(By.ID, "sign-out").is_displayed())
        browser.find_element(By.ID, "sign-out").click()
        wait(browser, "the sign-in offered again", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())

        browser.switch_to.window(second)
        wait(browser, "the sign-in offered there", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        wait(browser, "why said", lambda d: "signed out in another tab" in d.find_element(By.ID, "message").text)
        assert _held(browser) == (None, None)
        assert browser.execute_script("return location.pathname + location.search") == "/console"  # no /logout here
        assert _listed(browser) == []  # what it showed is gone too
        assert not browser.find_element(By.ID, "sign-out").is_displayed()

    for refresh in (first_refresh, second_refresh):  # each tab revoked its own
        status, refused = _refresh_with(base, refresh)
        assert (status, refused.get("error")) == (400, "invalid_grant"), refused


def test_a_sign_out_whose_settings_do_not_load_empties_the_tab_says_so_and_can_be_done_again(base):
    from selenium.webdriver.common.by import By

    with chromium(network_log=True) as browser:
        _, refresh = _signed_in(browser, base)
        browser.refresh()  # signed in still, and the sign-in settings not loaded in this page
        wait(browser, "the sign-out offered", lambda d: d.find_element(By.ID, "sign-out").is_displayed())
        requests_sent(browser)  # what came before
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/console/config.json"]})
        browser.find_element(By.ID, "sign-out").click()
        wait(browser, "the failure said", lambda d: "could not be ended" in d.find_element(By.ID, "message").text)
        message = browser.find_element(By.ID, "message").text
        assert "Close the browser" in message
        assert _held(browser) == (None, None)
        assert _listed(browser) == []
        sent = [urlsplit(r["url"]).path for r in requests_sent(browser)]
        assert "/console/config.json" in sent
        assert "/oauth2/revoke" not in sent
        assert "/logout" not in sent  # the pool's session goes on: hence the message

        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})  # the network is back
        wait(browser, "the sign-out offered again", lambda d: d.find_element(By.ID, "sign-out").is_displayed())
        browser.find_element(By.ID, "sign-out").click()
        wait(browser, "the sign-in offered", lambda d: d.find_element(By.ID, "sign-in-start").is_displayed())
        assert _held(browser) == (None, None)
        sent_again = requests_sent(browser)

    [revoke] = [r for r in sent_again if urlsplit(r["url"]).path == "/oauth2/revoke"]
    assert parse_qs(revoke["postData"]) == {"token": [refresh], "client_id": [CONSOLE_CLIENT]}  # kept for this
    assert [r for r in sent_again if urlsplit(r["url"]).path == "/logout"]
    status, refused = _refresh_with(base, refresh)
    assert (status, refused.get("error")) == (400, "invalid_grant"), refused
