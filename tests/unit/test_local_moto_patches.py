"""The local stack's patches of moto (errata_local.moto_patches), each run beside moto as released.

- Kinesis: moto's shard put reads the highest sequence number and stores under that plus one, so concurrent
  puts collide. The gap between the read and the store is widened here so the race shows every run.
- DynamoDB: the transaction that snapshots only the items it touches, and the data-plane answers dumped as
  plain JSON, answer exactly what moto's own code answers (tables after success, after a cancelled
  transaction, after a validation error; every attribute type through boto3's parser).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult
from moto.kinesis.models import Shard

from errata_local import moto_patches
from errata_local.aws import EmbeddedAws
from errata_local.moto_patches import serialize_kinesis_shards


def _slow_shard_class() -> type:
    class SlowShard(Shard):  # type: ignore[misc]
        def get_max_sequence_number(self) -> int:
            number: int = super().get_max_sequence_number()
            time.sleep(0.001)  # another thread's put runs here
            return number

    return SlowShard


def _put_concurrently(shard: Any) -> int:
    start = threading.Barrier(8)

    def put(sender: int) -> None:
        start.wait()
        for n in range(25):
            shard.put_record(f"{sender}-{n}", "eA==", None)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(8)))
    return len(shard.records)


def test_moto_loses_concurrent_puts_to_a_shard_unpatched() -> None:
    shard = _slow_shard_class()(0, 0, 2**128)
    assert _put_concurrently(shard) < 200, "the race this patch exists for"


def test_serialized_shards_keep_every_concurrent_put() -> None:
    shard_class = _slow_shard_class()
    serialize_kinesis_shards(shard_class)
    shard = shard_class(0, 0, 2**128)
    assert _put_concurrently(shard) == 200
    assert sorted(shard.records) == list(range(1, 201))


Scenario = Callable[[Any], Any]


def _both_ways(scenario: Scenario, patch: Callable[[pytest.MonkeyPatch], None]) -> tuple[Any, Any]:
    """The scenario's outcome under moto as released, then under the patch."""
    outcomes = []
    for patched in (False, True):
        with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
            if patched:
                patch(monkeypatch)
            outcomes.append(scenario(boto3.client("dynamodb", region_name="us-east-1")))
    return outcomes[0], outcomes[1]


def _patch_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", moto_patches.transact_write_items)


def _patch_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoResult, "execute_result", DynamoResult.execute_result)  # restored afterwards
    moto_patches.dump_plain_json_results()


def _tables(client: Any) -> None:
    client.create_table(
        TableName="ranged",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="plain",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    client.put_item(TableName="ranged", Item={"pk": {"S": "c"}, "sk": {"S": "1"}, "n": {"N": "7"}})
    client.put_item(TableName="ranged", Item={"pk": {"S": "e"}, "sk": {"S": "1"}})
    client.put_item(TableName="plain", Item={"pk": {"S": "p"}, "tags": {"SS": ["x"]}})


def _scan_all(client: Any) -> dict[str, list[Any]]:
    return {
        name: sorted(client.scan(TableName=name)["Items"], key=lambda item: str(sorted(item.items())))
        for name in ("ranged", "plain")
    }


def _update(table: str, key: dict[str, Any], expression: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            **extra,
        }
    }


def _cancelled_transaction(client: Any) -> Any:
    _tables(client)
    items = [
        _update("ranged", {"pk": {"S": "a"}, "sk": {"S": "1"}}, "SET n = n + :one", {":one": {"N": "1"}}),
        {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
        {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
        {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "e"}, "sk": {"S": "1"}}}},
        _update("plain", {"pk": {"S": "p"}}, "ADD tags :t", {":t": {"SS": ["y"]}}),
        _update("plain", {"pk": {"S": "new"}}, "SET v = :v", {":v": {"S": "z"}}),
        _update(
            "ranged",
            {"pk": {"S": "c"}, "sk": {"S": "1"}},
            "SET n = :n",
            {":n": {"N": "0"}, ":max": {"N": "5"}},
            ConditionExpression="n < :max",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
    ]
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=items)
    return cancelled.value.response.get("CancellationReasons"), _scan_all(client)


def _duplicate_key_transaction(client: Any) -> Any:
    _tables(client)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    one = {":one": {"N": "1"}}
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[_update("ranged", key, "SET n = n + :one", one), _update("ranged", key, "SET m = :one", one)]
        )
    return refused.value.response["Error"]["Code"], _scan_all(client)


def _committed_transaction(client: Any) -> Any:
    _tables(client)
    client.transact_write_items(
        TransactItems=[
            _update("ranged", {"pk": {"S": "a"}, "sk": {"S": "1"}}, "SET n = n + :one", {":one": {"N": "1"}}),
            {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "b"}, "sk": {"S": "9"}}}},
            {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
            _update("plain", {"pk": {"S": "p"}}, "ADD tags :t", {":t": {"SS": ["y"]}}),
        ]
    )
    return _scan_all(client)


@pytest.mark.parametrize("scenario", [_cancelled_transaction, _duplicate_key_transaction, _committed_transaction])
def test_transactions_without_table_copies_leave_what_moto_leaves(scenario: Scenario) -> None:
    released, patched = _both_ways(scenario, _patch_transactions)
    assert patched == released


def test_a_cancelled_transaction_leaves_every_table_as_it_was() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _tables(client)
        before = _scan_all(client)
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        _patch_transactions(monkeypatch)
        reasons, after = _cancelled_transaction(boto3.client("dynamodb", region_name="us-east-1"))
    assert after == before
    assert reasons[-1]["Code"] == "ConditionalCheckFailed"
    assert reasons[-1]["Item"]["n"] == {"N": "7"}


def _every_attribute_type(client: Any) -> Any:
    _tables(client)
    item = {
        "pk": {"S": "all"},
        "sk": {"S": 'é ☃ "quoted"\n'},
        "n": {"N": "-12.5e3"},
        "b": {"B": b"\x00\xffbinary"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"deep": {"L": [{"S": "v"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]}}},
    }
    key = {"pk": item["pk"], "sk": item["sk"]}
    client.put_item(TableName="ranged", Item=item)
    answers = [
        client.get_item(TableName="ranged", Key=key)["Item"],
        client.get_item(TableName="ranged", Key=key, ProjectionExpression="b, m.deep")["Item"],
        client.query(
            TableName="ranged",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": item["pk"]},
            Limit=1,
            ReturnConsumedCapacity="TOTAL",
        ),
        client.batch_get_item(RequestItems={"ranged": {"Keys": [key, {"pk": {"S": "a"}, "sk": {"S": "1"}}]}})[
            "Responses"
        ],
        client.update_item(
            TableName="ranged",
            Key=key,
            UpdateExpression="ADD ss :s SET n = n + :one",
            ExpressionAttributeValues={":s": {"SS": ["z"]}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"],
        client.delete_item(TableName="ranged", Key=key, ReturnValues="ALL_OLD")["Attributes"],
        client.describe_table(TableName="ranged")["Table"]["KeySchema"],  # not data plane: moto's serializer
    ]
    for answer in answers:
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
    for values in (answers[0]["ss"], answers[4]["ss"]):
        values["SS"].sort()
    return answers


def test_plain_json_answers_parse_to_what_moto_serializes() -> None:
    released, patched = _both_ways(_every_attribute_type, _patch_results)
    assert patched == released
    assert patched[0]["b"] == {"B": b"\x00\xffbinary"}


def test_the_served_moto_keeps_connections_and_s3_keys_as_sent() -> None:
    """The local stack's moto server (waitress): one connection serves many calls, and S3 keys with
    characters a decoded path would change (a presigned upload of a release's map) come back intact."""
    aws = EmbeddedAws()
    aws.start()
    try:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="maps")
        keys = ["projects/1/web@1.0.0/dist/app.min.js.map", "a+b c%2Fd~e.js", "ünï/cödé.map"]
        for key in keys:
            url = s3.generate_presigned_url("put_object", Params={"Bucket": "maps", "Key": key}, HttpMethod="PUT")
            assert requests.put(url, data=key.encode(), timeout=10).status_code == 200
        listed = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="maps")["Contents"])
        assert listed == sorted(keys)
        assert all(s3.get_object(Bucket="maps", Key=key)["Body"].read() == key.encode() for key in keys)
        connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
        for _ in range(3):  # werkzeug's server answered "Connection: close" and hung up after each
            connection.request("GET", "/moto-api/")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
        connection.close()
    finally:
        aws.stop()


def _index_pages(client: Any) -> list[Any]:
    """Every page of an index Query, both directions, over number and string keys with ties and signs."""
    client.create_table(
        TableName="issues",
        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "i", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "i", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
            {"AttributeName": "s", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": key, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, key in (("by_n", "n"), ("by_s", "s"))
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    numbers = ["-3.5", "0", "2", "10", "10", "10.0", "2e3", "333.333333", "-0.001", "99999999999999"]
    for n in range(60):
        item = {"p": {"S": "a" if n % 5 else "b"}, "i": {"S": f"{n * 7919 % 61:03d}"}}
        item["n"] = {"N": numbers[n % len(numbers)]}
        if n % 7:
            item["s"] = {"S": f"v{n % 4}"}  # an item without it stays out of by_s
        client.put_item(TableName="issues", Item=item)
    pages = []
    for index in ("by_n", "by_s"):
        for forward in (True, False):
            start: dict[str, Any] | None = None
            while True:
                request: dict[str, Any] = {
                    "TableName": "issues",
                    "IndexName": index,
                    "KeyConditionExpression": "p = :p",
                    "ExpressionAttributeValues": {":p": {"S": "a"}},
                    "ScanIndexForward": forward,
                    "Limit": 7,
                }
                if start:
                    request["ExclusiveStartKey"] = start
                response = client.query(**request)
                pages.append([(item["i"]["S"], item.get("n"), item.get("s")) for item in response["Items"]])
                start = response.get("LastEvaluatedKey")
                if not start:
                    break
    scanned = client.scan(TableName="issues", Limit=25)  # a Scan reads the table in all_items' order
    pages.append([item["i"]["S"] for item in scanned["Items"]] + [scanned["LastEvaluatedKey"]])
    return pages


def test_index_queries_sort_as_released_moto_does() -> None:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(Table, "sorted_items", moto_patches.sorted_items)
        monkeypatch.setattr(Table, "all_items", moto_patches.all_items)

    released, patched = _both_ways(_index_pages, patch)
    assert patched == released
    assert sum(len(page) for page in released[:-1]) == 48 * 2 + 41 * 2  # every item of "a", each way, once
