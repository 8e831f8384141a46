"""Scheduled monitor: planned maintenance windows begin on time and end only when customs answers."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ecluse.aws import tracing
from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.gateway_token import token_source
from ecluse.clock import SystemClock
from ecluse.config import MonitorSettings
from ecluse.gateway.http import HttpGateway
from ecluse.gateway.probe import GatewayProbe
from ecluse.maintenance import Maintenance

logger = Logger()
metrics = Metrics()
settings = MonitorSettings.from_env()
_dynamodb = boto3.client("dynamodb")
maintenance = Maintenance(
    DynamoDbWindowStore(_dynamodb, settings.systems_table),
    DynamoDbStatusBoard(_dynamodb, settings.systems_table),
    SystemClock(),
    GatewayProbe(
        HttpGateway(
            settings.customs_gateway_url,
            token_source(settings.customs_gateway_token_parameter),
            settings.customs_gateway_timeout_seconds,
        )
    ),
)


@logger.inject_lambda_context
@tracing.capture_lambda_handler("botocore", "httplib")
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    happened = maintenance.tick()
    for line in happened:
        logger.info("maintenance window", extra={"change": line})
    metrics.add_metric(name="MaintenanceWindowChanges", unit=MetricUnit.Count, value=len(happened))
    return {"maintenance": happened}
