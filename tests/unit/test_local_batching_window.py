"""The local event source mapping's batching window (MaximumBatchingWindowInSeconds): records gather until a
batch is full or the window has passed since the first one, and `make dev` gathers as a deployed stage does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from errata_local.aws import EmbeddedAws
from errata_local.poller import EventSourceSettings, ShardPoller, StreamPoller
from errata_local.stack import DEV_EVENT_SOURCE


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    embedded = EmbeddedAws()
    embedded.start()
    try:
        embedded.client("kinesis").create_stream(StreamName="events", ShardCount=1)
        embedded.client("sqs").create_queue(QueueName="on-failure")
        yield embedded
    finally:
        embedded.stop()


class Recorded:
    """The processor's place: what each invocation got, by partition key."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.batches.append([record["kinesis"]["partitionKey"] for record in event["Records"]])
        return {"batchItemFailures": []}


def _new_stream(aws: EmbeddedAws) -> str:
    kinesis = aws.client("kinesis")
    stream = f"events-{len(kinesis.list_streams()['StreamNames'])}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    return stream


def _poller(aws: EmbeddedAws, settings: EventSourceSettings, clock: Clock) -> tuple[ShardPoller, Recorded, str]:
    stream, recorded = _new_stream(aws), Recorded()
    kinesis = aws.client("kinesis")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    queue = aws.client("sqs").get_queue_url(QueueName="on-failure")["QueueUrl"]
    poller = ShardPoller(kinesis, aws.client("sqs"), stream, shard, recorded, queue, settings, clock=clock)
    poller.open()
    return poller, recorded, stream


def _put(aws: EmbeddedAws, stream: str, *keys: str) -> None:
    records = [{"Data": b"x", "PartitionKey": key} for key in keys]
    aws.client("kinesis").put_records(StreamName=stream, Records=records)


def test_records_gather_until_the_window_has_passed_since_the_first(aws: EmbeddedAws) -> None:
    clock = Clock()
    poller, recorded, stream = _poller(aws, EventSourceSettings(batch_size=10, batching_window_seconds=1.0), clock)
    assert poller.poll_once() is False and poller.window_left() is None  # nothing on the shard: no window
    _put(aws, stream, "a", "b")
    assert poller.poll_once() is False
    assert poller.window_left() == 1.0
    clock.now += 0.6
    _put(aws, stream, "c")
    assert poller.poll_once() is False  # the window runs from the first record, not the latest
    assert poller.window_left() == pytest.approx(0.4)
    clock.now += 0.4
    assert poller.poll_once() is True
    assert recorded.batches == [["a", "b", "c"]]
    assert poller.window_left() is None
    assert poller.poll_once() is False and recorded.batches == [["a", "b", "c"]]  # delivered once


def test_a_full_batch_goes_at_once_and_the_rest_waits_for_its_own_window(aws: EmbeddedAws) -> None:
    clock = Clock()
    poller, recorded, stream = _poller(aws, EventSourceSettings(batch_size=3, batching_window_seconds=5.0), clock)
    _put(aws, stream, "a", "b", "c", "d")
    assert poller.poll_once() is True
    assert recorded.batches == [["a", "b", "c"]]  # at most a batch is read: "d" stays on the shard
    assert poller.poll_once() is False
    assert recorded.batches == [["a", "b", "c"]]
    clock.now += 5.0
    assert poller.poll_once() is True
    assert recorded.batches == [["a", "b", "c"], ["d"]]


def test_without_a_window_records_are_delivered_as_they_come(aws: EmbeddedAws) -> None:
    poller, recorded, stream = _poller(aws, EventSourceSettings(batch_size=10), Clock())
    _put(aws, stream, "a")
    assert poller.poll_once() is True
    assert recorded.batches == [["a"]]


def test_the_stream_poller_delivers_what_arrived_within_a_window_as_one_batch(aws: EmbeddedAws) -> None:
    stream, recorded = _new_stream(aws), Recorded()
    queue = aws.client("sqs").get_queue_url(QueueName="on-failure")["QueueUrl"]
    # A window long enough that five puts fit in it on a loaded machine.
    settings = EventSourceSettings(batch_size=100, batching_window_seconds=3.0)
    poller = StreamPoller(aws.client("kinesis"), aws.client("sqs"), stream, recorded, queue, settings)
    poller.start()
    try:
        for key in "abcde":  # over ~0.5 s, each put waking the poller as ingest does
            _put(aws, stream, key)
            poller.wake()
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while not recorded.batches and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert recorded.batches == [list("abcde")]


def test_a_disabled_mapping_leaves_the_records_on_the_stream(aws: EmbeddedAws) -> None:
    stream, recorded = _new_stream(aws), Recorded()
    queue = aws.client("sqs").get_queue_url(QueueName="on-failure")["QueueUrl"]
    settings = EventSourceSettings(enabled=False)
    poller = StreamPoller(aws.client("kinesis"), aws.client("sqs"), stream, recorded, queue, settings)
    poller.start()
    _put(aws, stream, "a")
    poller.wake()
    time.sleep(0.5)
    poller.stop()
    assert recorded.batches == []
    enabled = StreamPoller(aws.client("kinesis"), aws.client("sqs"), stream, recorded, queue, EventSourceSettings())
    enabled.start()  # the same record, once enabled
    try:
        deadline = time.monotonic() + 10
        while not recorded.batches and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        enabled.stop()
    assert recorded.batches == [["a"]]


def test_make_dev_gathers_like_a_deployed_stage() -> None:
    """Within a deployed stage's range (infra.config: 1 to 3 s, batches of 100 to 500), and short enough that
    a new issue still shows within the 5 s the issue pages promise."""
    from infra.config import stage_config

    windows = [stage_config(stage).processor.batching_window_seconds for stage in ("dev", "staging", "prod")]
    windows.append(stage_config("dev", profile="small").processor.batching_window_seconds)
    sizes = [stage_config(stage).processor.batch_size for stage in ("dev", "prod")]
    assert min(windows) <= DEV_EVENT_SOURCE.batching_window_seconds <= max(windows)
    assert min(sizes) <= DEV_EVENT_SOURCE.batch_size <= max(sizes)
    assert DEV_EVENT_SOURCE.batching_window_seconds + DEV_EVENT_SOURCE.gathering_poll_seconds < 5
