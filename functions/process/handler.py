"""Processor: a Kinesis batch of ingested events becomes one write per item it adds to (errata.processing),
or, in a tumbling window, sums carried to the window's final invocation."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.function_metrics import function_metrics, nonzero_counts
from errata.processing import IssueBatch
from errata.settings import Settings
from errata.wiring import Clients, issue_batch

logger = Logger(service="process")
metrics = function_metrics("process")


# In the "batch processed" log line only: DynamoDB's own (free) metrics show the write load, and payloads
# left out by sampling are the design working (each custom metric is billed for every hour it gets data).
DIAGNOSTIC_COUNTS = frozenset(
    {"issues_written", "items_written", "items_already_written", "payloads_dropped", "sketches_unchanged"}
)


@cache
def _settings_and_clients() -> tuple[Settings, Clients]:
    return Settings.from_env(), Clients()


def new_batch() -> IssueBatch:
    return issue_batch(*_settings_and_clients())


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = new_batch()
    if "window" in event:
        # A tumbling window (TumblingWindowInSeconds): sums carried in `state` until its final invocation.
        batch.open_window(
            shard=f"{event['eventSourceARN']}/{event['shardId']}",
            state=event.get("state"),
            final=bool(event.get("isFinalInvokeForWindow") or event.get("isWindowTerminatedEarly")),
        )
    # One processor per invocation: it holds the batch's state, and the local stack runs shards in parallel
    # threads of one process.
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    with processor(records=event["Records"], handler=batch.stage, lambda_context=context):
        processor.process()
        summary = batch.commit(processor)
    for name, value in nonzero_counts(vars(summary), leave_out=DIAGNOSTIC_COUNTS).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("batch processed", extra=vars(summary))
    response: dict[str, Any] = dict(processor.response())
    state = batch.window_state()
    if state is not None:
        response["state"] = state  # a window's response must carry it, even empty (TimeWindowEventResponse)
    return response
