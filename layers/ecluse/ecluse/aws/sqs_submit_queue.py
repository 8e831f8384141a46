"""The submit queue: SQS FIFO, one message group per customs system (order), deduplicated per release."""

from __future__ import annotations

import json
from typing import Any

from ecluse.declarations import Record


class SqsSubmitQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, record: Record) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps({"lrn": record.lrn, "system": record.system}),
            MessageGroupId=record.system,
            # One id per release of a declaration: re-sends of the same release are deduplicated, but a
            # declaration held again and released anew within SQS's 5-minute window is not dropped.
            MessageDeduplicationId=f"{record.lrn}.{len(record.history)}",
        )

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Back off before the next delivery instead of waiting the whole visibility timeout."""
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
