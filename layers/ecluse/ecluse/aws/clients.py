"""AWS clients created at their first call, for the services only some paths of a function call.

Creating a boto3 client loads its service's API model and endpoint rules: a few milliseconds of a cold
start each (docs/benchmarks.md). A function creates at import the clients every invocation calls (its
DynamoDB tables) and, through `LazyClient`, the ones a path may never reach: the API's SQS client serves
the lodging routes only, the submitter's its retries and dead letters, the release's EventBridge client
a deadline at risk.
"""

from __future__ import annotations

from typing import Any

import boto3


class LazyClient:
    """Stands for `boto3.client(service)` and creates it when an attribute is first asked for."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = boto3.client(self._service)  # type: ignore[call-overload]
        return getattr(self._client, name)
