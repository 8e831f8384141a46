"""The process environment for running the handlers offline (tests and `make bench`)."""

from __future__ import annotations

import os


def offline_aws(log_level: str = "WARNING") -> None:
    """Dummy credentials, a region, Powertools metrics and tracing off; never a real endpoint."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="eu-west-3",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL=log_level,
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
