"""A busy border on `make run`'s stack, driven over HTTP by real threads: ERPs lodging at once, an
operator flipping one system at a time UNAVAILABLE then AVAILABLE, customs answering 503 for CDS two
seconds out of every five; then everything AVAILABLE and the backlog left to drain.

Used by the chaos suite (a short run in `make test`) and by `make soak` (longer, several numbered runs).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.chaos.invariants import FINAL, Observation, Receipt, declaration_key
from tests.factories import EORI, declaration_body
from tests.stack_process import start_local_stack

SYSTEMS = ("DELTA_G", "CDS", "DMS_NL")


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@contextmanager
def local_stack(log: Path, **environment: str) -> Iterator[Http]:
    """`make run`'s stack in a child process (tests.stack_process), open unless `LOCAL_AUTH="on"` is given:
    what these tests prove does not depend on who calls (tests/e2e/test_local_auth.py does)."""
    base, process = start_local_stack(log, **environment)
    try:
        yield Http(base)
    finally:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Border:
    draw: int = 1
    erps: int = 6
    per_erp: int = 20
    down_seconds: float = 2.5
    up_seconds: float = 1.0
    rate_per_minute: int = 1200
    burst: int = 50
    drain_seconds: float = 120.0


@dataclass
class BorderReport:
    lodged: int
    flips: int
    customs_outages: int
    seconds: float
    observation: Observation


def run(http: Http, border: Border) -> BorderReport:
    started = time.monotonic()
    for system in SYSTEMS:
        http("PUT", f"/systems/{system}/release", {"rate_per_minute": border.rate_per_minute, "burst": border.burst})
    lodged: list[str] = []
    lock = threading.Lock()
    storm_over = threading.Event()
    counts = {"flips": 0, "outages": 0}
    erps = [threading.Thread(target=_erp, args=(http, border, n, lodged, lock)) for n in range(border.erps)]
    storms = [
        threading.Thread(target=_operator, args=(http, border, storm_over, counts)),
        threading.Thread(target=_customs, args=(http, storm_over, counts)),
    ]
    for thread in [*erps, *storms]:
        thread.start()
    for thread in erps:
        thread.join()
    storm_over.set()
    for thread in storms:
        thread.join()
    for system in SYSTEMS:
        http("DELETE", "/_sim/outage", {"system": system})
        http("PUT", f"/systems/{system}/status", {"status": "AVAILABLE", "reason": "storm over"})
    ledger = _wait_until_final(http, lodged, border.drain_seconds)
    observation = _observe(http, ledger, lodged, border)
    return BorderReport(len(lodged), counts["flips"], counts["outages"], time.monotonic() - started, observation)


def _erp(http: Http, border: Border, number: int, lodged: list[str], lock: threading.Lock) -> None:
    rng = random.Random(border.draw * 1000 + number)
    for _ in range(border.per_erp):
        body = declaration_body(system=rng.choice(SYSTEMS))
        status, answer = http("POST", "/declarations", body)
        if status not in (200, 202):
            raise AssertionError(f"lodging answered {status}: {answer}")
        with lock:
            lodged.append(body["lrn"])
        time.sleep(rng.uniform(0.1, 0.6))


def _operator(http: Http, border: Border, storm_over: threading.Event, counts: dict[str, int]) -> None:
    for system in itertools.cycle(SYSTEMS):
        if storm_over.is_set():
            return
        http("PUT", f"/systems/{system}/status", {"status": "UNAVAILABLE", "reason": "border storm"})
        storm_over.wait(border.down_seconds)
        http("PUT", f"/systems/{system}/status", {"status": "AVAILABLE", "reason": "border storm"})
        counts["flips"] += 2
        storm_over.wait(border.up_seconds)


def _customs(http: Http, storm_over: threading.Event, counts: dict[str, int]) -> None:
    while not storm_over.is_set():
        http("POST", "/_sim/outage", {"system": "CDS", "kind": "server_error"})
        counts["outages"] += 1
        storm_over.wait(2)
        http("DELETE", "/_sim/outage", {"system": "CDS"})
        storm_over.wait(3)


def _wait_until_final(http: Http, lrns: list[str], seconds: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    ledger: dict[str, dict[str, Any]] = {}
    while True:
        for lrn in lrns:
            if ledger.get(lrn, {}).get("state") not in FINAL:
                ledger[lrn] = http("GET", f"/declarations/{lrn}")[1]
        if all(record.get("state") in FINAL for record in ledger.values()) or time.monotonic() > deadline:
            return ledger
        time.sleep(1)


def _observe(http: Http, ledger: dict[str, dict[str, Any]], lodged: list[str], border: Border) -> Observation:
    """Every ERP of the border lodges for the factory's party (EORI): its LRNs are that party's."""
    counters = {system: http("GET", f"/systems/{system}")[1] for system in SYSTEMS}
    received = [
        Receipt(r["lrn"], r["system"], r.get("mrn"), r.get("eori")) for r in http("GET", "/_sim/state")[1]["received"]
    ]
    return Observation(
        ledger={declaration_key(EORI, lrn): record for lrn, record in ledger.items() if "lrn" in record},
        counters=counters,
        received=received,
        lodged=[declaration_key(EORI, lrn) for lrn in lodged],
        rate_per_minute=border.rate_per_minute,
        burst=border.burst,
    )
