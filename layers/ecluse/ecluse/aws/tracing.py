"""Powertools' Tracer around a handler, created at the first invocation rather than at import.

Creating a `Tracer` imports the X-Ray SDK (and asyncio with it) and patches the libraries it traces:
about a tenth of a handler's import on Lambda (docs/benchmarks.md). Powertools loads the SDK lazily, on
the Tracer's creation, so the handler module only declares the tracing; the Tracer, its botocore patch
(class-wide: clients created at import are traced too) and `capture_lambda_handler` come with the first
event, exactly as the decorator would have applied them. Only the libraries a function calls are
patched (`patch_modules`), not every one the SDK knows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]


def capture_lambda_handler(*patch_modules: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        traced: Handler | None = None

        @functools.wraps(handler)
        def lambda_handler(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                from aws_lambda_powertools import Tracer

                traced = Tracer(patch_modules=patch_modules or ("botocore",)).capture_lambda_handler(handler)
            return traced(event, context)

        return lambda_handler

    return decorate
