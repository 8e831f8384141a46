"""make run's stand-in for the user pool's authorization code grant with PKCE (local/auth.py), which the
console signs in with as it does on AWS: a code is exchanged once, by the client and redirect_uri it was
issued to, within its five minutes, with the verifier whose SHA-256 is the challenge (RFC 7636, S256)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from ecluse.access import SCOPES, Role
from local.auth import CONSOLE_CLIENT, CONSOLE_USER, Answer, LocalAuth

CONSOLE = "http://127.0.0.1:3000/console"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _challenge(verifier: str) -> str:
    # written out here rather than taken from local.auth: the test holds the stand-in to RFC 7636, 4.2
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def auth() -> LocalAuth:
    return LocalAuth("http://127.0.0.1:3000/local-user-pool", console_redirect_uris=(CONSOLE,))


@pytest.fixture
def verifier() -> str:
    return secrets.token_urlsafe(48)


def _authorize(auth: LocalAuth, verifier: str, **changes: str) -> Answer:
    query = {
        "response_type": "code",
        "client_id": CONSOLE_CLIENT,
        "redirect_uri": CONSOLE,
        "scope": "openid ecluse/declarations ecluse/operations",
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
        "state": "s-123",
        **changes,
    }
    return auth.authorize_code(query)


def _sent_back(answer: Answer) -> dict[str, str]:
    assert answer.status == 302, answer
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CONSOLE
    return {k: v[-1] for k, v in parse_qs(location.query).items()}


def _code(auth: LocalAuth, verifier: str) -> str:
    back = _sent_back(_authorize(auth, verifier))
    assert back["state"] == "s-123"
    return back["code"]


def _exchange(auth: LocalAuth, code: str, verifier: str, **changes: str) -> Answer:
    form = {
        "grant_type": "authorization_code",
        "client_id": CONSOLE_CLIENT,
        "code": code,
        "redirect_uri": CONSOLE,
        "code_verifier": verifier,
        **changes,
    }
    return auth.token(FORM, urlencode(form).encode())


def _refused(answer: Answer, code: str) -> None:
    assert (answer.status, answer.body["error"]) == (400, code), answer
    assert answer.body["error_description"]
    assert "access_token" not in answer.body


def test_a_good_exchange_gives_an_operators_token_the_api_accepts(auth, verifier):
    answer = _exchange(auth, _code(auth, verifier), verifier)
    assert answer.status == 200, answer
    assert answer.headers["Cache-Control"] == "no-store"
    assert (answer.body["token_type"], answer.body["expires_in"]) == ("Bearer", 3600)
    authorized, refused = auth.authorize("GET", "/systems", {"Authorization": f"Bearer {answer.body['access_token']}"})
    assert refused is None
    assert authorized is not None
    claims = authorized["authorizer"]["claims"]
    assert (claims["client_id"], claims["username"]) == (CONSOLE_CLIENT, CONSOLE_USER)
    assert set(claims["scope"].split()) == {SCOPES[Role.ERP], SCOPES[Role.OPERATOR]}


def test_a_wrong_verifier_is_refused_and_spends_the_code(auth, verifier):
    code = _code(auth, verifier)
    _refused(_exchange(auth, code, secrets.token_urlsafe(48)), "invalid_grant")
    _refused(_exchange(auth, code, verifier), "invalid_grant")  # one try: a stolen code is not guessed at


def test_a_code_is_used_once(auth, verifier):
    code = _code(auth, verifier)
    assert _exchange(auth, code, verifier).status == 200
    _refused(_exchange(auth, code, verifier), "invalid_grant")


def test_another_redirect_uri_is_refused(auth, verifier):
    _refused(_exchange(auth, _code(auth, verifier), verifier, redirect_uri=CONSOLE + "/elsewhere"), "invalid_grant")


def test_an_expired_code_is_refused(auth, verifier):
    code = _code(auth, verifier)
    auth.expire_code(code)
    _refused(_exchange(auth, code, verifier), "invalid_grant")


def test_another_client_cannot_exchange_the_code(auth, verifier):
    answer = _exchange(auth, _code(auth, verifier), verifier, client_id="operator-demo")
    assert (answer.status, answer.body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("changes", [{"code_challenge_method": "plain"}, {"code_challenge_method": ""}])
def test_only_an_s256_challenge_is_taken_plain_is_refused(auth, verifier, changes):
    """`plain` sends the verifier itself: whoever sees the request could exchange the code."""
    if changes["code_challenge_method"] == "plain":
        changes["code_challenge"] = verifier[:43]
    back = _sent_back(_authorize(auth, verifier, **changes))
    assert back["error"] == "invalid_request"
    assert "S256" in back["error_description"]
    assert back["state"] == "s-123"
    assert "code" not in back


def test_a_malformed_verifier_or_a_missing_field_is_an_invalid_request(auth, verifier):
    code = _code(auth, verifier)
    _refused(_exchange(auth, code, "too-short"), "invalid_request")
    _refused(_exchange(auth, code, ""), "invalid_request")


@pytest.mark.parametrize("changes", [{"client_id": "erp-demo"}, {"redirect_uri": "https://attacker.example/console"}])
def test_an_unknown_client_or_redirect_uri_is_answered_here_never_redirected_to(auth, verifier, changes):
    """RFC 6749, 4.1.2.1: an open redirector otherwise."""
    answer = _authorize(auth, verifier, **changes)
    assert (answer.status, answer.body["error"]) == (400, "invalid_request")
    assert "Location" not in answer.headers


def test_scopes_beyond_the_consoles_are_refused(auth, verifier):
    back = _sent_back(_authorize(auth, verifier, scope="openid ecluse/everything"))
    assert back["error"] == "invalid_scope"


def test_without_a_registered_console_the_stand_in_offers_no_code_grant(verifier):
    auth = LocalAuth("http://127.0.0.1:3000/local-user-pool")
    assert _authorize(auth, verifier).status == 400
