"""A batch's kept payloads go to S3 as one object (EventPayloadStore.put_members): each is read back alone by
its reference with a ranged GET, the object is a gzip'd JSON Lines file any tool reads, a payload kept under
two names is stored once, and objects written before batch objects are still read."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import boto3
from moto import mock_aws

from errata.store.event_payloads import EventPayloadStore, batch_key, payload_members, representative_key


@mock_aws
def test_one_object_per_batch_and_each_payload_read_alone() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="payloads")
    store = EventPayloadStore(s3, "payloads")
    shared = {"event_id": "shared", "message": "kept as representative and as a sample"}
    payloads = {f"1/issue-{n}/0": {"event_id": f"e{n}", "n": n, "pad": "x" * (n * 300)} for n in range(20)}
    payloads["1/issue-0"] = shared
    payloads["1/issue-0/1"] = shared
    key = batch_key("arn:aws:kinesis:us-east-1:1:stream/s/shardId-0", 4711, datetime(2026, 12, 3, tzinfo=UTC))

    references = store.put_members(key, payload_members(payloads))

    assert [o["Key"] for o in s3.list_objects_v2(Bucket="payloads")["Contents"]] == [key]
    assert key.startswith("batches/2026-12-03/") and "/4711-" in key
    for name, payload in payloads.items():
        assert store.get(references[name]) == payload
    assert references["1/issue-0"] == references["1/issue-0/1"]
    body = s3.get_object(Bucket="payloads", Key=key)["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert len(lines) == 21  # 20 payloads and the shared one, once
    assert json.loads(lines[3]) == payloads["1/issue-3/0"]


@mock_aws
def test_an_object_from_before_batches_and_an_expired_one() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="payloads")
    store = EventPayloadStore(s3, "payloads")
    s3.put_object(Bucket="payloads", Key=representative_key("1", "abc"), Body=b'{"event_id": "old"}')
    assert store.get(representative_key("1", "abc")) == {"event_id": "old"}
    assert store.get("batches/2026-01-01/0/1-0.jsonl.gz#0,20") is None
    assert store.put_members("batches/empty", {}) == {}  # nothing kept, nothing written
    assert "Contents" not in s3.list_objects_v2(Bucket="payloads", Prefix="batches/")
