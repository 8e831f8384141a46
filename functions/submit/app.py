"""Submit queue consumer: lodge each released declaration with customs, in order per system."""

from __future__ import annotations

import gc

gc.disable()  # until the end of this module: the init builds nothing for the collector to find (decision 17)

import json
from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ecluse.aws import tracing
from ecluse.aws.clients import LazyClient
from ecluse.aws.customs_circuit import CircuitBreakingGateway, circuit_config, dynamodb_persistence
from ecluse.aws.dynamodb_ledger import DynamoDbLedger
from ecluse.aws.dynamodb_status_board import DynamoDbStatusBoard
from ecluse.aws.gateway_token import token_source
from ecluse.aws.sqs_submit_queue import SqsSubmitQueue
from ecluse.aws.system_metrics import per_system
from ecluse.clock import SystemClock
from ecluse.config.submit import SubmitSettings
from ecluse.detection import AutoDetection
from ecluse.gateway import GatewayRefusedCredentials, SendingError
from ecluse.gateway.http import HttpGateway
from ecluse.submission import Submission

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NotRequired, TypedDict

    from aws_lambda_powertools.utilities.typing import LambdaContext

    class _Attributes(TypedDict, total=False):
        ApproximateReceiveCount: str
        MessageGroupId: str

    class _Record(TypedDict):
        """The fields of an SQS event's record this module reads."""

        messageId: str
        receiptHandle: str
        attributes: NotRequired[_Attributes]


logger = Logger()
metrics = Metrics()
settings = SubmitSettings.from_env()


_dynamodb = boto3.client("dynamodb")
_clock = SystemClock()
_detection = AutoDetection(DynamoDbStatusBoard(_dynamodb, settings.systems_table), _clock)
queue = SqsSubmitQueue(LazyClient("sqs"), settings.submit_queue_url)  # retries and dead letters only
submission = Submission(
    DynamoDbLedger(_dynamodb, settings.declarations_table, settings.systems_table),
    CircuitBreakingGateway(
        HttpGateway(
            settings.customs_gateway_url,
            token_source(settings.customs_gateway_token_parameter),
            settings.customs_gateway_timeout_seconds,
        ),
        dynamodb_persistence(_dynamodb, settings.systems_table),
        _detection,
        circuit_config(settings.circuit_failure_threshold, settings.circuit_recovery_seconds),
    ),
    _clock,
    settings.max_sending_attempts,
    _detection,
    settle=timedelta(seconds=settings.customs_gateway_settle_seconds),
)
# A failure in one system's message group must not hold back the other systems' groups.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
_postponed: set[str] = set()  # this invocation's messages left for the next one: nothing was sent


class NoTimeLeft(Exception):
    """Too little of this invocation is left to send a declaration and record customs' answer."""


def submit(record: SQSRecord, lambda_context: LambdaContext) -> None:
    if lambda_context.get_remaining_time_in_millis() < settings.milliseconds_per_declaration:
        _postponed.add(record.message_id)
        metrics.add_metric(name="SubmissionPostponed", unit=MetricUnit.Count, value=1)
        raise NoTimeLeft("left for the next invocation, untried")
    message = json.loads(record.body)
    try:
        result = submission.handle(message["lrn"], message.get("declarant"), message.get("released"))
    except GatewayRefusedCredentials:
        # alarmed on (template: GatewayCredentialsRefusedAlarm): a configuration problem, not an outage
        metrics.add_metric(name="GatewayCredentialsRefused", unit=MetricUnit.Count, value=1)
        logger.error("customs gateway refused the token", extra={"lrn": message["lrn"]})
        raise
    except SendingError:
        metrics.add_metric(name="SendingErrors", unit=MetricUnit.Count, value=1)
        per_system("SendingErrors", message["system"])
        raise
    if result.action == "failed":
        queue.dead_letter(settings.submit_dead_letter_queue_url, record.body, message["system"], record.message_id)
    logger.info("submission", extra={"lrn": result.lrn, "action": result.action})
    metrics.add_metric(name=f"Submission{result.action.title()}", unit=MetricUnit.Count, value=1)
    per_system(f"Submission{result.action.title()}", message["system"])


def _back_off(event: Mapping[str, Any], failed: Collection[object]) -> None:
    """Failed messages, and the ones skipped behind them in their group, come back after a back-off that
    doubles with each delivery instead of the queue's whole visibility timeout: a FIFO group stays
    blocked while any of its messages is in flight. A group postponed for lack of time comes back at once."""
    records: list[_Record] = event.get("Records", [])
    postponed = {_group(r) for r in records if r["messageId"] in _postponed}
    retries = {}
    for record in records:
        if record["messageId"] in failed and _group(record) in postponed:
            retries[record["receiptHandle"]] = 0
        elif record["messageId"] in failed:
            delivery = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            retries[record["receiptHandle"]] = min(settings.retry_base_seconds * 2 ** (delivery - 1), 120)
    if retries:
        queue.retry_later(retries)


def _group(record: _Record) -> str:
    return record.get("attributes", {}).get("MessageGroupId", "")


@logger.inject_lambda_context
@tracing.capture_lambda_handler("botocore", "httplib")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _postponed.clear()
    try:
        answer = process_partial_response(event=event, record_handler=submit, processor=processor, context=context)
    except BatchProcessingError:  # every record failed: Lambda retries the whole batch
        _back_off(event, {r["messageId"] for r in event.get("Records", [])})
        raise
    _back_off(event, {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])})
    return answer


gc.freeze()  # what the init phase built is never garbage: later collections need not walk it
gc.enable()
