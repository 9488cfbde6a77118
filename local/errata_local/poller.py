"""The Kinesis event source mapping, emulated (moto cannot invoke Lambda without Docker).

Like the real mapping: each shard's batches handed to the processor in order, gathered for up to a batching
window (MaximumBatchingWindowInSeconds) unless full first, partial batch responses honoured (resume from the
lowest failed sequence number), whole-batch errors retried with the batch bisected, bounded retries, then
the batch's description sent to the on-failure destination and the shard moves on. With a tumbling window
(TumblingWindowInSeconds), as Lambda runs one: records fall into windows by their arrival time, a batch
never spans two, each invocation gets the state the previous one of its window returned (kept with the
position: a retried invocation gets the state from before it), and once the window has passed the mapping
invokes with no records and `isFinalInvokeForWindow`; a state over 1 MB ends the window early. A failed final
invocation is retried until it succeeds, holding the shard.

The emulation keeps the state in memory: after a restart the poller reads the shard from its start again,
and the processor skips what its position covers (and finds the marks of what a lost window wrote)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from errata_local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class EventSourceSettings:
    batch_size: int = 100
    maximum_retry_attempts: int = 2
    bisect_batch_on_error: bool = True
    idle_poll_seconds: float = 0.05
    # An idle stream is polled less and less often, down to this; ingest wakes the poller when it puts
    # records (StreamPoller.wake), so a new event never waits for the backoff.
    max_idle_poll_seconds: float = 5.0
    # The mapping's MaximumBatchingWindowInSeconds: records are gathered this long after the first one
    # arrived unless a batch fills first. Each batch writes each item it touches once, so a batch of many
    # events costs little more than a batch of one. 0: a batch as soon as there are records (the tests).
    batching_window_seconds: float = 0.0
    # While gathering, the shard is read this often (ingest's wake-ups are ignored then: one read a
    # request would cost more than it saves).
    gathering_poll_seconds: float = 0.2
    # The mapping's Enabled: a disabled mapping leaves the records on the stream (bench/ingest_floor.py
    # measures ingest alone this way).
    enabled: bool = True
    # The mapping's TumblingWindowInSeconds; 0: no window.
    tumbling_window_seconds: float = 0.0


# Lambda ends a window early once the state a function returns passes this.
MAX_WINDOW_STATE_BYTES = 1024 * 1024


@dataclass
class _OpenWindow:
    start: float  # seconds since the epoch
    end: float
    state: dict[str, Any]
    terminated_early: bool = False


class ShardPoller:
    def __init__(
        self,
        kinesis: Any,
        sqs: Any,
        stream_name: str,
        shard_id: str,
        handler: Handler,
        on_failure_queue_url: str,
        settings: EventSourceSettings,
        clock: Callable[[], float] = time.monotonic,
        stopping: threading.Event | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock  # the tumbling windows' (records carry their arrival time)
        self._window: _OpenWindow | None = None
        # Set when the stack stops: a batch whose invocation failed is left on the stream (the next start
        # delivers it again) instead of being retried, or sent to the on-failure destination, on the way out.
        self._stopping = stopping or threading.Event()
        self._kinesis = kinesis
        self._sqs = sqs
        self._stream_name = stream_name
        self._shard_id = shard_id
        self._handler = handler
        self._on_failure_queue_url = on_failure_queue_url
        self._settings = settings
        description = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
        self._stream_arn: str = description["StreamARN"]
        self._gathered: list[dict[str, Any]] = []
        self._gathering_since = 0.0

    def open(self) -> None:
        self._iterator: str | None = self._kinesis.get_shard_iterator(
            StreamName=self._stream_name, ShardId=self._shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def poll_once(self) -> bool:
        """Reads what the shard has, up to a batch, and delivers the batch once it is full or its window has
        passed; False when no batch was delivered."""
        batch_size = self._settings.batch_size
        if self._iterator is not None and len(self._gathered) < batch_size:
            response = self._kinesis.get_records(ShardIterator=self._iterator, Limit=batch_size - len(self._gathered))
            self._iterator = response.get("NextShardIterator")  # None: the shard was closed and fully read
            if response["Records"] and not self._gathered:
                self._gathering_since = self._clock()
            self._gathered += response["Records"]
        if self._settings.tumbling_window_seconds:
            return self._poll_window()
        left = self.window_left()
        if left is None or (len(self._gathered) < batch_size and self._iterator is not None and left > 0):
            return False
        batch, self._gathered = self._gathered, []
        self.deliver(batch)
        return True

    def _window_of(self, record: dict[str, Any]) -> float:
        length = self._settings.tumbling_window_seconds
        return float(int(record["ApproximateArrivalTimestamp"].timestamp() // length) * length)

    def _poll_window(self) -> bool:
        """Delivers the open window's next batch, or its final invocation once it has passed."""
        window = self._window
        if window is None:
            if not self._gathered:
                return False
            start = self._window_of(self._gathered[0])
            window = self._window = _OpenWindow(start, start + self._settings.tumbling_window_seconds, {})
        in_window = 0
        while in_window < len(self._gathered) and self._window_of(self._gathered[in_window]) <= window.start:
            in_window += 1
        passed = self._wall_clock() >= window.end or in_window < len(self._gathered) or window.terminated_early
        if in_window and not window.terminated_early:
            left = self.window_left()
            full = in_window >= self._settings.batch_size
            if full or passed or (left is not None and left <= 0) or self._iterator is None:
                batch, self._gathered = self._gathered[:in_window], self._gathered[in_window:]
                if self._gathered:
                    self._gathering_since = self._clock()
                self.deliver(batch)
                return True
            return False
        if not passed:
            return False
        if self._invoke_final(window):
            self._window = None
        return True

    def _invoke_final(self, window: _OpenWindow) -> bool:
        try:
            result = self._handler(self._window_event([], window, final=True), self._context())
        except Exception:
            if not self._stopping.is_set():
                logger.exception("a window's final invocation failed; retrying it")
                self._stopping.wait(0.5)
            return False
        return "state" in (result or {})

    def _context(self) -> LocalLambdaContext:
        return LocalLambdaContext(function_name="errata-local-process")

    def window_left(self) -> float | None:
        """Seconds until the gathered records are delivered (or an open tumbling window's end), however few;
        None when none are gathered and no window is open."""
        lefts = []
        if self._gathered:
            lefts.append(self._gathering_since + self._settings.batching_window_seconds - self._clock())
        if self._window is not None:
            lefts.append(self._window.end - self._wall_clock())
        return min(lefts) if lefts else None

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Hands one batch to the processor until it is done, or retries are spent."""
        pending = [records]
        while pending:
            batch = pending.pop(0)
            attempts = 0
            while batch:
                try:
                    event = self._event(batch)
                    if self._window is not None:
                        event = self._window_event(event["Records"], self._window, final=False)
                    result = self._handler(event, self._context())
                    if self._window is not None:
                        self._keep_state(result)
                except Exception:
                    if self._stopping.is_set():
                        return
                    logger.exception("processor raised on a batch of %d records", len(batch))
                    attempts += 1
                    if attempts > self._settings.maximum_retry_attempts:
                        self._send_to_on_failure(batch, "RetryAttemptsExhausted")
                        break
                    if self._settings.bisect_batch_on_error and len(batch) > 1:
                        middle = len(batch) // 2
                        pending[:0] = [batch[:middle], batch[middle:]]
                        break
                    continue
                failures = [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
                if not failures:
                    break
                lowest = min(int(sequence) for sequence in failures)
                attempts += 1
                if attempts > self._settings.maximum_retry_attempts:
                    self._send_to_on_failure(
                        [r for r in batch if int(r["SequenceNumber"]) >= lowest], "RetryAttemptsExhausted"
                    )
                    break
                # Like the mapping: retry from the lowest failed record; records before it are done.
                batch = [r for r in batch if int(r["SequenceNumber"]) >= lowest]

    def _keep_state(self, result: dict[str, Any] | None) -> None:
        """Checkpoints the state the invocation returned with the records it did not report failed."""
        assert self._window is not None
        if not result or "state" not in result:
            raise ValueError("an invocation in a tumbling window returned no state")  # Lambda: a failure
        self._window.state = result["state"]
        if len(json.dumps(result["state"])) > MAX_WINDOW_STATE_BYTES:
            self._window.terminated_early = True

    def _window_event(self, records: list[dict[str, Any]], window: _OpenWindow, final: bool) -> dict[str, Any]:
        return {
            "Records": records,
            "window": {"start": _iso(window.start), "end": _iso(window.end)},
            "state": window.state,
            "shardId": self._shard_id,
            "eventSourceARN": self._stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": final and window.terminated_early,
        }

    def _event(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": record["SequenceNumber"],
                        "data": base64.b64encode(record["Data"]).decode(),
                        "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{self._shard_id}:{record['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::000000000000:role/errata-local-process",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": self._stream_arn,
                }
                for record in batch
            ]
        }

    def _send_to_on_failure(self, batch: list[dict[str, Any]], condition: str) -> None:
        """The on-failure record the mapping sends: where the records were, not the records."""
        message = {
            "requestContext": {"condition": condition, "functionArn": "errata-local-process"},
            "KinesisBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": batch[0]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self._stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._on_failure_queue_url, MessageBody=json.dumps(message))
        logger.warning("batch sent to the on-failure destination", extra=message["KinesisBatchInfo"])


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class StreamPoller:
    """Polls every shard, round-robin, from one thread. The mapping runs shards concurrently, but moto's
    DynamoDB takes no locks: two concurrent conditional writes to one item can both pass their condition
    and lose an update. Serializing the processor keeps the local counts exact; per-shard order is kept."""

    def __init__(
        self,
        kinesis: Any,
        sqs: Any,
        stream_name: str,
        handler: Handler,
        on_failure_queue_url: str,
        settings: EventSourceSettings | None = None,
    ) -> None:
        self._settings = settings or EventSourceSettings()
        self._stop = threading.Event()
        shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
        self.shards = [
            ShardPoller(
                kinesis,
                sqs,
                stream_name,
                shard["ShardId"],
                handler,
                on_failure_queue_url,
                self._settings,
                stopping=self._stop,
            )
            for shard in shards
        ]
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kinesis-poller", daemon=True)

    def wake(self) -> None:
        """Records were put: poll now, whatever the idle backoff."""
        self._wake.set()

    def _run(self) -> None:
        for shard in self.shards:
            shard.open()
        idle_wait = self._settings.idle_poll_seconds
        while not self._stop.is_set():
            self._wake.clear()
            delivered = False
            for shard in self.shards:
                try:
                    delivered = shard.poll_once() or delivered
                except Exception:
                    if self._stop.is_set():
                        return
                    logger.exception("polling a shard failed; retrying")
                    self._stop.wait(0.5)
            if delivered:
                idle_wait = self._settings.idle_poll_seconds
                continue
            windows = [left for left in (shard.window_left() for shard in self.shards) if left is not None]
            if windows:  # gathering: read again soon, deliver when the first window ends
                idle_wait = self._settings.idle_poll_seconds
                self._stop.wait(max(0.0, min(*windows, self._settings.gathering_poll_seconds)))
                continue
            # Idle: 0.05 s, then twice as long each empty round up to the maximum (0.16 CPU s/s of polling
            # at a steady 20 Hz, most of it in moto, for a stream nobody writes to).
            self._wake.wait(idle_wait)
            idle_wait = min(idle_wait * 2, self._settings.max_idle_poll_seconds)

    def start(self) -> None:
        if self._settings.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
