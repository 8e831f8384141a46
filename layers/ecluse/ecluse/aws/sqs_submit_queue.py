"""The submit queue: SQS FIFO, one message group per customs system (order), deduplicated per release."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ecluse.records import Record, release_mark


class SqsSubmitQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, record: Record) -> None:
        body = {
            "lrn": record.lrn,
            "declarant": record.declarant,
            "system": record.system,
            "released": release_mark(record),
        }
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps(body),
            MessageGroupId=record.system,
            # One id per release of a declaration: re-sends of the same release are deduplicated, but a
            # declaration held again and released anew within SQS's 5-minute window is not dropped. Two
            # declarants' equal LRNs differ by a digest of the declarant (an ARN outgrows the id's 128).
            MessageDeduplicationId=f"{record.lrn}.{_digest(record.declarant)}.{len(record.history)}",
        )

    def dead_letter(self, dead_letter_url: str, body: str, system: str, message_id: str) -> None:
        """Hand a message whose declaration spent its retry budget (FAILED) to the dead-letter queue,
        from where an operator redrives it (`aws sqs start-message-move-task`)."""
        self._sqs.send_message(
            QueueUrl=dead_letter_url, MessageBody=body, MessageGroupId=system, MessageDeduplicationId=message_id
        )

    def retry_later(self, delays: dict[str, int]) -> None:
        """Make received messages (receipt handle -> seconds) visible again after their delay."""
        handles = list(delays.items())
        for start in range(0, len(handles), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for index, (handle, seconds) in enumerate(handles[start : start + 10])
                ],
            )


def _digest(declarant: str) -> str:
    return hashlib.sha256(declarant.encode()).hexdigest()[:16]
