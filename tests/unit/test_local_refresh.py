"""make run's stand-in for what keeps the console signed in for a shift and what signs it out (local/auth.py),
as the user pool does with the stack's ConsoleClient: refresh tokens that rotate (each used once), revocation
at /oauth2/revoke, and /logout sending the browser back to the console's address only."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from local.auth import CONSOLE_CLIENT, CONSOLE_USER, REFRESH_SECONDS, Answer, LocalAuth

CONSOLE = "http://127.0.0.1:3000/console"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def auth() -> LocalAuth:
    return LocalAuth("http://127.0.0.1:3000/local-user-pool", console_redirect_uris=(CONSOLE,))


def _signed_in(auth: LocalAuth) -> dict:
    """The console's sign-in: authorize with an S256 challenge, then the code and verifier at the token endpoint."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect = auth.authorize_code(
        {
            "response_type": "code",
            "client_id": CONSOLE_CLIENT,
            "redirect_uri": CONSOLE,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "client_id": CONSOLE_CLIENT, "code": code}
    answer = auth.token(FORM, urlencode({**form, "redirect_uri": CONSOLE, "code_verifier": verifier}).encode())
    assert answer.status == 200, answer
    return answer.body


def _refresh(auth: LocalAuth, refresh_token: str, client_id: str = CONSOLE_CLIENT) -> Answer:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return auth.token(FORM, urlencode(form).encode())


def _revoke(auth: LocalAuth, token: str, client_id: str = CONSOLE_CLIENT) -> Answer:
    return auth.revoke(FORM, urlencode({"token": token, "client_id": client_id}).encode())


def _accepted(auth: LocalAuth, access_token: str) -> dict | None:
    authorized, _ = auth.authorize("GET", "/systems", {"Authorization": f"Bearer {access_token}"})
    return authorized


def _invalid_grant(answer: Answer) -> None:
    assert (answer.status, answer.body["error"]) == (400, "invalid_grant"), answer
    assert "access_token" not in answer.body


def test_the_code_brings_a_refresh_token_that_renews_the_operators_access_without_a_sign_in(auth):
    signed_in = _signed_in(auth)
    auth.expire(signed_in["access_token"])  # the hour is up
    assert _accepted(auth, signed_in["access_token"]) is None
    renewed = _refresh(auth, signed_in["refresh_token"])
    assert renewed.status == 200, renewed
    assert renewed.headers["Cache-Control"] == "no-store"
    assert (renewed.body["token_type"], renewed.body["expires_in"]) == ("Bearer", 3600)
    authorized = _accepted(auth, renewed.body["access_token"])
    assert authorized is not None
    claims = authorized["authorizer"]["claims"]
    assert (claims["username"], claims["client_id"]) == (CONSOLE_USER, CONSOLE_CLIENT)  # the same operator


def test_each_refresh_rotates_the_refresh_token_and_the_one_used_is_refused_after(auth):
    """As Cognito with rotation (RFC 9700, 4.14.2): a refresh token stolen and used, or used twice, is refused."""
    first = _signed_in(auth)["refresh_token"]
    second = _refresh(auth, first).body["refresh_token"]
    assert second != first
    _invalid_grant(_refresh(auth, first))
    third = _refresh(auth, second)
    assert third.status == 200, third
    _invalid_grant(_refresh(auth, second))


def test_a_rotated_refresh_token_ends_with_the_sign_ins_twelve_hours_not_twelve_more(auth, monkeypatch):
    signed_in_at = time.time()
    refresh_token = _signed_in(auth)["refresh_token"]
    monkeypatch.setattr(time, "time", lambda: signed_in_at + REFRESH_SECONDS / 2)  # mid-shift
    rotated = _refresh(auth, refresh_token).body["refresh_token"]
    monkeypatch.setattr(time, "time", lambda: signed_in_at + REFRESH_SECONDS + 1)
    _invalid_grant(_refresh(auth, rotated))


def test_only_the_console_client_refreshes_its_tokens(auth):
    refresh_token = _signed_in(auth)["refresh_token"]
    assert _refresh(auth, refresh_token, client_id="operator-demo").status == 401
    assert _refresh(auth, refresh_token).status == 200  # still the console's to use
    _invalid_grant(_refresh(auth, secrets.token_urlsafe(48)))


def test_a_revoked_refresh_token_is_refused_and_revoking_again_is_no_error(auth):
    refresh_token = _signed_in(auth)["refresh_token"]
    assert _revoke(auth, refresh_token).status == 200
    _invalid_grant(_refresh(auth, refresh_token))
    assert _revoke(auth, refresh_token).status == 200  # RFC 7009, 2.2: an invalid token is no error


def test_another_client_cannot_revoke_the_consoles_refresh_token(auth):
    refresh_token = _signed_in(auth)["refresh_token"]
    assert _revoke(auth, refresh_token, client_id="erp-demo").status == 401
    assert _refresh(auth, refresh_token).status == 200


def test_logout_sends_the_browser_back_to_the_console_and_nowhere_else(auth):
    back = auth.logout({"client_id": CONSOLE_CLIENT, "logout_uri": CONSOLE})
    assert (back.status, back.headers["Location"]) == (302, CONSOLE)
    for query in (
        {"client_id": CONSOLE_CLIENT, "logout_uri": "https://evil.example.com/console"},
        {"client_id": CONSOLE_CLIENT},
        {"client_id": "erp-demo", "logout_uri": CONSOLE},
    ):
        refused = auth.logout(query)
        assert refused.status == 400, query
        assert "Location" not in refused.headers
