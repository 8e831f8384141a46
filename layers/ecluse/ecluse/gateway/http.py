"""HTTP adapter to a customs system or EDI provider speaking docs/gateway-protocol.md.

stdlib only (urllib): no extra dependency in the layer, and nothing to import on the API's cold start.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request

from ecluse.gateway import CustomsError, Lodgement, Outcome, SendingError

_RETRYABLE_STATUS = frozenset({408, 425, 429})


class HttpGateway:
    def __init__(self, base_url: str, token: str | None = None, timeout_seconds: float = 10.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"customs gateway URL must be http(s), got {base_url!r}")
        self._base = base_url.rstrip("/")
        self._token = token
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
        raise SendingError("unexpected_status", f"HTTP {status}")

    def lookup(self, system: str, lrn: str) -> Outcome | None:
        path = f"/declarations/{urllib.parse.quote(system, safe='')}/{urllib.parse.quote(lrn, safe='')}"
        status, body = self._call("GET", path, None)
        if status == 404 and body.get("status") == "not_received" and body.get("lrn") == lrn:
            return None  # the protocol's own answer: a 404 from a proxy or a wrong path is not one
        if status == 200:
            return _outcome(body)
        raise SendingError("unexpected_status", f"HTTP {status} without the protocol's answer")

    def _call(self, method: str, path: str, payload: dict | None) -> tuple[int, dict]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self._base + path, data=data, method=method)  # noqa: S310 (scheme checked)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code in _RETRYABLE_STATUS:
                raise SendingError("server_error", f"HTTP {error.code}") from error
            return error.code, _json(error.read())
        except TimeoutError as error:
            raise SendingError("timeout", f"no answer within {self._timeout:g} s") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                raise SendingError("timeout", f"no answer within {self._timeout:g} s") from error
            raise SendingError("connection_failed", str(error.reason)) from error
        except ConnectionError as error:
            raise SendingError("connection_failed", str(error)) from error


def _json(raw: bytes) -> dict:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError as error:
        raise SendingError("bad_answer", "customs answered with something that is not JSON") from error
    return parsed if isinstance(parsed, dict) else {}


def _outcome(body: dict) -> Outcome:
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
