"""`make run`'s stack in a child process, for the tests that drive it over HTTP (e2e, the busy border)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from local.infra import ROOT


def start_local_stack(log: Path, **environment: str) -> tuple[str, subprocess.Popen]:
    """Start the stack on a free port with its output in `log` (a file, not a pipe: an undrained pipe would
    block the stack's logging) and wait until it says it is up: its base URL and its process. Open
    (`LOCAL_AUTH=off`, every caller the local operator) unless `LOCAL_AUTH="on"` is given."""
    env = {**os.environ, "PORT": "0", "LOCAL_AUTH": "off", **environment}
    env.pop("AWS_ENDPOINT_URL", None)
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
