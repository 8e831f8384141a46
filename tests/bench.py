"""`make bench`: the measured figures behind the release guarantees, reported as ratios.

1. Drain: 10 000 held declarations at 600/min (burst 100) under the every-minute schedule, on the
   in-memory twins of the DynamoDB adapters with a simulated clock: drain time against its theoretical
   minimum (backlog / rate), the busiest 60 s window against rate + burst.
2. AWS calls per declaration, counted with a botocore hook on the real handlers against moto: the
   fast path, and a held declaration through release and submission.
3. Cold start: from starting a fresh interpreter that sees only the function, its layers and the
   runtime's boto3 (local/lambda_env.py) to the handler imported as `sam build` packages it, against the
   floor `import boto3; boto3.client("dynamodb")` in the same interpreter: medians of interleaved rounds
   (tests/cold_start.py); the same in instructions (valgrind), which no other load of the machine moves;
   then where each handler's import time goes, by `python -X importtime`.
4. Size: each function with its layers, unzipped, against Lambda's 250 MB.

`python -m tests.bench cold imports` runs only the sections named (drain, calls, cold, instructions, imports,
size).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tests.environment import offline_aws

if TYPE_CHECKING:
    from local.lambda_env import Function

offline_aws(log_level="ERROR")
warnings.filterwarnings("ignore", message="No application metrics to publish")

import local  # noqa: E402,F401 - the layer on sys.path
from local.infra import TEMPLATE  # noqa: E402


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


def _consume(sqs: Any, url: str, submit: ModuleType) -> int:
    """Deliver the submit queue's messages to the submit function until it is empty, as Lambda would."""
    from local.functions import LambdaContext
    from local.stack import _sqs_record

    handled = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return handled
        submit.lambda_handler({"Records": [_sqs_record(m, url) for m in messages]}, LambdaContext())
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)


def aws_calls() -> list[str]:
    import boto3
    from moto import mock_aws

    from local import infra
    from local.functions import LambdaContext, load
    from local.simulated import SimulatedCustoms, serve
    from tests.conftest import ApiClient
    from tests.factories import declaration_body

    count = 50
    with mock_aws():
        stack = infra.create(boto3.Session(region_name="eu-west-3"))
        calls: Counter[str] = Counter()
        boto3.setup_default_session(region_name="eu-west-3")
        session = boto3.DEFAULT_SESSION
        assert session is not None
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
            return _consume(sqs, url, submit)

        def measure(action: Callable[[], object]) -> Counter[str]:
            before = Counter(calls)
            action()
            after = Counter(calls)
            after.subtract(before)
            for name in ("ReceiveMessage", "DeleteMessage"):  # Lambda's event source mapping, not ours
                after.pop(name, None)
            return +after

        def release_all() -> None:
            for _ in range(count):
                if not release.lambda_handler({}, LambdaContext())["released"]:
                    break

        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF metric lines
            fast_api = measure(lambda: [api.call("POST", "/declarations", declaration_body()) for _ in range(count)])
            fast_submit = measure(consume)
            api.call("PUT", "/systems/DELTA_G/release", {"rate_per_minute": 6000, "burst": 1000})
            api.call("PUT", "/systems/DELTA_G/status", {"status": "UNAVAILABLE"})
            held_api = measure(lambda: [api.call("POST", "/declarations", declaration_body()) for _ in range(count)])
            api.call("PUT", "/systems/DELTA_G/status", {"status": "AVAILABLE"})
            held_release = measure(release_all)
            held_submit = measure(consume)
        server.shutdown()
        boto3.DEFAULT_SESSION = None

    def per(counter: Counter[str]) -> str:
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


def _lambda_functions() -> dict[str, Function]:
    from samtranslator.yaml_helper import yaml_parse

    from local.lambda_env import functions, sam_build

    sam_build()
    return functions(yaml_parse(TEMPLATE.read_text()))


def cold_start() -> list[str]:
    from tests.cold_start import cold_start

    return cold_start(_lambda_functions())


def instructions() -> list[str]:
    from tests.cold_start import instructions

    return instructions(_lambda_functions())


def import_costs() -> list[str]:
    from tests.cold_start import import_costs

    return import_costs(_lambda_functions())


def sizes() -> list[str]:
    from local.lambda_env import LAMBDA_LIMIT_BYTES

    lines = []
    for logical_id, function in _lambda_functions().items():
        size = function.size_bytes()
        layers = " + ".join(f"{layer.name} {_megabytes(layer.root)}" for layer in function.layers)
        lines.append(
            f"{logical_id}: {size / 1e6:.1f} MB unzipped (code {_megabytes(function.code)} + {layers}) "
            f"-> {size / LAMBDA_LIMIT_BYTES:.0%} of Lambda's 250 MB"
        )
    return lines


def _megabytes(root: Path) -> str:
    return f"{sum(f.stat().st_size for f in root.rglob('*') if f.is_file()) / 1e6:.1f} MB"


SECTIONS = {
    "drain": ("Drain", drain),
    "calls": ("AWS calls", aws_calls),
    "cold": ("Cold start", cold_start),
    "instructions": ("Cold start in instructions (callgrind)", instructions),
    "imports": ("Import time by package, ms (python -X importtime, median of 5)", import_costs),
    "size": ("Size", sizes),
}


def main(names: list[str]) -> None:
    for title, section in [SECTIONS[name] for name in names or SECTIONS]:
        print(f"## {title}")
        for line in section():
            print(f"- {line}")
        print(flush=True)
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main(sys.argv[1:])
