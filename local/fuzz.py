"""`make fuzz`: schemathesis generates requests from docs/openapi.json against the local stack and
fails on any 5xx (the contract: bad input gets a 4xx, never a 5xx)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> int:
    port = _free_port()
    log = ROOT / ".fuzz-stack.log"
    with log.open("w") as sink:
        stack = subprocess.Popen(
            [sys.executable, "-m", "local.stack"],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # open: schemathesis explores the inputs, not the credentials (local/auth.py has its own tests)
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "ERROR", "LOCAL_AUTH": "off"},
        )
    try:
        deadline = time.monotonic() + 60
        while "up on http://" not in log.read_text(errors="replace"):
            if stack.poll() is not None or time.monotonic() > deadline:
                print(log.read_text(errors="replace")[-2000:])
                return 1
            time.sleep(0.2)
        examples = os.environ.get("FUZZ_EXAMPLES", "100")
        return subprocess.call(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                str(ROOT / "docs" / "openapi.json"),
                "--url",
                f"http://127.0.0.1:{port}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                examples,
                "--workers",
                "1",
            ],
        )
    finally:
        stack.terminate()
        stack.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
