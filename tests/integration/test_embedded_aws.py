"""Where the embedded AWS (moto, made to behave like AWS by `local.moto_twin`) must answer as AWS does for
Écluse's guarantees to be tested at all."""

from __future__ import annotations

import time


def test_a_fifo_group_failed_and_backed_off_comes_back_in_order(aws, sqs):
    """The submitter backs a failed message off, and the ones skipped behind it in its group with it
    (functions/submit/app.py). On AWS the group comes back in order: a message is in flight only while it
    is invisible. moto counted the later ones as in flight until its receive loop reached them, passed over
    the first and delivered a later one first (the busy border saw held declarations overtake an older one)."""
    url = aws.env("submit")["SUBMIT_QUEUE_URL"]
    for lrn in ("T-1", "T-2", "T-3"):
        sqs.send_message(QueueUrl=url, MessageBody=lrn, MessageGroupId="CDS", MessageDeduplicationId=lrn)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == ["T-1", "T-2", "T-3"]
    sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 1} for i, m in enumerate(received)
        ],
    )
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert again[0]["Body"] == "T-1"
    assert [m["Body"] for m in again] == ["T-1", "T-2", "T-3"][: len(again)]
