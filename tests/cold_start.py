"""`make bench`'s cold start: each handler as `sam build` packages it, against the floor, and where the
time goes (`python -X importtime`).

Every run is a fresh interpreter that sees only what Lambda would (local/lambda_env.py, the parity
check's environment: `python -I -S -B`, the function's code, its layers with their compiled bytecode,
the runtime's boto3). A cold start is measured from starting that interpreter to the handler imported:
what Lambda's init phase does before the first event. The interpreter's exit, which tears down every
module it loaded (55-80 ms with boto3 alone), is no part of a cold start: it is skipped. The floor,
`import boto3; boto3.client("dynamodb")`, runs in the same interpreter with the same flags, interleaved
with the handlers in a shuffled order, round after round, so that a busy moment of the machine hits
every figure alike. Figures are medians, in CPU time (what a shared machine inflates least) and wall
time, and, with valgrind, in instructions: the same count at every run.
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import random
import re
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from local.lambda_env import Function, Invocation, lambda_variables, run_python, sys_path

ROUNDS = int(os.environ.get("BENCH_COLD_ROUNDS", "15"))
FLOOR = "import boto3\n\nboto3.client('dynamodb')\n\n\ndef handler(event, context):\n    pass\n"
# the floor with the collector paused as the handlers pause it (functions/*/app.py): what the handlers' own
# imports cost beyond it, with the collector's share taken out of both
FLOOR_PAUSED = "import gc\n\ngc.disable()\n" + FLOOR + "\n\ngc.freeze()\ngc.enable()\n"
# what the handlers read at import (template.yaml gives the rest)
SETTINGS = {
    "DECLARATIONS_TABLE": "d",
    "SYSTEMS_TABLE": "s",
    "SUBMIT_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/0/q.fifo",
    "SUBMIT_DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/0/dlq.fifo",
    "EVENT_BUS_NAME": "ecluse-events",
    "CUSTOMS_GATEWAY_URL": "http://127.0.0.1:9",
}
# whose import a module's time is, by the top of its name; the standard library's is its importer's
FAMILIES = (
    (("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six"), "boto3 (the floor's)"),
    (("pydantic", "pydantic_core", "annotated_types", "typing_inspection"), "pydantic"),
    (("aws_lambda_powertools.event_handler",), "Powertools event handler"),
    (("aws_lambda_powertools.utilities.batch",), "Powertools batch"),
    (("aws_lambda_powertools.utilities.data_classes",), "Powertools event data classes"),
    (("aws_lambda_powertools.utilities.circuit_breaker",), "Powertools circuit breaker"),
    (("aws_xray_sdk", "wrapt"), "X-Ray SDK"),
    (("aws_lambda_powertools",), "Powertools Logger, Metrics"),
    (("ecluse",), "ecluse"),
    (("fpdf", "PIL", "fontTools", "defusedxml"), "fpdf2"),
)


# What the stack the style guide fixes costs before any of Écluse's code, imported in the handlers' order:
# the floor, the collector paused as the handlers pause it, Logger and Metrics, one settings model
# validated; with Powertools' REST resolver (validation on, one route) for the API, or its FIFO batch
# processor and circuit breaker for the submitter. The lower bound of each kind of handler, measured
# beside them in every round. (The batch utility imports Powertools' parser models, some thirty pydantic
# classes, when pydantic is already loaded: the submitter imports it first, and so does this.)
def _bare(powertools: str = "", built: str = "") -> str:
    return (
        "import gc\n\ngc.disable()\nimport os\n\nimport boto3\nfrom aws_lambda_powertools import Logger, Metrics\n"
        f"{powertools}from pydantic import BaseModel, Field\n\n\nclass Settings(BaseModel):\n"
        "    table: str = Field(alias='DECLARATIONS_TABLE', min_length=1)\n\n\n"
        "settings = Settings.model_validate(dict(os.environ))\n"
        f"dynamodb = boto3.client('dynamodb')\nlogger, metrics = Logger(), Metrics()\n{built}"
        "\n\ndef handler(event, context):\n    pass\n\n\ngc.freeze()\ngc.enable()\n"
    )


SKELETONS = {  # name -> (code, the function whose layers and settings it runs with)
    "Logger, Metrics and a settings model (release, publish, monitor)": (_bare(), "ReleaseFunction"),
    "+ REST resolver with validation (the API)": (
        _bare(
            "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n",
            "app = APIGatewayRestResolver(enable_validation=True)\n\n\n@app.get('/ping')\ndef ping() -> dict:\n"
            "    return {}\n",
        ),
        "ApiFunction",
    ),
    "+ FIFO batch processor and circuit breaker (the submitter)": (
        _bare(
            "from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor\n"
            "from aws_lambda_powertools.utilities.circuit_breaker import CircuitBreakerConfig, circuit_breaker\n"
            "from aws_lambda_powertools.utilities.circuit_breaker.persistence import "
            "CircuitBreakerDynamoDBPersistence\n",
            "processor = SqsFifoPartialProcessor(skip_group_on_error=True)\n",
        ),
        "SubmitFunction",
    ),
}
# the handlers' own pause (functions/*/app.py, decision 17), taken out to measure what it saves
PAUSE_LINES = re.compile(r"^gc\.(disable|freeze|enable)\(\).*$", re.MULTILINE)
HANDLER = "handler module's own code (clients, settings, routes)"  # the floor's: its DynamoDB client


def _spec(function: Function) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    spec = {"handler": function.handler, "function": function.logical_id, "event": None, "exit_when_done": True}
    return function.path(), spec, {**lambda_variables(function), **function.environment, **SETTINGS}


def _floor(
    function: Function, scratch: str, code: str = FLOOR, name: str = "floor"
) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """A function whose code is the floor and which has no layer: sys.path as Lambda would set it."""
    Path(scratch, f"{name}.py").write_text(code)
    spec = {"handler": f"{name}.handler", "function": name, "event": None, "exit_when_done": True}
    return sys_path(Path(scratch), []), spec, {**lambda_variables(function), **SETTINGS}


def _skeleton(
    function: Function, scratch: str, code: str, name: str
) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """A handler of `code` with `function`'s layers (Powertools and pydantic as deployed) and settings."""
    Path(scratch, f"{name}.py").write_text(code)
    path, spec, variables = _spec(function)
    return [scratch, *path[1:]], {**spec, "handler": f"{name}.handler", "function": name}, variables


def _unpaused(function: Function, scratch: str) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """`function` as built, but its handler module without the collector pause, with its bytecode."""
    code = Path(scratch, f"unpaused-{function.logical_id}")
    if not code.exists():
        shutil.copytree(function.code, code)
        module = code / f"{function.handler.rsplit('.', 1)[0]}.py"
        module.write_text(PAUSE_LINES.sub("pass", module.read_text()))
        py_compile.compile(
            str(module), importlib.util.cache_from_source(str(module)), doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )  # fmt: skip
    path, spec, variables = _spec(function)
    return [str(code), *path[1:]], spec, variables


def _ready(
    path: list[str], spec: dict[str, Any], variables: dict[str, str], *flags: str, wrapper: tuple[str, ...] = ()
) -> Invocation:
    result = run_python(path, spec, variables, *flags, wrapper=wrapper)
    if not result.ok or result.ready_seconds is None:
        raise RuntimeError(f"{spec['handler']} did not import: {result.error_line}")
    return result


def _as_built(function: Function) -> Invocation:
    return _ready(*_spec(function))


def _as_unpaused(function: Function, scratch: str) -> Invocation:
    return _ready(*_unpaused(function, scratch))


def _as_skeleton(function: Function, scratch: str, code: str, name: str) -> Invocation:
    return _ready(*_skeleton(function, scratch, code, name))


def cold_start(by_id: dict[str, Function], rounds: int = ROUNDS) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        first = next(iter(by_id.values()))
        runs: list[tuple[str, Callable[[], Invocation]]] = [
            ("floor", lambda: _ready(*_floor(first, scratch))),
            ("paused", lambda: _ready(*_floor(first, scratch, FLOOR_PAUSED, "paused"))),
        ]
        runs += [(logical_id, partial(_as_built, function)) for logical_id, function in by_id.items()]
        runs += [
            (f"{logical_id} unpaused", partial(_as_unpaused, function, scratch))
            for logical_id, function in by_id.items()
        ]
        runs += [
            (name, partial(_as_skeleton, by_id[owner], scratch, code, f"skeleton{i}"))
            for i, (name, (code, owner)) in enumerate(SKELETONS.items())
        ]
        cpu: dict[str, list[float]] = defaultdict(list)
        wall: dict[str, list[float]] = defaultdict(list)
        order = random.Random(7)
        for _ in range(rounds):
            order.shuffle(runs)
            for name, run in runs:
                result = run()
                cpu[name].append(result.ready_cpu_seconds or 0.0)
                wall[name].append(result.ready_seconds or 0.0)
    floor_cpu, floor_wall = statistics.median(cpu["floor"]), statistics.median(wall["floor"])
    paused_cpu = statistics.median(cpu["paused"])
    lines = [
        f"floor `import boto3; boto3.client('dynamodb')`: CPU {_spread(cpu['floor'])}, "
        f"wall {_spread(wall['floor'])} (medians and quartiles of {rounds} rounds)",
        f"floor with the collector paused as the handlers pause it: CPU {_spread(cpu['paused'])} "
        f"-> {paused_cpu / floor_cpu:.2f} of the floor",
    ]
    for name in by_id:
        cpu_ratio, wall_ratio = statistics.median(cpu[name]) / floor_cpu, statistics.median(wall[name]) / floor_wall
        lines.append(
            f"{name} import: CPU {_spread(cpu[name])} -> ratio to floor {cpu_ratio:.2f} "
            f"(to the paused floor {statistics.median(cpu[name]) / paused_cpu:.2f}); "
            f"wall {_spread(wall[name])} -> {wall_ratio:.2f}"
        )
    for name in by_id:
        on, paused = statistics.median(cpu[f"{name} unpaused"]), statistics.median(cpu[name])
        lines.append(
            f"{name} with the collector left on (the pause taken out): CPU {_spread(cpu[f'{name} unpaused'])} "
            f"-> ratio to floor {on / floor_cpu:.2f}; the pause saves {(on - paused) * 1000:.0f} ms "
            f"({(on - paused) / on:.0%})"
        )
    lines += [
        f"bare stack, {name}: CPU {_spread(cpu[name])} -> ratio to floor {statistics.median(cpu[name]) / floor_cpu:.2f}"
        f" (to the paused floor {statistics.median(cpu[name]) / paused_cpu:.2f})"
        for name in SKELETONS
    ]
    return lines


def _spread(times: list[float]) -> str:
    low, median, high = statistics.quantiles(times, n=4)
    return f"{median:.3f} s ({low:.3f}-{high:.3f})"


def instructions(by_id: dict[str, Function]) -> list[str]:
    """The same cold starts counted in instructions (valgrind's callgrind), to the handler imported: one
    run each, the same count whatever else the machine does, and a ratio that moves only with the code."""
    if not shutil.which("valgrind"):
        return ["valgrind is not installed: no instruction counts"]
    callgrind = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
    with tempfile.TemporaryDirectory() as scratch:
        floor = _instructions(_ready(*_floor(next(iter(by_id.values())), scratch), wrapper=callgrind))
    lines = [f"floor: {floor / 1e6:.0f} M instructions"]
    for logical_id, function in by_id.items():
        count = _instructions(_ready(*_spec(function), wrapper=callgrind))
        lines.append(f"{logical_id} import: {count / 1e6:.0f} M -> ratio to floor {count / floor:.2f}")
    return lines


def _instructions(result: Invocation) -> int:
    found = re.search(r"Collected : (\d+)", result.logs)
    if not found:
        raise RuntimeError(f"callgrind reported no count: {result.logs[-500:]}")
    return int(found[1])


def import_costs(by_id: dict[str, Function], runs: int = 5) -> list[str]:
    """`python -X importtime` of the floor and of each handler: each module's own time summed by whose import
    it is (the standard library's goes to the package that imported it; the handler module's own code, its
    clients, settings and routes, is the import's time less its modules'), medians of `runs`, in ms."""
    with tempfile.TemporaryDirectory() as scratch:
        runs_of = {"floor": _floor(next(iter(by_id.values())), scratch)}
        runs_of |= {logical_id: _spec(function) for logical_id, function in by_id.items()}
        lines = []
        for name, run in runs_of.items():
            totals: dict[str, list[float]] = defaultdict(list)
            for _ in range(runs):
                result = _ready(*run, "-X", "importtime")
                spent = _by_family(result.logs.split("import time: handler\n", 1)[1])
                spent[HANDLER] += (result.init_seconds or 0) * 1e6 - sum(spent.values())
                for family, micros in spent.items():
                    totals[family].append(micros / 1000)
            costs = sorted(((statistics.median(v), family) for family, v in totals.items()), reverse=True)
            lines.append(f"{name}: " + "; ".join(f"{family} {ms:.0f}" for ms, family in costs if ms >= 0.5))
    return lines


type _Node = tuple[int, str, int, list[_Node]]  # (depth, module, self µs, children) in importtime's tree


def _by_family(importtime: str) -> dict[str, float]:
    """Self time per family from importtime's tree, where a module is printed after what it imported."""
    roots: list[_Node] = []  # with no parent yet
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        children = [node for node in roots if node[0] > depth]
        roots = [node for node in roots if node[0] <= depth]
        roots.append((depth, name.strip(), int(own), children))
    spent: dict[str, float] = defaultdict(float)

    def settle(node: _Node, inherited: str) -> None:
        _, module, micros, children = node
        family = _family(module) or inherited
        spent[family] += micros
        for child in children:
            settle(child, family)

    for root in roots:
        settle(root, HANDLER)  # imported by the handler module itself (importlib's import is not reported)
    return spent


def _family(module: str) -> str | None:
    for prefixes, family in FAMILIES:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return family
    top = module.split(".")[0]
    standard = top in sys.stdlib_module_names or top.startswith("_sysconfigdata") or top == "typing_extensions"
    return None if standard else f"other ({top})"
