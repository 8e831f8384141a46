"""Metrics with the customs system as dimension, for the dashboard's one line per system. Powertools'
single metric prints its blob even where metrics are off (tests, `make run`): the switch is honoured here."""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric


def per_system(name: str, system: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true", "yes", "on"):
        return
    with single_metric(name=name, unit=unit, value=value, default_dimensions={"system": system}):
        pass
