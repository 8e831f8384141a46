"""Scheduled monitor: status feeds read, and planned maintenance windows begun on time and ended only when
customs answers."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ecluse.aws import tracing
from ecluse.aws.dynamodb_feeds import DynamoDbFeedStore
from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.gateway_token import token_source
from ecluse.clock import SystemClock
from ecluse.config import MonitorSettings
from ecluse.feeds import Feeds
from ecluse.feeds_http import HttpPageReader
from ecluse.gateway.http import HttpGateway
from ecluse.gateway.probe import GatewayProbe
from ecluse.maintenance import Maintenance

logger = Logger()
metrics = Metrics()
settings = MonitorSettings.from_env()
_dynamodb = boto3.client("dynamodb")
_board = DynamoDbStatusBoard(_dynamodb, settings.systems_table)
_clock = SystemClock()
_pages = HttpPageReader(settings.feed_timeout_seconds)
feeds = Feeds(DynamoDbFeedStore(_dynamodb, settings.systems_table), _board, _clock, _pages)
maintenance = Maintenance(
    DynamoDbWindowStore(_dynamodb, settings.systems_table),
    _board,
    _clock,
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
    read = feeds.tick()
    for line in read:
        logger.info("status feed", extra={"change": line})
    # alarmed on when a feed keeps failing (GET /feeds/{feed} says why)
    metrics.add_metric(name="FeedErrors", unit=MetricUnit.Count, value=sum(1 for f in feeds.listed() if f.last_error))
    happened = maintenance.tick()
    for line in happened:
        logger.info("maintenance window", extra={"change": line})
    metrics.add_metric(name="MaintenanceWindowChanges", unit=MetricUnit.Count, value=len(happened))
    return {"maintenance": happened, "feeds": read}
