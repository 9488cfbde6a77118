"""The shard mark a batch's item writes carry (errata.store.shard_marks): how it joins an update, and which
marks a reader may drop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from errata.store.shard_marks import STALE_AFTER_DAYS, ShardMark, mark_sequence, marked, stale_marks

_NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
_MARK = ShardMark.of("arn:aws:kinesis:us-east-1:1:stream/events/shardId-000000000001", 4_960, _NOW)


def test_the_mark_joins_the_set_clause_and_the_condition_of_any_update() -> None:
    update = {
        "Update": {
            "TableName": "counters",
            "Key": {"pk": {"S": "p"}, "sk": {"S": "h#1"}},
            "UpdateExpression": "ADD events :events, #users :users SET expires_at = :expires_at",
            "ConditionExpression": "attribute_not_exists(#users) OR size(#users) <= :room",
            "ExpressionAttributeNames": {"#users": "users"},
            "ExpressionAttributeValues": {":events": {"N": "1"}},
        }
    }
    request = marked(update, _MARK, 4_000)
    assert request["UpdateExpression"] == (
        "ADD events :events, #users :users SET expires_at = :expires_at, #shard_mark = :shard_mark"
    )
    assert request["ConditionExpression"] == (
        "(attribute_not_exists(#shard_mark) OR #shard_mark < :shard_bound) "
        "AND (attribute_not_exists(#users) OR size(#users) <= :room)"
    )
    assert request["ExpressionAttributeNames"] == {"#users": "users", "#shard_mark": _MARK.attribute}
    assert "Update" in update and "#shard_mark" not in update["Update"]["UpdateExpression"]  # not changed
    bare = marked({"UpdateExpression": "ADD events :events", "TableName": "t", "Key": {}}, _MARK, None)
    assert bare["UpdateExpression"] == "ADD events :events SET #shard_mark = :shard_mark"


def test_a_mark_passes_the_bound_of_a_batch_only_when_it_is_at_or_below_that_batch_start() -> None:
    bound = marked({"UpdateExpression": "ADD n :n", "TableName": "t", "Key": {}}, _MARK, 4_000)[
        "ExpressionAttributeValues"
    ][":shard_bound"]["S"]
    for written, passes in ((3_999, True), (4_000, True), (4_001, False), (4_960, False), (10**40, False)):
        stored = ShardMark.of(_MARK.shard, written, _NOW - timedelta(days=3)).value()
        assert (stored < bound) is passes, written  # DynamoDB compares strings as this does, byte by byte
        assert mark_sequence(stored) == written


def test_marks_older_than_any_retry_are_stale() -> None:
    old = ShardMark.of("shard-a", 10, _NOW - timedelta(days=STALE_AFTER_DAYS + 1))
    recent = ShardMark.of("shard-b", 10, _NOW - timedelta(days=STALE_AFTER_DAYS - 1))
    item = {old.attribute: old.value(), recent.attribute: recent.value(), "w_note": "not a mark", "count": 3}
    assert stale_marks(item, _NOW) == [old.attribute]
    assert mark_sequence("garbage") is None and mark_sequence(None) is None
