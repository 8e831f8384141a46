"""Deploy parity: every handler, as `sam build` packages it, imported and invoked the way Lambda would.

`sam build` (arm64), then for each function of template.yaml a fresh interpreter whose sys.path holds
only the function's build directory, its layers' python/ directories and the runtime's boto3
(local/lambda_env.py) imports the handler and invokes it once with its sample event from events/,
against the embedded AWS (moto server) built from the same template (local/infra.py). The report lists
each shipped package with its wheel's platform tag and each function's unzipped size against Lambda's
250 MB. `python -m local.parity` prints it and exits 1 on any failure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from local.infra import FUNCTIONS, ROOT, TEMPLATE
from local.lambda_env import LAMBDA_LIMIT_BYTES, Function, Invocation, functions, sam_build, without_bytecode

# The sample event each function gets, and what it must answer (local/simulated.py plays customs).
SAMPLE_EVENTS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "api": ("api-lodge-declaration.json", lambda answer: answer.get("statusCode") == 202),
    "submit": ("submit-released-declaration.json", lambda answer: answer == {"batchItemFailures": []}),
    "release": ("release-schedule.json", lambda answer: isinstance(answer, dict) and "released" in answer),
    "monitor": ("monitor-schedule.json", lambda answer: answer == {"maintenance": [], "feeds": []}),
    "publish": ("publish-declaration-change.json", lambda answer: answer == {"batchItemFailures": []}),
}
# Further events for one function: files a handler reads at run time (the console's, beside the API's
# handler) are checked to ship in its build.
MORE_EVENTS: dict[str, list[tuple[str, Callable[[Any], bool]]]] = {
    "api": [
        (
            "api-console-page.json",
            lambda answer: answer.get("statusCode") == 200 and "<html" in str(answer.get("body")),
        )
    ],
}
FORBIDDEN = ("local", "tests", "moto", "samtranslator", "simulated")  # nothing local-only ships


@dataclass
class Report:
    invocations: dict[str, Invocation] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        return "\n".join([*self.lines, *(f"FAILED {p}" for p in self.problems)])


def check(template_text: str | None = None, build: bool = True) -> Report:
    """Run the parity check; `template_text` replaces template.yaml's layers and settings (the
    functions' code is always the build's), e.g. to show what an older Powertools layer does."""
    from samtranslator.yaml_helper import yaml_parse

    if build:
        sam_build()
    template = yaml_parse(template_text or TEMPLATE.read_text())
    by_id = functions(template)
    report = Report(functions=by_id)
    _inspect_packages(by_id, report)
    _inspect_bytecode(by_id, report)
    with _embedded_aws() as (stack, customs_url):
        for short, logical_id in FUNCTIONS.items():
            function = by_id[logical_id]
            event_file, expected = SAMPLE_EVENTS[short]
            event = json.loads((ROOT / "events" / event_file).read_text())
            overrides = {
                **stack.env(short),
                "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
                "CUSTOMS_GATEWAY_URL": customs_url,  # the template's default is a placeholder
                "RELEASE_RUN_SECONDS": "0",  # one pass, not the deployed 55 s
            }
            result = function.run(event, overrides)
            report.invocations[logical_id] = result
            if not result.ok:
                report.problems.append(f"{logical_id}: {result.error_line}")
            elif not expected(result.answer):
                report.problems.append(f"{logical_id}: unexpected answer {str(result.answer)[:300]}")
            state = "OK" if result.ok and expected(result.answer) else "FAILED"
            imported = "import failed"
            if result.init_seconds:
                imported = f"import {result.init_seconds:.2f} s, first invocation {result.invoke_seconds or 0:.2f} s"
            report.lines.append(f"{logical_id}: {imported}, invoked with events/{event_file}: {state}")
            _more_events(function, short, overrides, report)
    return report


def _more_events(function: Function, short: str, overrides: dict[str, str], report: Report) -> None:
    for event_file, expected in MORE_EVENTS.get(short, []):
        result = function.run(json.loads((ROOT / "events" / event_file).read_text()), overrides)
        answered = result.ok and expected(result.answer)
        name = f"{function.logical_id}: events/{event_file}"
        if not answered:
            report.problems.append(f"{name}: {result.error_line or str(result.answer)[:300]}")
        state = "OK" if answered else "FAILED"
        report.lines.append(f"{function.logical_id}: invoked with events/{event_file}: {state}")


def _inspect_packages(by_id: dict[str, Function], report: Report) -> None:
    seen: set[str] = set()
    for function in by_id.values():
        layers = ", ".join(layer.name for layer in function.layers)
        size = function.size_bytes()
        report.lines.append(
            f"{function.logical_id}: layers {layers}; {size / 1e6:.1f} MB unzipped "
            f"of {LAMBDA_LIMIT_BYTES / 1e6:.0f} MB ({size / LAMBDA_LIMIT_BYTES:.0%})"
        )
        if size > LAMBDA_LIMIT_BYTES:
            report.problems.append(f"{function.logical_id}: {size / 1e6:.1f} MB unzipped exceeds Lambda's 250 MB")
        for root in [function.code, *(layer.root / "python" for layer in function.layers)]:
            shipped = {p.name.removesuffix(".py") for p in root.iterdir()} | {
                p.stem for p in root.rglob("simulated.py")
            }
            if leaked := shipped & set(FORBIDDEN):
                report.problems.append(f"{function.logical_id} ships local-only code: {sorted(leaked)} in {root}")
        for layer in function.layers:
            if layer.name in seen:
                continue
            seen.add(layer.name)
            for package in layer.packages():
                kind = "compiled" if package.compiled else "pure"
                report.lines.append(f"  {layer.name}: {package.name} {package.version} {kind} {'.'.join(package.tags)}")
                if package.compiled and not package.arm64:
                    report.problems.append(f"{layer.name}: {package.name} is not a manylinux aarch64 build")


def _inspect_bytecode(by_id: dict[str, Function], report: Report) -> None:
    """Lambda's /var/task and /opt are read-only: what ships without bytecode it can use is compiled again
    at every cold start (decision 9)."""
    roots = {function.logical_id: function.code for function in by_id.values()}
    roots |= {layer.name: layer.root / "python" for function in by_id.values() for layer in function.layers}
    for name, root in roots.items():
        if uncompiled := without_bytecode(root):
            report.problems.append(
                f"{name}: {len(uncompiled)} modules without hash-checked bytecode, compiled at every cold start "
                f"on Lambda, e.g. {uncompiled[0].relative_to(root)}"
            )


@contextlib.contextmanager
def _embedded_aws() -> Iterator[tuple[Any, str]]:
    """A moto server holding template.yaml's tables and queues, and the simulated customs on loopback."""
    import boto3
    from moto.server import ThreadedMotoServer

    from local import infra
    from local.simulated import SimulatedCustoms, serve

    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    customs = serve(SimulatedCustoms())
    try:
        host, port = server.get_host_and_port()
        # moto's state is per process: forget what an earlier check of this process created
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_ACCESS_KEY_ID": "parity",
                "AWS_SECRET_ACCESS_KEY": "parity",
            }
        )
        stack = infra.create(boto3.Session(region_name="eu-west-3"))
        yield stack, f"http://127.0.0.1:{customs.server_address[1]}"
    finally:
        customs.shutdown()
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> int:
    report = check()
    print(report.text())
    print("parity: " + ("every handler imports and answers as deployed" if report.ok else "FAILED"))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
