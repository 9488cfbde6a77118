"""The stream positions table: per Kinesis shard, the sequence number of the last record whose counts are
in the issues table. It is advanced in the same transaction as those counts, which is what makes a
redelivered record a no-op (see docs/decisions/0002-idempotency.md)."""

from __future__ import annotations

import time
from typing import Any

from errata.store.dynamo import from_item, to_item
from errata.store.tables import KeyAttribute, TableSpec

STREAM_POSITIONS_TABLE = TableSpec(
    logical_name="stream_positions", partition_key=KeyAttribute("shard"), ttl_attribute="expires_at"
)
# A position is useless once its records have left the stream (retention is at most 30 days by the stage
# config); the TTL clears positions of shards closed by resharding.
POSITION_TTL_SECONDS = 31 * 24 * 3600


class StreamPositionStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def position(self, shard: str) -> int | None:
        response = self._dynamodb.get_item(TableName=self._table, Key=to_item({"shard": shard}), ConsistentRead=True)
        item = response.get("Item")
        return int(from_item(item)["sequence_number"]) if item else None

    def advance_item(self, shard: str, previous: int | None, new: int) -> dict[str, Any]:
        """A TransactWriteItems entry moving the shard from `previous` to `new`; fails if it moved."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"shard": shard}),
            "UpdateExpression": "SET sequence_number = :new, expires_at = :expires_at",
        }
        values: dict[str, Any] = {":new": str(new), ":expires_at": int(time.time()) + POSITION_TTL_SECONDS}
        if previous is None:
            update["ConditionExpression"] = "attribute_not_exists(sequence_number)"
        else:
            update["ConditionExpression"] = "sequence_number = :previous"
            values[":previous"] = str(previous)
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}
