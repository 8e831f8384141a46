"""The Tracer around each handler comes with the first event, not with the import (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys

from local.infra import ROOT

SCRIPT = """
import sys
from ecluse.aws import tracing

@tracing.capture_lambda_handler("botocore")
def handler(event, context):
    return {"echo": event}

imported = "aws_xray_sdk.core" in sys.modules
answer = handler({"n": 1}, None)
print(imported, "aws_xray_sdk.core" in sys.modules, answer == {"echo": {"n": 1}}, handler.__name__)
"""


def test_the_xray_sdk_is_imported_by_the_first_invocation_and_the_handler_still_answers():
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={"PYTHONPATH": str(ROOT / "layers" / "ecluse"), "POWERTOOLS_TRACE_DISABLED": "true", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.split() == ["False", "True", "True", "handler"]
