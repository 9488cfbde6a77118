"""The stream positions table: per Kinesis shard, the sequence number of the last record whose counts are
in the issues table, and the event ids the shard saw last.

    shard                  attributes
    <shard>                sequence_number, ids (binary: 12 bytes per event), expires_at
    recent#<shard>         ids: where the recent ids were kept before they moved onto the position item

The position is advanced once every item a batch adds to is written, each marked with the batch
(errata.store.shard_marks): a redelivered record (at or below the position) is in every item it touches,
and is skipped (docs/decisions/0002-idempotency.md, 0009-write-path-cost.md).

The recent ids catch the other duplicate: an SDK that sends an event again (after a timeout, from its
offline cache) makes a new record with the same event id. Ingest keys records by event id, so the copy
reaches the same shard; the processor skips an id it finds here or earlier in the batch. The window is
bounded, as Sentry's is: the last RECENT_IDS_KEPT ids of the shard within RECENT_IDS_SECONDS, written with
the position once per batch (about 5 KB when full: a few write units per batch, not per event).
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from errata.store.dynamo import batch_get, to_item
from errata.store.tables import KeyAttribute, TableSpec

STREAM_POSITIONS_TABLE = TableSpec(
    logical_name="stream_positions", partition_key=KeyAttribute("shard"), ttl_attribute="expires_at"
)
# A position is useless once its records have left the stream (retention is at most 30 days by the stage
# config); the TTL clears positions of shards closed by resharding.
POSITION_TTL_SECONDS = 31 * 24 * 3600
RECENT_IDS_SECONDS = 600
RECENT_IDS_KEPT = 400
_ENTRY = struct.Struct(">I8s")  # seconds since the epoch, the first 8 bytes of the id's digest


def _digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


@dataclass
class RecentEventIds:
    """The shard's recent event ids, oldest first."""

    entries: list[tuple[int, bytes]] = field(default_factory=list)
    _index: set[bytes] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self._index = {digest for _, digest in self.entries}

    @classmethod
    def decode(cls, data: bytes | None) -> RecentEventIds:
        data = data or b""
        usable = len(data) - len(data) % _ENTRY.size
        return cls([_ENTRY.unpack_from(data, offset) for offset in range(0, usable, _ENTRY.size)])

    def seen(self, event_id: str) -> bool:
        return _digest(event_id) in self._index

    def add(self, event_id: str, received_at: datetime) -> None:
        digest = _digest(event_id)
        self.entries.append((int(received_at.timestamp()), digest))
        self._index.add(digest)

    def encode(self) -> bytes:
        """The entries still inside the window, at most RECENT_IDS_KEPT of them."""
        newest = max((moment for moment, _ in self.entries), default=0)
        kept = [(m, d) for m, d in self.entries if m >= newest - RECENT_IDS_SECONDS][-RECENT_IDS_KEPT:]
        return b"".join(_ENTRY.pack(moment, digest) for moment, digest in kept)


@dataclass(frozen=True)
class ShardState:
    position: int | None
    recent: RecentEventIds


class StreamPositionStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def state(self, shard: str) -> ShardState:
        """The shard's position and recent ids, read consistently (one BatchGetItem)."""
        found = {
            item["shard"]: item
            for item in batch_get(
                self._dynamodb, self._table, [{"shard": shard}, {"shard": _recent_key(shard)}], consistent=True
            )
        }
        position = found.get(shard, {})
        recent = position.get("ids", found.get(_recent_key(shard), {}).get("ids"))
        sequence = position.get("sequence_number")
        return ShardState(int(sequence) if sequence is not None else None, RecentEventIds.decode(recent))

    def advance(self, shard: str, previous: int | None, new: int, recent: RecentEventIds) -> bool:
        """Moves the shard from `previous` to `new` with its recent ids; False if the position had moved
        (another invocation wrote this range)."""
        values: dict[str, Any] = {
            ":new": str(new),
            ":ids": recent.encode(),
            ":expires_at": int(time.time()) + POSITION_TTL_SECONDS,
        }
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"shard": shard}),
            "UpdateExpression": "SET sequence_number = :new, ids = :ids, expires_at = :expires_at",
        }
        # Already at `new` passes too: botocore's retry of a write that landed but whose answer was lost.
        if previous is None:
            update["ConditionExpression"] = "attribute_not_exists(sequence_number) OR sequence_number = :new"
        else:
            update["ConditionExpression"] = "sequence_number IN (:previous, :new)"
            values[":previous"] = str(previous)
        update["ExpressionAttributeValues"] = to_item(values)
        try:
            self._dynamodb.update_item(**update)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _recent_key(shard: str) -> str:
    return f"recent#{shard}"
