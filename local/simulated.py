"""A simulated customs system: accepts, rejects or is down on command, and remembers what it received.

Used in-process by tests, and behind `serve()` (the gateway protocol over HTTP on loopback) by `make run`
so the real HTTP adapter is exercised. It lives in local/, not in the layer: nothing local-only ships
(decision 4). Its controls are documented in README.md ("Simulated customs").
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ecluse import systems
from ecluse.gateway import CustomsError, Lodgement, Outcome, SendingError

OUTAGE_KINDS = ("server_error", "timeout", "connection_failed")


@dataclass(frozen=True)
class Received:
    lrn: str
    system: str
    at: float
    marks: tuple[str, ...]
    outcome: Outcome
    eori: str | None = None  # whose LRN: customs keeps an LRN per declaring party


class SimulatedCustoms:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outages: dict[str, str] = {}
        self._rejections: dict[str, CustomsError] = {}
        self._received: list[Received] = []
        self._by_key: dict[tuple[str, str | None, str], Outcome] = {}  # (system, eori, lrn)
        self._sequence = 0
        self.attempts: list[tuple[str, str]] = []  # every lodge call, including refused ones
        self.token: str | None = None  # over HTTP, the bearer token required (None: any or none)

    # controls
    def set_outage(self, system: str, kind: str | None) -> None:
        if kind is not None and kind not in OUTAGE_KINDS:
            raise ValueError(f"outage kind must be one of {OUTAGE_KINDS}")
        with self._lock:
            if kind is None:
                self._outages.pop(system, None)
            else:
                self._outages[system] = kind

    def reject_next(self, lrn: str, code: str, message: str) -> None:
        with self._lock:
            self._rejections[lrn] = CustomsError(code, message)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "outages": dict(self._outages),
                "received": [
                    {
                        "lrn": r.lrn,
                        "eori": r.eori,
                        "system": r.system,
                        "at": r.at,
                        "accepted": r.outcome.accepted,
                        "mrn": r.outcome.mrn,
                        "marks": r.marks,
                    }
                    for r in self._received
                ],
            }

    # gateway
    def lodge(self, lodgement: Lodgement) -> Outcome:
        with self._lock:
            self.attempts.append((lodgement.system, lodgement.lrn))
            outage = self._outages.get(lodgement.system)
            if outage:
                raise SendingError(outage, f"{lodgement.system} is down (simulated)")
            eori = _eori(lodgement.declaration)
            key = (lodgement.system, eori, lodgement.lrn)
            if key in self._by_key:  # what a real system does with a duplicate LRN of the same party
                return Outcome(False, errors=(CustomsError("duplicate_lrn", "LRN already lodged"),))
            rejection = self._rejections.pop(lodgement.lrn, None)
            if rejection:
                outcome = Outcome(False, errors=(rejection,))
            else:
                self._sequence += 1
                country = systems.REGISTRY[lodgement.system].country
                outcome = Outcome(True, mrn=f"{datetime.now(UTC):%y}{country}{self._sequence:014d}")
            self._by_key[key] = outcome
            self._received.append(
                Received(lodgement.lrn, lodgement.system, time.time(), lodgement.marks, outcome, eori)
            )
            return outcome

    def lookup(self, system: str, lrn: str, eori: str | None = None) -> Outcome | None:
        """What customs answered to `eori`'s `lrn`; without `eori`, to anyone's (a gateway keyed by LRN)."""
        with self._lock:
            if system in self._outages:
                raise SendingError(self._outages[system], f"{system} is down (simulated)")
            if eori is not None:
                return self._by_key.get((system, eori, lrn))
            return next((o for (s, _, n), o in self._by_key.items() if (s, n) == (system, lrn)), None)

    def reset(self, system: str) -> None:
        """No circuit here (the submitter wraps customs in one): nothing refuses calls."""


def _eori(declaration: Mapping[str, Any]) -> str | None:
    party = declaration.get("declarant")
    return str(party["eori"]) if isinstance(party, dict) and party.get("eori") else None


def _answer(outcome: Outcome) -> dict[str, Any]:
    if outcome.accepted:
        return {"status": "accepted", "mrn": outcome.mrn}
    return {"status": "rejected", "errors": [{"code": e.code, "message": e.message} for e in outcome.errors]}


def serve(sim: SimulatedCustoms, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve the gateway protocol on loopback; a simulated outage answers as the real thing would."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet: the stack prints its own line
            pass

        def _send(self, status: int, body: Mapping[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.wfile.write(raw)

        def _failure(self, error: SendingError) -> None:
            if error.kind == "timeout":
                time.sleep(60)  # longer than any client timeout
            if error.kind == "connection_failed":
                self.close_connection = True
                self.connection.close()
                return
            self._send(503, {"error": str(error)})

        def _refused(self) -> bool:
            if sim.token and self.headers.get("Authorization") != f"Bearer {sim.token}":
                self._send(401, {"error": "invalid token"})
                return True
            return False

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            if self._refused():
                return
            try:
                outcome = sim.lodge(
                    Lodgement(
                        payload["lrn"],
                        payload["system"],
                        payload.get("declaration") or {},
                        tuple(payload.get("marks") or ()),
                        tuple(payload.get("references") or ()),
                    )
                )
            except SendingError as error:
                self._failure(error)
                return
            self._send(200 if outcome.accepted else 422, _answer(outcome))

        def do_GET(self) -> None:
            if self._refused():
                return
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if len(parts) != 3 or parts[0] != "declarations":
                self._send(404, {"error": "not found"})
                return
            eori = parse_qs(url.query).get("eori", [None])[-1]
            try:
                outcome = sim.lookup(parts[1], parts[2], eori)
            except SendingError as error:
                self._failure(error)
                return
            if outcome is None:
                self._send(404, {"status": "not_received", "lrn": parts[2]})  # the protocol's "never got it"
            else:
                self._send(200, _answer(outcome))

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="simulated-customs", daemon=True).start()
    return server
