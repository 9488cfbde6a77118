"""Narrow patches of moto 5.2 for a long-running, multi-threaded moto server (the local stack's embedded AWS).

Each patch fixes a cause the local stack measured, keeps moto's answers byte-for-byte what a client parses
(tests/unit/test_local_moto_patches.py runs patched and unpatched moto side by side), and is applied only by
`errata_local.moto_server`; the unit tests' in-process `mock_aws` runs moto as released.

- Kinesis shards are not thread-safe: a put reads the shard's highest sequence number and stores the record
  under that number plus one, so two concurrent puts could take the same number and the second overwrote the
  first (acknowledged events lost). Each shard's puts and reads are serialized, as Kinesis orders them.
- A shard found its last sequence number by listing every key, and each GetRecords walked every record from
  the first: both grew with every event a long-running stack had taken. Both are direct now, and the last
  sequence number is kept on the shard, so records trimmed or restored (errata_local.moto_state) never make
  it hand out a number twice.
- `TransactWriteItems` deep-copied the whole table once per item of the transaction, to roll back on a
  failed condition, so the local stack slowed down as its tables grew (bench/pipeline.py: 6 events/s end to
  end over 1,000 events). Only the items the transaction touches are copied and restored now. DynamoDB
  writes take turns (one re-entrant lock for every table), so a rollback cannot undo another request's
  write, which the table swap could; reads take the same turns, so none sees an item half updated.
- Responses of DynamoDB's data-plane actions (items, keys, counts) went through moto's shape-driven
  serializer, a third of the server's CPU under load; their result is plain JSON already and is dumped.
- Finding the backend of each request listed moto's package directory on disk; the list is read once.
- A Query on an index sorts every item of the table by its keys, then every item under the partition key
  by the index's keys, comparing `DynamoType`s whose value is cast again (a number parsed into a `Decimal`)
  at each comparison: 10,000 issues of one project made the dashboard's list Query take ~190 ms. Each
  item's key values are cast once (decorate, then sort): the same order by the same comparisons.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from moto import backends
from moto.core.responses import ActionContext
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult
from moto.kinesis.models import Record, Shard

_SHARD_METHODS = ("put_record", "get_records", "get_min_sequence_number", "get_max_sequence_number")
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
# Reads take the same turns: moto applies an update's actions to the stored item one by one, so a read
# between them saw an item half written (an issue without its type), which DynamoDB never shows.
_DYNAMODB_READS = ("get_item", "query", "scan")
# Actions whose result holds only items, keys, counts and consumed capacity: no timestamps or other shapes
# that the serializer would reformat.
_PLAIN_JSON_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "BatchWriteItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def serialized(method: Callable[..., Any], lock: AbstractContextManager[Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


# Module-level so that errata_local.moto_state can hold them while it takes a consistent snapshot.
KINESIS_SHARDS_LOCK = threading.RLock()  # re-entrant: put_record calls get_max_sequence_number
DYNAMODB_WRITES_LOCK = threading.RLock()  # re-entrant: a transaction calls put_item, update_item...


def serialize_kinesis_shards(shard_class: type = Shard) -> None:
    """One lock for the shards' records."""
    for name in _SHARD_METHODS:
        setattr(shard_class, name, serialized(getattr(shard_class, name), KINESIS_SHARDS_LOCK))


def serialize_dynamodb_writes(backend_class: type = DynamoDBBackend) -> None:
    for name in (*_DYNAMODB_WRITES, *_DYNAMODB_READS):
        setattr(backend_class, name, serialized(getattr(backend_class, name), DYNAMODB_WRITES_LOCK))


def last_sequence_number(shard: Shard) -> int:
    """The shard's last sequence number handed out. moto derives it from the records it holds, so a shard
    whose records were trimmed (retention) or not restored would hand out numbers again, and the processor,
    which skips what is at or below its position, would skip new events: it is kept on the shard."""
    kept: int = shard.__dict__.get("last_sequence_number", 0)
    return max(kept, next(reversed(shard.records), 0))


def keep_last_sequence_number(shard: Shard, number: int) -> None:
    shard.__dict__["last_sequence_number"] = number


def put_record(self: Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    """moto's `Shard.put_record` without listing every key to find the last (O(n) per put)."""
    sequence_number = last_sequence_number(self) + 1
    self.records[sequence_number] = Record(partition_key, data, sequence_number, explicit_hash_key)
    keep_last_sequence_number(self, sequence_number)
    return str(sequence_number)


def get_max_sequence_number(self: Shard) -> int:
    return next(reversed(self.records), 0)


def get_records(self: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Record], int, int]:
    """moto's `Shard.get_records`, which walked every record from the first on each call (a long-running
    stack's polls grew with every event it had taken). Sequence numbers are consecutive (put_record takes
    the next), so the records after the iterator's are looked up by number."""
    last = int(last_sequence_id)
    results: list[Record] = []
    if self.records:
        newest = next(reversed(self.records))
        number = max(last + 1, next(iter(self.records)))
        while number <= newest and len(results) != limit:
            record = self.records.get(number)
            if record is not None:
                results.append(record)
                last = number
            number += 1
    behind = self.records[next(reversed(self.records))].created_at - results[-1].created_at if results else 0.0
    return results, last, int(behind * 1000)


_Snapshot = list[tuple[Table, Any, Any, Item | None]]


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]  # type: ignore[no-any-return]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Snapshot:
    saved: _Snapshot = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName", ""))
        if table is None or op_type not in {"Put", "Delete", "Update"}:
            continue
        try:
            hash_value, range_value = backend.get_keys_value(table, _key_of(table, op_type, op))
        except (KeyError, MockValidationException):
            continue  # the operation itself fails below, before it writes
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return saved


def _restore(saved: _Snapshot) -> None:
    for table, hash_value, range_value, item in reversed(saved):
        if table.has_range_key:
            items = table.items[hash_value]
            if item is None:
                items.pop(range_value, None)
            else:
                items[range_value] = item
            if not items:
                table.items.pop(hash_value, None)
        elif item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item  # type: ignore[assignment]  # moto types the ranged layout only


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's `DynamoDBBackend.transact_write_items`, with an item snapshot instead of table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    saved = _snapshot(self, transact_items)
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
    for entry in transact_items:
        original_item: dict[str, Any] | None = None
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            key = _key_of(self.get_table(table_name), op_type, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in target_items:
                raise MultipleTransactionsException()
            target_items.add(unique)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = get_filter_expression(condition_expression, names, values)
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            common = {
                "condition_expression": condition_expression,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **common)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **common)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **common)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            _restore(saved)
            raise
        except ConditionalCheckFailed as failed:
            errors.append(("ConditionalCheckFailed", str(failed.message), original_item))
        except Exception as error:  # moto reports every other failure per item, as AWS does
            errors.append((type(error).__name__, str(error), original_item))
    if any(code is not None for code, _, _ in errors):
        _restore(saved)
        raise TransactionCanceledException(errors)


def _plain_json(value: Any) -> Any:
    """moto's results hold B and BS values as raw bytes (dynamo_to_dict); the wire carries base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dump_plain_json_results() -> None:
    shape_serialized = DynamoResult.execute_result

    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        if context.operation_model.name not in _PLAIN_JSON_ACTIONS:
            return shape_serialized(self, context)
        body = json.dumps(self.result, default=_plain_json, separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign, assignment]


def read_module_list_once() -> None:
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def _sort_value(value: DynamoType) -> Any:
    """`value.cast_value`, without its chain of type tests for the key types (S, N, B)."""
    if value.type == "N":
        return Decimal(value.value)
    if value.type in ("S", "B"):
        return value.value
    return value.cast_value


def sorted_items(
    self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
) -> list[Any]:
    """Table.sorted_items, with each item's key values cast once instead of at every comparison."""
    attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda item: tuple(_sort_value(item.attrs[name]) for name in attributes))
    return items


def all_items(self: Table) -> list[Item]:
    """Table.all_items, each item's keys cast once for the sort."""
    items: list[Item] = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)  # type: ignore[arg-type]
    return sorted(
        items,
        key=lambda x: (_sort_value(x.hash_key), _sort_value(x.range_key)) if x.range_key else _sort_value(x.hash_key),
    )


def apply_all() -> None:
    Shard.put_record = put_record  # type: ignore[method-assign]
    Shard.get_max_sequence_number = get_max_sequence_number  # type: ignore[method-assign]
    Shard.get_records = get_records  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    serialize_kinesis_shards()
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    serialize_dynamodb_writes()
    dump_plain_json_results()
    read_module_list_once()
