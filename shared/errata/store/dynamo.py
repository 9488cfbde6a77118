"""Conversions between Python values and DynamoDB's typed attribute values (boto3's own serializers)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return bytes(value.value)
    return value


def unchanged_since(revision: int | None, values: dict[str, Any], *, absent: str, attribute: str = "revision") -> str:
    """The ConditionExpression of an optimistic replace: the item still has the `revision` it was read with,
    or, read as missing (None), still has no `absent` attribute. Puts the value it uses into `values`."""
    if revision is None:
        return f"attribute_not_exists({absent})"
    values[":revision"] = revision
    return f"{attribute} = :revision"


def batch_get(
    dynamodb: Any,
    table: str,
    keys: list[dict[str, Any]],
    *,
    projection: str | None = None,
    names: dict[str, str] | None = None,
    consistent: bool = False,
) -> list[dict[str, Any]]:
    """BatchGetItem over any number of keys: 100 per request, unprocessed keys retried. Plain values out."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {
            "Keys": [to_item(key) for key in keys[start : start + 100]],
            "ConsistentRead": consistent,
        }
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        while pending:
            response = dynamodb.batch_get_item(RequestItems=pending)
            found.extend(from_item(item) for item in response["Responses"].get(table, []))
            pending = response.get("UnprocessedKeys") or {}
    return found


def batch_get_in_order(dynamodb: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of `keys` (index entries of a page), whole and in the keys' order; missing ones left out."""
    if not keys:
        return []
    names = tuple(keys[0])  # the table's key attributes, as every key names them
    found = {tuple(item[name] for name in names): item for item in batch_get(dynamodb, table, keys)}
    ordered = (tuple(key[name] for name in names) for key in keys)
    return [found[key] for key in ordered if key in found]


def query_all(dynamodb: Any, **request: Any) -> list[dict[str, Any]]:
    """Every page of a Query, as plain values."""
    items: list[dict[str, Any]] = []
    while True:
        response = dynamodb.query(**request)
        items.extend(from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class InvalidCursor(ValueError):
    """A pagination cursor that this listing did not hand out."""


_MAX_PAGES = 10  # a filtered listing reads at most this many pages per request


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, owner: tuple[str, str], attributes: set[str]) -> dict[str, Any]:
    """The ExclusiveStartKey in `cursor`, checked to belong to this listing: the partition (`owner`) it was
    made for, and only the key attributes of the table and index."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise InvalidCursor("the cursor is not one this listing gave out") from None
    valid = (
        isinstance(key, dict)
        and set(key) <= attributes
        and all(isinstance(value, dict) and len(value) == 1 and set(value) <= {"S", "N"} for value in key.values())
        and key.get(owner[0]) == {"S": owner[1]}
    )
    if not valid:
        raise InvalidCursor("the cursor is not one this listing gave out")
    checked: dict[str, Any] = key
    return checked


def query_page(
    dynamodb: Any,
    *,
    limit: int,
    start: dict[str, Any] | None,
    key_attributes: tuple[str, ...] = (),
    **request: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to `limit` items from `start`, and the key to continue from (None at the end).

    With a FilterExpression, each page reads several times `limit` items (fewer round trips for a filter
    that matches a fraction), and the next key is built from the last item returned (its `key_attributes`:
    the table's and the index's keys), so the items read past it are read again by the next page, not
    skipped. At most _MAX_PAGES pages a request."""
    filtered = "FilterExpression" in request
    items: list[dict[str, Any]] = []
    last = start
    for _ in range(_MAX_PAGES):
        wanted = limit - len(items)
        page = dict(request, Limit=min(1000, wanted * 4) if filtered else wanted)
        if last:
            page["ExclusiveStartKey"] = last
        response = dynamodb.query(**page)
        raw = response.get("Items", [])
        found = [from_item(item) for item in raw]
        last = response.get("LastEvaluatedKey")
        if filtered and len(found) > wanted:
            items.extend(found[:wanted])
            # From the item as DynamoDB sent it: a plain float key would not go back (nor compare exactly).
            return items, {name: raw[wanted - 1][name] for name in key_attributes}
        items.extend(found)
        if not last or len(items) >= limit:
            break
    return items, last
