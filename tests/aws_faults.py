"""What DynamoDB and Kinesis do and moto does not, injected at the boto3 layer of a real client (a botocore
`before-call` hook), so the code under test runs its real path:

- a `ClientRequestToken` reused with other content within ten minutes is refused with
  IdempotentParameterMismatchException (docs.aws.amazon.com/amazondynamodb/latest/APIReference/
  API_TransactWriteItems.html); moto ignores tokens;
- transactions cancelled with `TransactionConflict` (another transaction on one of the items) or
  `ThrottlingError`, as happens when shards write the same hot items; moto never conflicts or throttles.

The ledger keeps every token it saw, cancelled or not: the strictest reading of the documentation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

_EVENT = "before-call.dynamodb.TransactWriteItems"


@dataclass
class TransactionFaults:
    cancel_next: int = 0  # cancel this many transactions outright
    cancel_share: float = 0.0  # and then this share of the rest, at random
    reason: str = "TransactionConflict"
    seed: int = 7
    tokens: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    cancelled: int = 0
    mismatches: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def _error(self, code: str, message: str, **extra: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}, **extra}
        return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None), parsed

    def before_call(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = json.loads(params["body"])
        digest = hashlib.sha256(json.dumps(body["TransactItems"], sort_keys=True).encode()).hexdigest()
        token = body.get("ClientRequestToken")
        with self._lock:
            self.calls += 1
            if token is not None and self.tokens.setdefault(token, digest) != digest:
                self.mismatches += 1
                return self._error(
                    "IdempotentParameterMismatchException",
                    "Request with same client token was used with different parameters",
                )
            cancel = self.cancel_next > 0 or (self.cancel_share and self._rng.random() < self.cancel_share)
            if self.cancel_next > 0:
                self.cancel_next -= 1
            if not cancel:
                return None
            self.cancelled += 1
        reasons = [{"Code": "None"} for _ in body["TransactItems"]]
        reasons[-1] = {"Code": self.reason, "Message": "Transaction is ongoing for the item"}
        return self._error(
            "TransactionCanceledException",
            f"Transaction cancelled, please refer cancellation reasons for specific reasons [{self.reason}]",
            CancellationReasons=reasons,
        )


@contextmanager
def transaction_faults(client: Any, faults: TransactionFaults) -> Iterator[TransactionFaults]:
    unique_id = f"transaction-faults-{id(faults)}"
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
