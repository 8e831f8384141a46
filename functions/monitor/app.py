"""Scheduled monitor: status feeds read, planned maintenance windows begun on time and ended only when
customs answers, and each system's gauges for the dashboard and the alarms."""

from __future__ import annotations

import gc

gc.disable()  # until the end of this module: the init builds nothing for the collector to find (decision 17)

from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ecluse.aws import tracing
from ecluse.aws.dynamodb_feeds import DynamoDbFeedStore
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.aws.dynamodb_maintenance import DynamoDbWindowStore
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.gateway_token import token_source
from ecluse.aws.system_metrics import per_system
from ecluse.clock import SystemClock, parse_iso
from ecluse.config.monitor import MonitorSettings
from ecluse.feeds import Feeds
from ecluse.feeds_http import HttpPageReader
from ecluse.gateway.http import HttpGateway
from ecluse.gateway.probe import GatewayProbe
from ecluse.life_cycle import State
from ecluse.maintenance import Maintenance
from ecluse.observation import Gauges, gauges

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
settings = MonitorSettings.from_env()
_dynamodb = boto3.client("dynamodb")
_board = DynamoDbStatusBoard(_dynamodb, settings.systems_table)
_ledger = DynamoDbLedger(_dynamodb, settings.declarations_table, settings.systems_table)
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


# minutes have no CloudWatch unit of their own
_UNITS = {n: MetricUnit.NoUnit for n in ("OldestHeldAgeMinutes", "OldestSubmittedAgeMinutes", "DeadlineMarginMinutes")}


def observe() -> list[Gauges]:
    """Each system's gauges: one read of every status, and a query or two per system."""
    now = _clock.now()
    seen = []
    for state in _board.all():
        oldest_held = _ledger.oldest_held_at(state.system) if state.held else None
        submitted = list(_ledger.oldest(state.system, State.SUBMITTED, 1))
        sent_at = parse_iso(submitted[0].history[-1].at) if submitted and submitted[0].history else None
        seen.append(gauges(state, now, oldest_held, sent_at))
    return seen


def _publish(seen: list[Gauges]) -> None:
    """Per system (dimension `system`) for the dashboard; the worst of all (dimension `service`) for alarms."""
    for g in seen:
        values = {
            "Held": g.held,
            "Emergency": g.emergency,
            "ReleasedLastMinute": g.released_last_minute,
            "ReleaseStalled": int(g.stalled),
            "OldestHeldAgeMinutes": g.oldest_held_minutes,
            "OldestSubmittedAgeMinutes": g.oldest_submitted_minutes,
            "DeadlineMarginMinutes": g.deadline_margin_minutes,
        }
        for name, value in values.items():
            if value is not None:
                per_system(name, g.system, value, _UNITS.get(name, MetricUnit.Count))
    worst = {
        "OldestHeldAgeMinutes": max((g.oldest_held_minutes or 0 for g in seen), default=0),
        "OldestSubmittedAgeMinutes": max((g.oldest_submitted_minutes or 0 for g in seen), default=0),
        "ReleaseStalled": sum(g.stalled for g in seen),
    }
    for name, value in worst.items():
        metrics.add_metric(name=name, unit=_UNITS.get(name, MetricUnit.Count), value=value)


@logger.inject_lambda_context
@tracing.capture_lambda_handler("botocore", "httplib")
@metrics.log_metrics
def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    read = feeds.tick()
    for line in read:
        logger.info("status feed", extra={"change": line})
    # alarmed on when a feed keeps failing (GET /feeds/{feed} says why)
    listed = feeds.listed()
    metrics.add_metric(name="FeedErrors", unit=MetricUnit.Count, value=sum(1 for f in listed if f.last_error))
    failing = max((f.failed_polls for f in listed), default=0)  # alarmed on: a feed failing N reads in a row
    metrics.add_metric(name="FeedFailedPolls", unit=MetricUnit.Count, value=failing)
    happened = maintenance.tick()
    for line in happened:
        logger.info("maintenance window", extra={"change": line})
    metrics.add_metric(name="MaintenanceWindowChanges", unit=MetricUnit.Count, value=len(happened))
    _publish(observe())
    return {"maintenance": happened, "feeds": read}


gc.freeze()  # what the init phase built is never garbage: later collections need not walk it
gc.enable()
