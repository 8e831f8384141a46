"""What Lambda's event source mappings and EventBridge's API destinations do on AWS, done in-process for
`make run`: the tables' change streams fed to the publish function, and the bus's events POSTed to the
ERP's webhook (`ERP_WEBHOOK_URL`), at least once and in order."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any


class StreamReader:
    """One table's DynamoDB stream, read from its start, as a stream event source mapping reads it."""

    def __init__(self, session: Any, table: str) -> None:
        self._streams = session.client("dynamodbstreams")
        arn = session.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self._iterators: list[str | None] = [
            self._streams.get_shard_iterator(StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
            for s in shards
        ]
        self.pending: list[dict[str, Any]] = []  # read but not yet told: a failed batch is retried from its failure

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        for index, iterator in enumerate(self._iterators):
            if len(self.pending) >= limit or iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            self.pending += answer["Records"]
            self._iterators[index] = answer.get("NextShardIterator")
        return self.pending[:limit]

    def done(self, count: int) -> None:
        del self.pending[:count]


def pump(reader: StreamReader, invoke: Callable[[dict[str, Any]], Mapping[str, Any]]) -> int:
    """Feed the next records to the publish function; how many it told."""
    records = reader.read()
    if not records:
        return 0
    answer = invoke({"Records": records})
    failed = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
    sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
    told = sequence.index(failed[0]) if failed else len(records)
    reader.done(told)
    return told


class Webhook:
    """The bus's events to the ERP, as an API destination would: each POSTed as the EventBridge envelope,
    retried until the ERP answers 2xx, in order (one FIFO group)."""

    def __init__(
        self, session: Any, bus: str, url: str, pattern: dict[str, Any], secret_header: str = "", secret: str = ""
    ) -> None:
        self._sqs = session.client("sqs")
        self._url = url
        self._headers = {"Content-Type": "application/json", **({secret_header: secret} if secret else {})}
        self._queue = self._sqs.create_queue(
            QueueName="erp-webhook.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "1"},
        )["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])
        events = session.client("events")
        events.put_rule(Name="erp-webhook", EventBusName=bus, EventPattern=json.dumps(pattern))
        target = {
            "Id": "erp-webhook",
            "Arn": attributes["Attributes"]["QueueArn"],
            "SqsParameters": {"MessageGroupId": "ecluse"},
        }
        events.put_targets(Rule="erp-webhook", EventBusName=bus, Targets=[target])

    def deliver(self) -> int:
        answer = self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        delivered = 0
        for message in answer.get("Messages", []):
            if not self._post(message["Body"]):
                break  # the rest waits behind it: order kept; it comes back when its visibility ends
            self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            delivered += 1
        return delivered

    def _post(self, body: str) -> bool:
        request = urllib.request.Request(self._url, data=body.encode(), method="POST", headers=self._headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (the URL the operator gave)
                status: int = response.status
                return 200 <= status < 300
        except (urllib.error.URLError, OSError) as error:
            print(f"webhook {self._url}: {error}; retried", file=sys.stderr)
            return False
