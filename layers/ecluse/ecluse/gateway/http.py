"""HTTP adapter to a customs system or EDI provider speaking docs/gateway-protocol.md.

stdlib only (urllib): no extra dependency in the layer, and nothing to import on the API's cold start.
HTTPS only (plain HTTP on loopback, for the local stack and tests); redirects are never followed, so the
bearer token goes to the configured host and nowhere else (ecluse.no_redirects). The token is asked for
on every call (its source caches it) and asked again, fresh, after a 401: a rotated token costs one
refused call.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ecluse.gateway import CustomsError, GatewayRefusedCredentials, Lodgement, Outcome, SendingError
from ecluse.no_redirects import opener

logger = logging.getLogger(__name__)
_RETRYABLE_STATUS = frozenset({408, 425, 429})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# token(refresh) -> the bearer token, read afresh when refresh is True; None when the gateway needs none
TokenSource = Callable[[bool], str | None]


def _checked(base_url: str) -> str:
    url = urllib.parse.urlsplit(base_url)
    if url.scheme == "https" or (url.scheme == "http" and url.hostname in _LOOPBACK):
        return base_url.rstrip("/")
    raise ValueError(
        f"customs gateway URL must be https:// (http:// only on loopback, for local runs), got {base_url!r}"
    )


class HttpGateway:
    def __init__(self, base_url: str, token: str | TokenSource | None = None, timeout_seconds: float = 10.0) -> None:
        self._base = _checked(base_url)
        self._token: TokenSource = token if callable(token) else _fixed(token)
        self._timeout = timeout_seconds

    def lodge(self, lodgement: Lodgement) -> Outcome:
        payload = {
            "lrn": lodgement.lrn,
            "system": lodgement.system,
            "declaration": lodgement.declaration,
            "marks": list(lodgement.marks),
            "references": list(lodgement.references),
        }
        status, body = self._call("POST", "/declarations", payload)
        if status in (200, 201, 422):
            return _outcome(body)
        raise SendingError("unexpected_status", _unexpected(status))

    def lookup(self, system: str, lrn: str, eori: str | None = None) -> Outcome | None:
        path = f"/declarations/{urllib.parse.quote(system, safe='')}/{urllib.parse.quote(lrn, safe='')}"
        if eori:  # whose LRN: two parties may use the same one (docs/gateway-protocol.md)
            path += "?" + urllib.parse.urlencode({"eori": eori})
        status, body = self._call("GET", path, None)
        if status == 404 and body.get("status") == "not_received" and body.get("lrn") == lrn:
            return None  # the protocol's own answer: a 404 from a proxy or a wrong path is not one
        if status == 200:
            return _outcome(body)
        raise SendingError("unexpected_status", _unexpected(status))

    def reset(self, system: str) -> None:
        """No circuit here (`aws.customs_circuit` wraps this gateway in one): nothing refuses calls."""

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        token = self._token(False)
        status, body = self._send(method, path, payload, token)
        if status == 401 and token is not None:
            fresh = self._token(True)  # rotated since it was cached? a 401 is answered before any work
            if fresh != token:
                status, body = self._send(method, path, payload, fresh)
        if status in (401, 403):
            raise GatewayRefusedCredentials(f"HTTP {status}: check the gateway token (CustomsGatewayTokenParameter)")
        return status, _json(body)

    def _send(self, method: str, path: str, payload: dict[str, Any] | None, token: str | None) -> tuple[int, bytes]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self._base + path, data=data, method=method)  # noqa: S310 (scheme checked)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with opener().open(request, timeout=self._timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code in _RETRYABLE_STATUS:
                raise SendingError("server_error", f"HTTP {error.code}") from error
            return error.code, error.read()
        except TimeoutError as error:
            raise SendingError("timeout", f"no answer within {self._timeout:g} s") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                raise SendingError("timeout", f"no answer within {self._timeout:g} s") from error
            raise _connection_failed(error.reason) from error
        except ConnectionError as error:
            raise _connection_failed(error) from error


def _fixed(token: str | None) -> TokenSource:
    def source(_refresh: bool) -> str | None:
        return token

    return source


def _connection_failed(reason: object) -> SendingError:
    # The error's own text (host names, addresses, resolver and TLS details) is for the logs: the
    # declaration's history, which ERPs read, gets the code and a plain sentence.
    logger.warning("customs gateway connection failed: %s", reason)
    return SendingError("connection_failed", "the connection to customs failed or was cut")


def _unexpected(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed (the token would go with them); fix CustomsGatewayUrl"
    return f"HTTP {status} without the protocol's answer"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError as error:
        raise SendingError("bad_answer", "customs answered with something that is not JSON") from error
    return parsed if isinstance(parsed, dict) else {}


def _outcome(body: dict[str, Any]) -> Outcome:
    if body.get("status") == "accepted" and body.get("mrn"):
        return Outcome(accepted=True, mrn=str(body["mrn"]))
    if body.get("status") == "rejected":
        errors = tuple(
            CustomsError(str(e.get("code", "")), str(e.get("message", "")))
            for e in body.get("errors", [])
            if isinstance(e, dict)
        )
        return Outcome(accepted=False, errors=errors)
    raise SendingError("bad_answer", "customs answer has neither an MRN nor a rejection")
