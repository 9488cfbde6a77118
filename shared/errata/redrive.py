"""`errata redrive`: records in the dead-letter queue go back on the events stream, once their cause is fixed.

The queue holds two kinds of message:
- a record the processor dead-lettered (it broke a step, or kept failing until it was overdue), with its
  data (errata.store.dead_letters). The processor never counted it: its counts were not written;
- the event source mapping's on-failure record (`KinesisBatchInfo`): only where a batch was (shard, first
  and last sequence number), sent when the function crashed or timed out until the record's age limit. The
  records are read back from the stream while it still retains them.

Each record is put back with its event id as the partition key, as ingest put it, so the processor handles
it like any new record. A message is deleted only after its records are on the stream; a redrive that stops
in between and is run again puts them again, and the processor skips an event id its shard has just seen
(errata.store.stream_positions), so the counts stay exact. A record that still cannot be decoded stays in
the queue, and the report says why.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from errata.errors import UnprocessableRecord
from errata.models.ingested import IngestedEvent
from errata.store.event_stream import EventStream, StreamRecord

logger = logging.getLogger(__name__)
_RECEIVE_BATCH = 10
_VISIBILITY_SECONDS = 120
_MAX_EMPTY_READS = 3


@dataclass
class RedriveReport:
    messages: int = 0
    records: int = 0  # records put back on the stream
    kept: list[str] = field(default_factory=list)  # why a message stayed in the queue


class Redrive:
    def __init__(self, sqs: Any, queue_url: str, kinesis: Any, stream_name: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._kinesis = kinesis
        self._stream_name = stream_name
        self._stream = EventStream(kinesis, stream_name)

    def run(self, *, limit: int = 10_000, dry_run: bool = False) -> RedriveReport:
        report = RedriveReport()
        seen: set[str] = set()
        staying: list[str] = []  # receipt handles of messages left in the queue
        while report.messages < limit:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=_RECEIVE_BATCH,
                VisibilityTimeout=_VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message["MessageId"])
                report.messages += 1
                if not self._redrive(message, report, dry_run):
                    staying.append(message["ReceiptHandle"])
        for handle in staying:  # what stays is visible again at once, for the next look
            self._sqs.change_message_visibility(QueueUrl=self._queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return report

    def _redrive(self, message: dict[str, Any], report: RedriveReport, dry_run: bool) -> bool:
        """Whether the message's records went back on the stream (and the message was deleted)."""
        try:
            records = self._records_of(json.loads(message["Body"]))
        except (ValueError, KeyError, LookupError) as exc:
            report.kept.append(f"{message['MessageId']}: {exc}")
            return False
        report.records += len(records)
        if dry_run:
            return False
        self._stream.put(records)
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _records_of(self, body: dict[str, Any]) -> list[StreamRecord]:
        if "data_base64" in body:
            return [_stream_record(base64.b64decode(body["data_base64"]))]
        if "KinesisBatchInfo" in body:
            return [_stream_record(data) for data in self._read_batch(body["KinesisBatchInfo"])]
        raise LookupError("neither a dead-lettered record nor an on-failure batch")

    def _read_batch(self, info: dict[str, Any]) -> list[bytes]:
        """The batch's records, read back from the stream from its first to its last sequence number."""
        start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        stream_name = str(info.get("streamArn", "")).rsplit("/", 1)[-1] or self._stream_name
        try:
            iterator = self._kinesis.get_shard_iterator(
                StreamName=stream_name,
                ShardId=info["shardId"],
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=str(start),
            )["ShardIterator"]
        except ClientError as exc:
            raise LookupError(f"the stream no longer holds the batch at {start}: {exc}") from exc
        found: list[bytes] = []
        empty_reads = 0
        while iterator and empty_reads < _MAX_EMPTY_READS:
            response = self._kinesis.get_records(ShardIterator=iterator, Limit=1000)
            iterator = response.get("NextShardIterator")
            records = response["Records"]
            empty_reads = 0 if records else empty_reads + 1
            for record in records:
                sequence = int(record["SequenceNumber"])
                if sequence > end:
                    return _complete(found, int(info.get("batchSize", len(found))), start)
                found.append(bytes(record["Data"]))
        return _complete(found, int(info.get("batchSize", len(found))), start)


def _complete(found: list[bytes], expected: int, start: int) -> list[bytes]:
    if len(found) < expected:
        raise LookupError(f"the stream holds {len(found)} of the batch's {expected} records from {start}")
    return found


def _stream_record(data: bytes) -> StreamRecord:
    try:
        ingested = IngestedEvent.decode(data)
    except UnprocessableRecord as exc:
        raise ValueError(f"still not a record the processor can read: {exc}") from None
    return StreamRecord(partition_key=ingested.event_id, data=data)
