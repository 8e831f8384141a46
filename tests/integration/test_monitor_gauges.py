"""The monitor's gauges as CloudWatch receives them (embedded metric format in the function's output)."""

from __future__ import annotations

import json

from local.functions import LambdaContext, load
from tests.factories import declaration_body


def test_each_system_is_measured_and_the_worst_is_there_for_the_alarms(api, aws, capsys, monkeypatch):
    api.call(
        "PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE", "source": "CID_ALERT", "reference": "Alerte CID"}
    )
    for _ in range(2):
        api.call("POST", "/declarations", declaration_body())
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # CloudWatch reads the function's output
    monitor = load("monitor", {**aws.env("monitor"), "CUSTOMS_GATEWAY_URL": "http://127.0.0.1:9"})
    monitor.metrics.clear_metrics()  # Powertools' metric set is one per process: start from this invocation
    capsys.readouterr()
    monitor.lambda_handler({}, LambdaContext())
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    per_system = {(b.get("system"), name): b[name] for b in blobs if "system" in b
                  for name in ("Held", "ReleaseStalled", "OldestHeldAgeMinutes") if name in b}  # fmt: skip
    assert per_system[("DELTA_G", "Held")] in (2, [2])
    assert per_system[("CDS", "Held")] in (0, [0])  # every system, so a dashboard line never just stops
    assert ("CDS", "OldestHeldAgeMinutes") not in per_system  # nothing held there: nothing to say
    [worst] = [b for b in blobs if "system" not in b and "OldestHeldAgeMinutes" in b]
    assert worst["ReleaseStalled"] in (0, [0])
