"""Powertools' Tracer around a handler, created at the first invocation rather than at import.

Creating a `Tracer` imports the X-Ray SDK (and asyncio with it) and patches the libraries it traces:
about a tenth of a handler's import on Lambda (docs/benchmarks.md). Powertools loads the SDK lazily, on
the Tracer's creation, so the handler module only declares the tracing; the Tracer, its botocore patch
(class-wide: clients created at import are traced too) and `capture_lambda_handler` come with the first
event, exactly as the decorator would have applied them. Only the libraries a function calls are
patched (`patch_modules`), not every one the SDK knows.

`span` opens a subsegment inside the traced invocation (the release run's phases, which last up to a
minute together); before the first event, or with tracing disabled, it costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = Callable[[Any, Any], Any]
_tracer: Tracer | None = None  # the Tracer, once the first invocation created it


def capture_lambda_handler(*patch_modules: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        traced: Handler | None = None

        @functools.wraps(handler)
        def lambda_handler(event: Any, context: Any) -> Any:
            nonlocal traced
            global _tracer
            if traced is None:
                from aws_lambda_powertools import Tracer

                _tracer = Tracer(patch_modules=patch_modules or ("botocore",))
                traced = _tracer.capture_lambda_handler(handler)
            return traced(event, context)

        return lambda_handler

    return decorate


@contextlib.contextmanager
def span(name: str, **annotations: str) -> Iterator[None]:
    """A subsegment named `name`, annotated (searchable in X-Ray) with `annotations`."""
    if _tracer is None or _tracer.disabled:
        yield
        return
    with _tracer.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key, value)
        yield
