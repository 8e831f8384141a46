"""A whole outage on `make run`'s stack, every function logging at the deployed level with its metrics on,
and not one line of what they wrote carries a declarant's name, address or anything of a declaration's body.

Distinctive words are planted in those fields; the stack's whole output (every handler's logs, EMF
metrics, warnings, tracebacks) is searched for them. The answers carry them: that shows the words went
where a log could have picked them up."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from local.infra import TEMPLATE
from tests.factories import declaration_body
from tests.stack_process import start_local_stack

pytestmark = pytest.mark.e2e

PLANTED = {  # field -> a word found nowhere else
    "declarant name": "Qzvname",
    "street": "Qzvstreet",
    "city": "Qzvcity",
    "goods description": "Qzvgoods",
    "document reference": "QZVDOC",
    "delivery place": "Qzvplace",
    "native customs message": "Qzvmessage",
}
SYSTEM = "DELTA_G"


def _body(**overrides: object) -> dict:
    body = declaration_body(system=SYSTEM, **overrides)
    body["declarant"]["name"] = f"{PLANTED['declarant name']} Transports SAS"
    body["declarant"]["address"].update(street=f"12 quai {PLANTED['street']}", city=PLANTED["city"])
    body["items"][0]["description"] = f"{PLANTED['goods description']} laptops"
    body["documents"][0]["reference"] = f"{PLANTED['document reference']}-7781"
    body["delivery_place"] = PLANTED["delivery place"]
    body["message"] = f"<CC415A>{PLANTED['native customs message']}</CC415A>"
    return body


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, method: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, object]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content = response.read()
                return response.status, content if path.endswith("format=pdf") else json.loads(content or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def state_of(self, lrn: str) -> str:
        return self("GET", f"/declarations/{lrn}")[1]["state"]  # type: ignore[index]

    def wait(self, wanted: dict[str, str], seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while (now := {lrn: self.state_of(lrn) for lrn in wanted}) != wanted:
            if time.monotonic() > deadline:
                pytest.fail(f"states {now}, waited for {wanted}")
            time.sleep(0.5)


def _deployed_log_level() -> str:
    return yaml_parse(TEMPLATE.read_text())["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[Http, Path, subprocess.Popen]]:
    output = tmp_path_factory.mktemp("stack") / "output.log"
    base, process = start_local_stack(
        output,
        RELEASE_INTERVAL_SECONDS="1",
        CIRCUIT_RECOVERY_SECONDS="3",
        LOG_LEVEL=_deployed_log_level(),
        POWERTOOLS_LOG_LEVEL=_deployed_log_level(),
        POWERTOOLS_METRICS_DISABLED="false",  # EMF lines are logs too
    )  # open (LOCAL_AUTH=off): the token check is not what this test is about
    yield Http(base), output, process
    if process.poll() is None:
        process.kill()


def _outage_hold_release_fallback_and_rejection(http: Http) -> dict[str, str]:
    outage = {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID", "reason": "incident"}
    assert http("PUT", f"/systems/{SYSTEM}/status", outage)[0] == 200
    accepted, rejected, fallback = _body(), _body(), _body()
    for body in (accepted, rejected, fallback):
        assert http("POST", "/declarations", body)[1]["state"] == "QUEUED"  # type: ignore[index]
    # refusals that echo input: a conflicting reuse of an LRN, a body that breaks the rules, broken JSON
    assert http("POST", "/declarations", {**accepted, "delivery_place": "elsewhere"})[0] == 409
    assert http("POST", "/declarations", _body(gross_mass_kg=1.0, incoterm=None))[0] == 422
    assert http("POST", "/declarations", raw=json.dumps(_body()).encode()[:-40])[0] == 400
    # one goes to the fallback, its document is rendered both ways
    assert http("POST", f"/declarations/{fallback['lrn']}/emergency", {})[0] == 200
    status, pdf = http("GET", f"/declarations/{fallback['lrn']}/fallback-document?format=pdf")
    assert status == 200
    assert bytes(pdf).startswith(b"%PDF")  # type: ignore[arg-type]
    status, document = http("GET", f"/declarations/{fallback['lrn']}/fallback-document")
    assert status == 200
    assert all(word in json.dumps(document) for word in (PLANTED["declarant name"], PLANTED["city"]))  # they flow
    # customs will refuse one; it answers 503 at first, so the circuit holds the system and probes it
    http("POST", "/_sim/reject", {"lrn": rejected["lrn"], "code": "E042", "message": "goods code unknown"})
    http("POST", "/_sim/outage", {"system": SYSTEM, "kind": "server_error"})
    assert http("PUT", f"/systems/{SYSTEM}/status", {"status": "AVAILABLE", "source": "CID_ALERT"})[0] == 200
    time.sleep(5)
    http("DELETE", "/_sim/outage", {"system": SYSTEM})
    wanted = {accepted["lrn"]: "ACCEPTED", rejected["lrn"]: "REJECTED", fallback["lrn"]: "ACCEPTED"}
    http.wait(wanted)
    return wanted


def test_no_declarant_or_declaration_content_in_any_log_line(stack) -> None:
    http, output, process = stack
    _outage_hold_release_fallback_and_rejection(http)
    time.sleep(2)  # the change streams' last events are published
    process.terminate()
    process.wait(timeout=30)
    lines = output.read_text().splitlines()

    # threads print on the same stream: a line may hold two records, so records are found, not parsed
    services = set(re.findall(r'"service":\s*"(ecluse-[a-z]+)"', "\n".join(lines)))
    assert {"ecluse-api", "ecluse-release", "ecluse-submit"} <= services, f"logs captured from {services}"
    assert any('"CloudWatchMetrics"' in line for line in lines), "no EMF metrics captured"
    leaks = [f"{field} in: {line[:300]}" for line in lines for field, word in PLANTED.items() if word in line]
    assert not leaks, "personal data or declaration content in the logs:\n" + "\n".join(leaks[:20])
