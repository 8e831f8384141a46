"""What Lambda's Python bootstrap does, in a fresh interpreter that sees only what Lambda would.

Run by local/lambda_env.py as `python -I -S -B lambda_bootstrap.py SPEC.json`: isolated (no PYTHON*
variables, no script directory, no user site), no site-packages at all, no bytecode written (Lambda's
/var/task and /opt are read-only). Standard library only: nothing of the repository or of the dev
environment is importable unless the spec puts it on sys.path.

The spec: {"path": [...], "handler": "app.lambda_handler", "event": {...} | null, "result": "file"}, and
"exit_when_done": true to leave without tearing the interpreter down (`make bench`).
The result file gets {"ok", "init_seconds", "invoke_seconds", "ready_at", "ready_cpu_seconds", "answer" | "error"};
stdout and stderr are the function's logs, as CloudWatch would get them. When the handler is imported,
`ready_at` is time.monotonic() (CLOCK_MONOTONIC, one clock for every process on Linux: the parent can tell
how long the cold start took from the moment it started the interpreter, the interpreter's exit left out)
and `ready_cpu_seconds` the CPU time the process has used since it started (what a busy machine inflates
least).
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class _Context:
    """The attributes of Lambda's context object the handlers and Powertools read."""

    def __init__(self, name: str, memory: int, timeout_ms: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-3:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "parity"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException) -> dict[str, object]:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "trace": traceback.format_exception(error),
    }


def main(spec_path: str) -> int:
    with open(spec_path) as file:
        spec = json.load(file)
    sys.path[:0] = spec["path"]
    module_name, function_name = spec["handler"].rsplit(".", 1)
    result: dict[str, object] = {"ok": False}
    if "importtime" in sys._xoptions:  # what -X importtime reports from here on is the handler's import
        print("import time: handler", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result["init_seconds"] = time.perf_counter() - started
        result["ready_at"], result["ready_cpu_seconds"] = time.monotonic(), time.process_time()
        if spec.get("event") is not None:
            context = _Context(spec["function"], spec.get("memory", 256), spec.get("timeout_ms", 30_000))
            invoked = time.perf_counter()
            result["answer"] = handler(spec["event"], context)
            result["invoke_seconds"] = time.perf_counter() - invoked
        result["ok"] = True
    except Exception as error:  # Lambda reports it as the invocation's error; so do we
        result["error"] = _error(error)
    with open(spec["result"], "w") as file:
        json.dump(result, file, default=str)
    if spec.get("exit_when_done"):  # a cold start's measure: the interpreter's teardown is no part of it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if result["ok"] else 1)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
