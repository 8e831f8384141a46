"""`make bench`: the measured figures behind the release guarantees, reported as ratios.

1. Drain: 10 000 held declarations at 600/min (burst 100) under the every-minute schedule, on the
   in-memory twins of the DynamoDB adapters with a simulated clock: drain time against its theoretical
   minimum (backlog / rate), the busiest 60 s window against rate + burst.
2. AWS calls per declaration, counted with a botocore hook on the real handlers against moto: the
   fast path, and a held declaration through release and submission.
3. Cold start: wall time to import each handler (fresh interpreter, best of 3) against `import boto3`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from tests.environment import offline_aws

offline_aws(log_level="ERROR")

import local  # noqa: E402,F401 - the layer on sys.path
from local.infra import ROOT  # noqa: E402


def drain() -> list[str]:
    from ecluse.throttle import ReleaseConfig
    from tests.drain_scenario import outage_then_drain

    backlog, rate, burst = 10_000, 600, 100
    started = time.perf_counter()
    result = outage_then_drain(backlog, ReleaseConfig(rate_per_minute=rate, burst=burst))
    elapsed = time.perf_counter() - started
    theoretical = backlog / rate * 60
    lost = len(set(result.held) - set(result.received))
    duplicates = len(result.received) - len(set(result.received))
    return [
        f"drain of {backlog} held at {rate}/min, burst {burst}: {result.drain_seconds:.0f} s simulated "
        f"vs {theoretical:.0f} s theoretical minimum -> ratio {result.drain_seconds / theoretical:.3f}",
        f"busiest 60 s window: {result.max_in_any_minute()} releases vs limit {rate + burst} "
        f"-> ratio {result.max_in_any_minute() / (rate + burst):.3f}",
        f"order kept: {result.received == result.held}; lost: {lost}; duplicates: {duplicates}; "
        f"runs: {result.runs}; per-run peak memory {max(result.peak_memory_per_run) / 1024:.0f} KiB; "
        f"simulated in {elapsed:.1f} s wall",
    ]


def aws_calls() -> list[str]:
    import boto3
    from moto import mock_aws

    from local import infra
    from local.functions import LambdaContext, load
    from local.simulated import SimulatedCustoms, serve
    from local.stack import _sqs_record
    from tests.conftest import ApiClient
    from tests.factories import declaration_body

    count = 50
    with mock_aws():
        stack = infra.create(boto3.Session(region_name="eu-west-3"))
        calls: Counter = Counter()
        session = boto3.setup_default_session(region_name="eu-west-3") or boto3.DEFAULT_SESSION
        session.events.register("before-call", lambda model, **_: calls.update([model.name]))
        customs = SimulatedCustoms()
        server = serve(customs)
        environment = {
            **stack.env("submit"),
            "CUSTOMS_GATEWAY_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "RELEASE_RUN_SECONDS": "0",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        api, submit, release = (
            ApiClient(load("api", environment)),
            load("submit", environment),
            load("release", environment),
        )
        sqs, url = boto3.client("sqs"), stack.env("api")["SUBMIT_QUEUE_URL"]

        def consume() -> int:
            handled = 0
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                    "Messages", []
                )
                if not messages:
                    return handled
                submit.lambda_handler({"Records": [_sqs_record(m, url) for m in messages]}, LambdaContext())
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += len(messages)

        def measure(action) -> Counter:
            before = Counter(calls)
            action()
            after = Counter(calls)
            after.subtract(before)
            for name in ("ReceiveMessage", "DeleteMessage"):  # Lambda's event source mapping, not ours
                after.pop(name, None)
            return +after

        fast_api = measure(lambda: [api.call("POST", "/declarations", declaration_body()) for _ in range(count)])
        fast_submit = measure(consume)
        api.call("PUT", "/systems/DELTA_G/release", {"rate_per_minute": 6000, "burst": 1000})
        api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE"})
        held_api = measure(lambda: [api.call("POST", "/declarations", declaration_body()) for _ in range(count)])
        api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE"})

        def release_all() -> None:
            for _ in range(count):
                if not release.lambda_handler({}, LambdaContext())["released"]:
                    break

        held_release = measure(release_all)
        held_submit = measure(consume)
        server.shutdown()
        boto3.DEFAULT_SESSION = None

    def per(counter: Counter) -> str:
        total = sum(counter.values()) / count
        detail = ", ".join(f"{name} {n / count:.2f}" for name, n in sorted(counter.items()))
        return f"{total:.2f} ({detail})"

    fast = (sum(fast_api.values()) + sum(fast_submit.values())) / count
    held = (sum(held_api.values()) + sum(held_release.values()) + sum(held_submit.values())) / count
    return [
        f"fast path, per declaration: API {per(fast_api)}; submit {per(fast_submit)}; total {fast:.2f}",
        f"held then released, per declaration: API {per(held_api)}; release {per(held_release)}; "
        f"submit {per(held_submit)}; total {held:.2f} -> ratio to fast path {held / fast:.2f}",
    ]


def cold_start() -> list[str]:
    env = {
        **os.environ,
        "DECLARATIONS_TABLE": "d",
        "SYSTEMS_TABLE": "s",
        "SUBMIT_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/0/q.fifo",
        "CUSTOMS_GATEWAY_URL": "http://127.0.0.1:9",
        "PYTHONPATH": f"{ROOT / 'layers' / 'ecluse'}:{ROOT}",
    }

    def best(code: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
        return min(times)

    baseline = best("import boto3; boto3.client('dynamodb')")
    lines = [f"baseline: python + boto3 + one client {baseline:.2f} s"]
    for name in ("api", "submit", "release"):
        seconds = best(f"from local.functions import load; load('{name}', {{}})")
        lines.append(f"{name} handler import {seconds:.2f} s -> ratio to baseline {seconds / baseline:.2f}")
    return lines


def main() -> None:
    for title, section in (("Drain", drain), ("AWS calls", aws_calls), ("Cold start", cold_start)):
        print(f"## {title}")
        for line in section():
            print(f"- {line}")
        print(flush=True)
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
