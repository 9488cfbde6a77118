"""Writes a shard's batch makes exactly once without a transaction (docs/decisions/0009-write-path-cost.md).

Every item a batch adds to is written by one conditional UpdateItem that also sets the writing shard's mark:

    w_<shard digest>    "<sequence number, 64 digits>/<day>"

The mark says the item holds the shard's contributions up to and including that sequence number, and none
after it. A batch covers the shard's records after its position P up to its last record L; its write of an
item is made on the condition that the item's mark is at or below P (or absent), and sets it to L. Then:

- a redelivered batch (Lambda's retry after a failure part way, a bisected half of it, or a longer batch that
  also holds newer records) finds the items the first attempt wrote marked L' > P: the item is re-read, and
  written again with only the records after L' (none when L' >= L: nothing to do);
- the position moves to L only after every item is written, so a record at or below the position is in
  every item it touches.

One small write per batch (the position; a refused write returns the item, so telling why costs no read)
instead of a transaction that doubles every write unit and holds at most 100 items. The day lets a reader of
the item drop marks older than any retry can be (STALE_AFTER_DAYS): an item gains a mark per shard that
writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from errata.store.event_payloads import shard_digest

_DIGITS = 64
# Longer than the event source mapping's maximum record age (infra/config.py allows 7 days at most): a batch
# older than that is never retried, so its mark is no longer needed.
STALE_AFTER_DAYS = 8
MARK_PREFIX = "w_"
_NAME = "#shard_mark"
_VALUE = ":shard_mark"
_BOUND = ":shard_bound"
_CLAUSE = re.compile(r"\b(SET|ADD|REMOVE|DELETE)\b")


def _epoch_day(moment: datetime) -> int:
    return int(moment.timestamp()) // 86_400


@dataclass(frozen=True)
class ShardMark:
    """The mark one batch of one shard writes: `last` its last record, `day` when it was written."""

    shard: str
    last: int
    day: int

    @classmethod
    def of(cls, shard: str, last: int, moment: datetime) -> ShardMark:
        return cls(shard, last, _epoch_day(moment))

    @property
    def attribute(self) -> str:
        return MARK_PREFIX + shard_digest(self.shard)[:12]

    def value(self) -> str:
        return f"{self.last:0{_DIGITS}d}/{self.day}"


def mark_sequence(value: object) -> int | None:
    """The sequence number a stored mark holds (None for none)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    digits = value.split("/", 1)[0]
    return int(digits) if digits.isdigit() else None


def stale_marks(item: dict[str, Any], moment: datetime) -> list[str]:
    """The marks of `item` (plain values) old enough at `moment` that no retry can need them."""
    oldest = _epoch_day(moment) - STALE_AFTER_DAYS
    stale = []
    for name, value in item.items():
        if name.startswith(MARK_PREFIX) and isinstance(value, str):
            day = value.rpartition("/")[2]
            if day.isdigit() and int(day) < oldest:
                stale.append(name)
    return stale


def marked(update: dict[str, Any], mark: ShardMark, since: int | None) -> dict[str, Any]:
    """UpdateItem parameters from `update` (an `Update` entry of TransactWriteItems' shape, or bare) that
    also set `mark`, on the condition that the item holds nothing of the shard after `since`."""
    request = dict(update.get("Update", update))
    expression = request["UpdateExpression"]
    parts = _CLAUSE.split(expression)
    if "SET" in parts:
        at = parts.index("SET") + 1
        parts[at] = parts[at].rstrip() + f", {_NAME} = {_VALUE} "
        expression = "".join(parts).strip()
    else:
        expression = f"{expression} SET {_NAME} = {_VALUE}"
    request["UpdateExpression"] = expression
    guard = f"(attribute_not_exists({_NAME}) OR {_NAME} < {_BOUND})"
    condition = request.get("ConditionExpression")
    request["ConditionExpression"] = f"{guard} AND ({condition})" if condition else guard
    request["ExpressionAttributeNames"] = {**request.get("ExpressionAttributeNames", {}), _NAME: mark.attribute}
    # "/~" sorts after every "/<day>": a mark of exactly `since` passes, whatever day it was written on.
    bound = f"{since or 0:0{_DIGITS}d}/~"
    request["ExpressionAttributeValues"] = {
        **request.get("ExpressionAttributeValues", {}),
        _VALUE: {"S": mark.value()},
        _BOUND: {"S": bound},
    }
    # A refusal then carries the item: its mark says whether this batch, or the item's condition, refused.
    request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    # A write returns the item as written (no capacity is charged for it): its stale marks can be dropped.
    request["ReturnValues"] = "ALL_NEW"
    return request


def unmarked_stale(key: dict[str, Any], table: str, item: dict[str, Any], moment: datetime) -> dict[str, Any] | None:
    """UpdateItem parameters removing the stale marks of `item` (DynamoDB's typed form, as a write returned
    it), each only if it is still what was read (its shard may be writing it again); None if it has none.
    So an item that many shards write over the years keeps only the marks of the last STALE_AFTER_DAYS."""
    stale = stale_marks({name: value.get("S") for name, value in item.items()}, moment)
    if not stale:
        return None
    names = {f"#stale{n}": name for n, name in enumerate(stale)}
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": "REMOVE " + ", ".join(names),
        "ConditionExpression": " AND ".join(f"{alias} = :{alias[1:]}" for alias in names),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {f":{alias[1:]}": item[name] for alias, name in names.items()},
    }


def mark_of(item: dict[str, Any], mark: ShardMark) -> int | None:
    """The shard's mark on `item` (DynamoDB's typed form, as a refused write returns it), if any."""
    return mark_sequence(item.get(mark.attribute, {}).get("S"))
