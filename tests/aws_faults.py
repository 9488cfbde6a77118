"""What DynamoDB and Kinesis do and moto does not, injected at the boto3 layer of a real client (a botocore
`before-call` hook), so the code under test runs its real path:

- an UpdateItem throttled (`ProvisionedThroughputExceededException`) past botocore's own retries, as a hot
  item or a table over its capacity is; moto never throttles;
- an UpdateItem that landed but whose answer was lost, so botocore sent it again (a read timeout): the
  write is applied through a client without the hook, then the call itself goes through;
- the network gone part way through a batch's writes (`EndpointConnectionError` on every call after the
  first `fail_after`), as when a Lambda's connection drops or it times out mid-batch.

Only the tables named are touched: the shard's position is one write per batch, which botocore's retries
cover.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

_EVENT = "before-call.dynamodb.UpdateItem"


@dataclass
class ItemWriteFaults:
    applier: Any  # a DynamoDB client without the hook: applies a write whose answer is then "lost"
    tables: set[str]
    throttle_share: float = 0.0
    applied_twice_share: float = 0.0
    fail_after: int | None = None
    seed: int = 7
    calls: int = 0
    throttled: int = 0
    applied_twice: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def before_call(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = json.loads(params["body"])
        if body["TableName"] not in self.tables:
            return None
        with self._lock:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                self.failed += 1
                raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
            draw = self._rng.random()
        if draw < self.throttle_share:
            with self._lock:
                self.throttled += 1
            parsed = {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Throughput exceeds the limit"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None), parsed
        if draw < self.throttle_share + self.applied_twice_share:
            with self._lock:
                self.applied_twice += 1
            # A first send that was refused: the second is refused the same way.
            with contextlib.suppress(self.applier.exceptions.ConditionalCheckFailedException):
                self.applier.update_item(**_from_wire(body))
        return None


def _from_wire(value: Any) -> Any:
    """Request parameters as the wire carried them, back to what boto3 takes: binary values are base64 on
    the wire, and boto3 would encode them again."""
    if isinstance(value, dict):
        if set(value) == {"B"}:
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"}:
            return {"BS": [base64.b64decode(item) for item in value["BS"]]}
        return {key: _from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_wire(item) for item in value]
    return value


@contextmanager
def item_write_faults(client: Any, faults: ItemWriteFaults) -> Iterator[ItemWriteFaults]:
    unique_id = f"item-write-faults-{id(faults)}"
    client.meta.events.register(_EVENT, faults.before_call, unique_id=unique_id)
    try:
        yield faults
    finally:
        client.meta.events.unregister(_EVENT, unique_id=unique_id)


@dataclass
class PartialPutRecords:
    """Kinesis' PutRecords is not all-or-nothing: under throttling some entries are written and the rest
    come back with an ErrorCode (docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
    moto never does that. Here the first `accepted` entries of the first call really go on the stream
    (through `stream_client`, which has no hook), and every other entry of that call and of the next
    `failing_calls` calls is refused as throttled."""

    stream_client: Any
    accepted: int
    failing_calls: int
    calls: int = 0

    def before_call(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.calls > self.failing_calls:
            return None
        body = json.loads(params["body"])
        entries = body["Records"]
        keep = self.accepted if self.calls == 0 else 0
        self.calls += 1
        results: list[dict[str, Any]] = []
        if keep:
            put = self.stream_client.put_records(
                StreamName=body["StreamName"],
                Records=[
                    {"PartitionKey": e["PartitionKey"], "Data": base64.b64decode(e["Data"])} for e in entries[:keep]
                ],
            )
            results.extend(put["Records"])
        results.extend(
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
            for _ in entries[keep:]
        )
        parsed = {
            "FailedRecordCount": len(entries) - keep,
            "Records": results,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        return AWSResponse("https://kinesis.us-east-1.amazonaws.com/", 200, {}, None), parsed


@contextmanager
def partial_put_records(client: Any, faults: PartialPutRecords) -> Iterator[PartialPutRecords]:
    unique_id = f"partial-put-records-{id(faults)}"
    client.meta.events.register("before-call.kinesis.PutRecords", faults.before_call, unique_id=unique_id)
    try:
        yield faults
    finally:
        client.meta.events.unregister("before-call.kinesis.PutRecords", unique_id=unique_id)
