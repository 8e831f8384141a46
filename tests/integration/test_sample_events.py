"""The sample events in events/ (also for `sam local invoke`) drive each handler to its expected effect."""

from __future__ import annotations

import json

from local.functions import LambdaContext, load
from local.infra import ROOT
from local.simulated import SimulatedCustoms, serve


def _event(name):
    return json.loads((ROOT / "events" / name).read_text())


def test_sample_events_lodge_submit_and_release(aws, ledger):
    customs = SimulatedCustoms()
    server = serve(customs)
    environment = {**aws.env("submit"), "CUSTOMS_GATEWAY_URL": f"http://127.0.0.1:{server.server_address[1]}"}
    try:
        lodged = load("api", environment).lambda_handler(_event("api-lodge-declaration.json"), LambdaContext())
        assert lodged["statusCode"] == 202
        answer = load("submit", environment).lambda_handler(_event("submit-released-declaration.json"), LambdaContext())
        assert answer == {"batchItemFailures": []}
        accepted = ledger.get("FR-2025-000123", "arn:aws:iam::123456789012:role/erp-acme")  # the signer's role
        assert accepted.state.value == "ACCEPTED"
        assert accepted.history[0].by == "arn:aws:sts::123456789012:assumed-role/erp-acme/erp"
        report = load("release", {**environment, "RELEASE_RUN_SECONDS": "0"}).lambda_handler(
            _event("release-schedule.json"), LambdaContext()
        )
        assert report == {"released": {}, "resent": {}, "holding": [], "probes": [], "at_risk": {}}
        monitored = load("monitor", {**aws.env("monitor"), "CUSTOMS_GATEWAY_URL": environment["CUSTOMS_GATEWAY_URL"]})
        answer = monitored.lambda_handler(_event("monitor-schedule.json"), LambdaContext())
        assert answer == {"maintenance": [], "feeds": []}
        published = load("publish", aws.env("publish")).lambda_handler(
            _event("publish-declaration-change.json"), LambdaContext()
        )
        assert published == {"batchItemFailures": []}
    finally:
        server.shutdown()
