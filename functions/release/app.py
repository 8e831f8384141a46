"""Scheduled release: held declarations of available systems go to the submit queue, oldest first."""

from __future__ import annotations

import gc

gc.disable()  # until the end of this module: the init builds nothing for the collector to find (decision 17)

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ecluse.aws import tracing
from ecluse.aws.clients import LazyClient
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.eventbridge import EventBridgePublisher
from ecluse.aws.sqs_submit_queue import SqsSubmitQueue
from ecluse.clock import SystemClock
from ecluse.config.release import ReleaseSettings
from ecluse.events import deadline_at_risk
from ecluse.release import Release

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
settings = ReleaseSettings.from_env()
_dynamodb = boto3.client("dynamodb")
publisher = EventBridgePublisher(LazyClient("events"), settings.event_bus_name)  # a deadline at risk only
release = Release(
    DynamoDbLedger(_dynamodb, settings.declarations_table, settings.systems_table),
    DynamoDbStatusBoard(_dynamodb, settings.systems_table),
    SqsSubmitQueue(LazyClient("sqs"), settings.submit_queue_url),  # a run with nothing to release sends nothing
    SystemClock(),
    run_seconds=settings.release_run_seconds,
    probe_after=timedelta(seconds=settings.circuit_recovery_seconds),
    resend_after=timedelta(seconds=settings.resend_after_seconds),
    spans=tracing.span,
)


@logger.inject_lambda_context
@tracing.capture_lambda_handler()
@metrics.log_metrics
def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = release.run()
    metrics.add_metric(name="Released", unit=MetricUnit.Count, value=sum(report.released.values()))
    metrics.add_metric(name="Resent", unit=MetricUnit.Count, value=sum(report.resent.values()))
    metrics.add_metric(name="Probes", unit=MetricUnit.Count, value=len(report.probes))
    # alarmed on (template: ReintegrationDeadlineAtRiskAlarm); per-system detail in the log line
    metrics.add_metric(name="DeadlineAtRisk", unit=MetricUnit.Count, value=len(report.at_risk))
    for system, risk in report.at_risk.items():
        logger.warning("re-integration deadline at risk", extra={"system": system, **risk})
    if report.at_risk:  # told to the ERP at every run while it lasts; the run goes on if that fails
        try:
            publisher.publish([deadline_at_risk(system, risk) for system, risk in report.at_risk.items()])
        except Exception:
            logger.exception("could not tell the ERP that a deadline is at risk")
    if report.released or report.resent or report.probes:
        logger.info("release run", extra=asdict(report))
    return asdict(report)


gc.freeze()  # what the init phase built is never garbage: later collections need not walk it
gc.enable()
