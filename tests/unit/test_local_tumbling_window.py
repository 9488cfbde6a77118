"""The local event source mapping's tumbling windows (TumblingWindowInSeconds), as Lambda runs them: state
handed from invocation to invocation of a window, a final invocation once it has passed, a retry from the
state before the failed invocation, early termination past 1 MB of state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from errata_local.aws import EmbeddedAws
from errata_local.poller import EventSourceSettings, ShardPoller
from tests.unit.test_local_batching_window import Clock, _new_stream, _put


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    embedded = EmbeddedAws()
    embedded.start()
    try:
        embedded.client("sqs").create_queue(QueueName="on-failure")
        yield embedded
    finally:
        embedded.stop()


class Summing:
    """A function that sums its window: the keys seen so far, in its state; the final invocation's state."""

    def __init__(self, fail_first: int = 0, state_padding: int = 0, finals_failing: int = 0) -> None:
        self.invocations: list[dict[str, Any]] = []
        self.finals: list[dict[str, Any]] = []
        self._fail_first = fail_first
        self._padding = state_padding
        self._finals_failing = finals_failing

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.invocations.append(event)
        if event["isFinalInvokeForWindow"]:
            assert event["Records"] == []
            if self._finals_failing:
                self._finals_failing -= 1
                raise ConnectionError("the final invocation's writes failed")
            self.finals.append(event)
            return {"state": {}, "batchItemFailures": []}
        if self._fail_first:
            self._fail_first -= 1
            raise ConnectionError("a transient fault")
        keys = list(event["state"].get("keys", [])) + [r["kinesis"]["partitionKey"] for r in event["Records"]]
        state: dict[str, Any] = {"keys": keys}
        if self._padding:
            state["padding"] = "x" * self._padding
        return {"state": state, "batchItemFailures": []}


def _poller(aws: EmbeddedAws, handler: Summing, wall: Clock, **settings: Any) -> tuple[ShardPoller, str]:
    stream = _new_stream(aws)
    kinesis = aws.client("kinesis")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    queue = aws.client("sqs").get_queue_url(QueueName="on-failure")["QueueUrl"]
    poller = ShardPoller(
        kinesis,
        aws.client("sqs"),
        stream,
        shard,
        handler,
        queue,
        EventSourceSettings(**{"batch_size": 3, "tumbling_window_seconds": 3600.0, **settings}),
        clock=Clock(),
        wall_clock=wall,
    )
    poller.open()
    return poller, stream


def _wall() -> Clock:
    wall = Clock()
    wall.now = time.time()
    return wall


def test_a_window_hands_its_state_on_and_ends_with_a_final_invocation(aws: EmbeddedAws) -> None:
    handler, wall = Summing(), _wall()
    poller, stream = _poller(aws, handler, wall)
    _put(aws, stream, *"abcdefg")
    while poller.poll_once():
        pass
    assert [[r["kinesis"]["partitionKey"] for r in e["Records"]] for e in handler.invocations] == [
        ["a", "b", "c"],
        ["d", "e", "f"],
        ["g"],  # the shard is read to its end and the window's records are handed on, however few
    ]
    assert [e["state"].get("keys", []) for e in handler.invocations] == [[], ["a", "b", "c"], [*"abcdef"]]
    assert handler.finals == [], "the window has not passed"
    wall.now += 3600
    assert poller.poll_once()
    [final] = handler.finals
    assert final["state"]["keys"] == list("abcdefg")
    assert final["isWindowTerminatedEarly"] is False
    assert final["window"]["end"] > final["window"]["start"]
    assert not poller.poll_once(), "the next window opens with the next record"


def test_a_failed_invocation_is_retried_with_the_state_from_before_it(aws: EmbeddedAws) -> None:
    handler, wall = Summing(fail_first=1), _wall()
    poller, stream = _poller(aws, handler, wall, bisect_batch_on_error=False)
    _put(aws, stream, *"abc")
    poller.poll_once()
    assert [e["state"] for e in handler.invocations] == [{}, {}]  # the retry: the same (empty) state
    wall.now += 3600
    poller.poll_once()
    assert handler.finals[0]["state"]["keys"] == list("abc")


def test_a_state_past_one_megabyte_ends_the_window_early(aws: EmbeddedAws) -> None:
    handler, wall = Summing(state_padding=1024 * 1024), _wall()
    poller, stream = _poller(aws, handler, wall)
    _put(aws, stream, *"abcdef")
    while poller.poll_once():
        pass
    finals = [e for e in handler.invocations if e["isFinalInvokeForWindow"]]
    assert finals and finals[0]["isWindowTerminatedEarly"] is True
    assert [len(e["Records"]) for e in handler.invocations] == [3, 0, 3, 0]  # each batch ended its window


def test_a_failed_final_invocation_holds_the_shard_until_it_succeeds(aws: EmbeddedAws) -> None:
    handler, wall = Summing(finals_failing=2), _wall()
    poller, stream = _poller(aws, handler, wall)
    _put(aws, stream, *"ab")
    poller.poll_once()
    wall.now += 3600
    for _ in range(3):
        poller.poll_once()
    finals = [e for e in handler.invocations if e["isFinalInvokeForWindow"]]
    assert len(finals) == 3 and all(e["state"]["keys"] == ["a", "b"] for e in finals)
    assert len(handler.finals) == 1
