"""The stream positions table: per Kinesis shard, the sequence number of the last record whose counts are
in the issues table. It is advanced in the same transaction as those counts, which is what makes a
redelivered record a no-op (see docs/decisions/0002-idempotency.md)."""

from __future__ import annotations

from typing import Any

from errata.store.dynamo import from_item, to_item
from errata.store.tables import KeyAttribute, TableSpec

STREAM_POSITIONS_TABLE = TableSpec(logical_name="stream_positions", partition_key=KeyAttribute("shard"))


class StreamPositionStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def position(self, shard: str) -> int | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=to_item({"shard": shard}), ConsistentRead=True
        )
        item = response.get("Item")
        return int(from_item(item)["sequence_number"]) if item else None

    def advance_item(self, shard: str, previous: int | None, new: int) -> dict[str, Any]:
        """A TransactWriteItems entry moving the shard from `previous` to `new`; fails if it moved."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"shard": shard}),
            "UpdateExpression": "SET sequence_number = :new",
        }
        if previous is None:
            update["ConditionExpression"] = "attribute_not_exists(sequence_number)"
            update["ExpressionAttributeValues"] = to_item({":new": str(new)})
        else:
            update["ConditionExpression"] = "sequence_number = :previous"
            update["ExpressionAttributeValues"] = to_item({":new": str(new), ":previous": str(previous)})
        return {"Update": update}
