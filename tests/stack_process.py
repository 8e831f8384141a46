"""`make run`'s stack in a child process, for the tests that drive it over HTTP (e2e, the busy border)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

from local.infra import ROOT, TEMPLATE


def start_local_stack(log: Path, **environment: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Start the stack on a free port with its output in `log` (a file, not a pipe: an undrained pipe would
    block the stack's logging) and wait until it says it is up: its base URL and its process. Open
    (`LOCAL_AUTH=off`, every caller the local operator) unless `LOCAL_AUTH="on"` is given."""
    env = stack_environment(**environment)
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while "up on http://" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)
    line = next(line for line in log.read_text().splitlines() if "up on http://" in line)
    return line.split("up on ", 1)[1].split()[0], process


def stack_environment(**environment: str) -> dict[str, str]:
    """This process's environment for the stack, without what in-process loads left in it, and `environment`."""
    inherited = {k: v for k, v in os.environ.items() if k not in _function_settings() and k != "AWS_ENDPOINT_URL"}
    return {**inherited, "PORT": "0", "LOCAL_AUTH": "off", **environment}


@cache
def _function_settings() -> frozenset[str]:
    """The variables the template gives the functions. A test process that loaded a handler in-process
    (`local.functions.load`) has them in its environment with the template's values (a 5 s feed timeout,
    a 60 s circuit recovery…); passed on, they would override the local stack's own (1 s, 10 s…), which
    some tests here time their waits by. The stack gets them only when a test says so."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    sections = [template.get("Globals", {}).get("Function", {})]
    sections += [
        r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    return frozenset(name for section in sections for name in section.get("Environment", {}).get("Variables", {}))
