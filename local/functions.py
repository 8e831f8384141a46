"""Load the Lambda handlers in-process with a given environment, and a Lambda context to call them with."""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType

from local.infra import ROOT


def load(short_name: str, environment: dict[str, str]) -> ModuleType:
    """Import functions/<short_name>/app.py afresh, as Lambda would at a cold start."""
    os.environ.update(environment)  # the layer is on sys.path already (local/__init__.py)
    module_name = f"ecluse_function_{short_name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / short_name / "app.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    collecting = gc.isenabled()
    try:
        spec.loader.exec_module(module)
    finally:
        # The handler turns the collector off for its init and freezes every object alive at its end
        # (decision 17): on Lambda, its own, once. This process imports handlers again and again (each
        # test's cold start, the local stack's five functions): each freeze would also catch what the tests
        # and earlier loads left in garbage cycles, for good (~18 MB a load), and an init that fails would
        # leave the collector off. Both are undone here.
        gc.unfreeze()
        if collecting:
            gc.enable()
    return module


@dataclass
class LambdaContext:
    function_name: str = "local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_ms: int = 30_000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self.timeout_ms - (time.monotonic() - self.started) * 1000), 0)
