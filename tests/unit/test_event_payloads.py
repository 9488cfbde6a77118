"""A batch's payloads go to S3 in parallel (EventPayloadStore.put_many): every one is tried, and a failed PUT
raises (the processor then retries the record) instead of being lost in a worker thread."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError
from moto import mock_aws

from errata.store.event_payloads import EventPayloadStore


@mock_aws
def test_every_payload_is_tried_and_a_failed_put_raises() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="payloads")

    def time_out_one(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == "k7":  # S3 did not answer this one PUT
            raise ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com")

    s3.meta.events.register("before-parameter-build.s3.PutObject", time_out_one)
    store = EventPayloadStore(s3, "payloads")
    with pytest.raises(ConnectTimeoutError):
        store.put_many({f"k{n}": {"n": n} for n in range(20)})
    stored = {item["Key"] for item in s3.list_objects_v2(Bucket="payloads")["Contents"]}
    assert stored == {f"k{n}" for n in range(20)} - {"k7"}
    assert store.get("k3") == {"n": 3}
