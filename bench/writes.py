"""DynamoDB and S3 writes per event of the processor, for an error storm and for a Zipf mix, from one run.

    uv run python bench/writes.py [--storm-events 10000] [--zipf-events 2000]

Runs the real processor handler against the moto server and counts the write requests it makes. A transactional
write costs 2 WCU per item; the "WCU" column counts that. moto deep-copies a table for every item of a
transaction, so the Zipf run (thousands of items) is kept smaller than the storm; the ratios it prints do not
depend on the size.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.client

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "ERRATA_AWS_READ_TIMEOUT": "300",
    }
)

WRITES = {"TransactWriteItems", "UpdateItem", "PutItem", "BatchWriteItem", "PutObject"}


class WriteCounter:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0
        self.wcu = 0

    def record(self, operation: str, params: dict[str, Any]) -> None:
        if operation not in WRITES:
            return
        self.requests[operation] += 1
        if operation == "TransactWriteItems":
            self.items += len(params["TransactItems"])
            self.wcu += 2 * len(params["TransactItems"])
        elif operation != "PutObject":
            self.items += 1
            self.wcu += 1


def _records(
    project_id: str, fingerprints: Iterator[int], users: Iterator[str | None], count: int
) -> list[dict[str, Any]]:
    from errata.models.ingested import IngestedEvent

    shard = f"shardId-bench-{uuid.uuid4().hex[:8]}"
    records = []
    for sequence in range(count):
        fingerprint, user = next(fingerprints), next(users)
        payload: dict[str, Any] = {
            "exception": {
                "values": [
                    {
                        "type": f"Error{fingerprint}",
                        "value": "boom",
                        "stacktrace": {"frames": [{"function": "f", "module": "app", "in_app": True}]},
                    }
                ]
            },
            "release": "bench@1.0.0",
        }
        if user:
            payload["user"] = {"id": user}
        data = IngestedEvent(
            project_id=project_id, event_id=uuid.uuid4().hex, received_at=datetime.now(UTC), payload=payload
        ).encode()
        records.append(
            {
                "kinesis": {
                    "sequenceNumber": str(10**20 + sequence),
                    "data": base64.b64encode(data).decode(),
                    "partitionKey": "k",
                },
                "eventID": f"{shard}:{10**20 + sequence}",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/bench",
                "eventSource": "aws:kinesis",
            }
        )
    return records


def run(name: str, records: list[dict[str, Any]], batch_size: int, counter: WriteCounter) -> str:
    from errata_local.lambda_context import LocalLambdaContext
    from errata_local.stack import local_invoke
    from functions.process import handler

    invoke = local_invoke(handler)

    before_items, before_wcu, before_puts = counter.items, counter.wcu, counter.requests["PutObject"]
    for start in range(0, len(records), batch_size):
        response = invoke({"Records": records[start : start + batch_size]}, LocalLambdaContext("bench"))
        assert not response["batchItemFailures"], response
    events = len(records)
    items, wcu, puts = (
        counter.items - before_items,
        counter.wcu - before_wcu,
        counter.requests["PutObject"] - before_puts,
    )
    return f"| {name} | {batch_size} | {items / events:.3f} | {wcu / events:.3f} | {puts / events:.3f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storm-events", type=int, default=10_000)
    parser.add_argument("--zipf-events", type=int, default=2_000)
    args = parser.parse_args()
    counter = WriteCounter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        counter.record(operation, params)
        return original(self, operation, params)

    from errata_local.aws import EmbeddedAws

    aws = EmbeddedAws()
    aws.start()
    try:
        settings = aws.provision("errata-bench")
        os.environ.update(settings.as_env())
        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        rng = random.Random(7)
        zipf_weights = [1 / (rank**1.1) for rank in range(1, 1001)]

        def storm() -> Iterator[int]:
            while True:
                yield 0

        def zipf() -> Iterator[int]:
            while True:
                yield rng.choices(range(1000), weights=zipf_weights)[0]

        def no_users() -> Iterator[str | None]:
            while True:
                yield None

        def user_pool(size: int) -> Iterator[str | None]:
            while True:
                yield f"user-{rng.randrange(size)}"

        rows = []
        for batch_size in (100, 500):
            workloads = [
                (f"storm: {args.storm_events} events, 1 fingerprint, no user", storm(), no_users(), args.storm_events),
                (
                    f"storm: {args.storm_events} events, 1 fingerprint, 50 users",
                    storm(),
                    user_pool(50),
                    args.storm_events,
                ),
                (f"Zipf(1.1): {args.zipf_events} events, 1,000 fingerprints", zipf(), no_users(), args.zipf_events),
            ]
            for index, (name, fingerprints, users, events) in enumerate(workloads):
                records = _records(f"p{batch_size}-{index}", fingerprints, users, events)
                rows.append(run(name, records, batch_size, counter))
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    finally:
        aws.stop()
    print("DynamoDB and S3 writes per event of the processor:")
    print("| workload | batch size | DynamoDB items/event | WCU/event | S3 PUTs/event |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
