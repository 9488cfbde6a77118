"""The events stream (Kinesis): ingest's producer side.

Partition key: the event id. It spreads an outage's storm of one error evenly over every shard (a project or
fingerprint key would pin a storm to one shard's 1,000 records/s). Per-shard order is all the processor's
idempotency needs (docs/decisions/0001-partition-key.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from errata.limits import KINESIS_PUT_RECORDS_MAX_BYTES, KINESIS_PUT_RECORDS_MAX_RECORDS


class StreamUnavailable(Exception):
    """Kinesis kept refusing records after retries: a server-side fault (503), not the client's."""


@dataclass(frozen=True)
class StreamRecord:
    partition_key: str
    data: bytes


class EventStream:
    def __init__(self, kinesis: Any, stream_name: str, attempts: int = 4) -> None:
        self._kinesis = kinesis
        self._stream = stream_name
        self._attempts = attempts

    def put(self, records: list[StreamRecord]) -> None:
        """Every record, in as few PutRecords calls as its limits allow (errata.limits)."""
        for chunk in _chunks(records):
            self._put_chunk(chunk)

    def _put_chunk(self, records: list[StreamRecord]) -> None:
        pending = [{"PartitionKey": r.partition_key, "Data": r.data} for r in records]
        for attempt in range(self._attempts):
            response = self._kinesis.put_records(StreamName=self._stream, Records=pending)
            if not response.get("FailedRecordCount"):
                return
            # PutRecords is not all-or-nothing: resend only the entries that failed (throttled shards).
            pending = [
                entry for entry, result in zip(pending, response["Records"], strict=True) if "ErrorCode" in result
            ]
            time.sleep(0.05 * 2**attempt)
        raise StreamUnavailable(f"{len(pending)} records were not accepted by the stream")


def _chunks(records: list[StreamRecord]) -> list[list[StreamRecord]]:
    chunks: list[list[StreamRecord]] = []
    size = 0
    for record in records:
        record_size = len(record.data) + len(record.partition_key.encode())
        if (
            not chunks
            or len(chunks[-1]) == KINESIS_PUT_RECORDS_MAX_RECORDS
            or size + record_size > KINESIS_PUT_RECORDS_MAX_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(record)
        size += record_size
    return chunks
