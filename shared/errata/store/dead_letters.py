"""The dead-letter queue (SQS) for poison records: the record's data goes along, so it can be inspected and
redriven, unlike the event source mapping's on-failure record, which only names the shard and sequence."""

from __future__ import annotations

import base64
import json
from typing import Any


class DeadLetterQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, *, source: str, sequence_number: str, data: bytes, reason: str) -> None:
        body = {
            "source": source,
            "sequence_number": sequence_number,
            "reason": reason,
            "data_base64": base64.b64encode(data).decode(),
        }
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body))
