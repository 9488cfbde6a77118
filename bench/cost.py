"""Cost per event on AWS, from one run of the real ingest and processor handlers over four workloads.

    uv run python bench/cost.py [--seed 7] [--scale 1.0] [--only zipf,storm]

Each workload (bench/workloads.py) goes through the ingest handler as API Gateway events of gzip'd envelopes
(built by sentry-sdk's Envelope), then the records ingest put on Kinesis go through the processor handler in
batches, all against moto in-process. Every AWS call is counted at the boto3 layer: DynamoDB write units by
item size before and after, transactions doubled, with the writes of every global secondary index
(bench/capacity.py); read units; S3 PUTs and GETs; Kinesis PUT payload units; EventBridge entries; SQS
requests. Lambda GB-seconds come from the handlers' measured CPU time (moto's own CPU and this bench's
counting taken out) plus a typical latency per call (bench/aws_prices.py), at the memory each function gets
in infra/. CloudWatch log bytes are what the handlers print (logs and EMF metrics) plus Lambda's own lines.
Dollars come from bench/aws_prices.py, one table with its date and region.

It also measures the processor's events per second per core through the real code beside the floor of the
same run: decompressing and decoding the same records from JSON with pydantic-core (the decoder the
processor's models use). The last line is for scripts:

    SUMMARY usd_per_million_zipf=... usd_per_million_storm=... usd_per_million_lowrate=... wcu_per_event_zipf=...
    processor_vs_floor=... max_item_kb=... hottest_item_wcu_per_s_at_300k=...
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import io
import itertools
import json
import logging
import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "INFO",  # as deployed (infra: prod and staging)
        "POWERTOOLS_METRICS_NAMESPACE": "Errata",
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import aws_prices as price
import botocore.client
import botocore.exceptions
import capacity
import pydantic_core
import time_machine
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from workloads import Workload, batch_sizes, events, population_events

from errata.processing.batch import WRITE_THREADS
from infra.config import STAGES, SYSTEM_LOG_LEVEL, stage_config

INGEST_MEMORY_GB = 512 / 1024  # infra/stacks/services.py
PROCESSOR_MEMORY_GB = 1024 / 1024  # infra/config.py ProcessorConfig.memory_mb
# Where SDKs send events, as the prod stage has it (infra/config.py): behind a function URL there is no
# per-request gateway charge. `--ingest-endpoint http_api` prices the HTTP API instead.
INGEST_ENDPOINT = STAGES["prod"].ingest_endpoint
KINESIS_UNIT_BYTES = 25 * 1024
CHUNK_64K = 64 * 1024
API_GATEWAY_UNIT_BYTES = 512 * 1024

# Rates per shard: a storm at a shard's limit (1,000 records/s), Zipf and the long tail where batches of 500
# fill within the 2 s batching window, low rate at a million events a month. Seeded workloads first send each
# of their issues and users once, priced as the month's first sightings (Result.first_sightings_usd): a
# million events of this traffic meet its 1,000 issues and 10,000 users once, not once every 5,000 events.
# Zipf's measured events fill a tumbling window at --scale 0.1 (15,000 events: 30 s at 500 events/s).
LOW_RATE_PER_SECOND = 1e6 / (30 * 86_400)
WORKLOADS = (
    Workload("storm", 100_000, 1, 0, 50, (500, 500), events_per_second=1_000, seeded=True),
    Workload("zipf", 150_000, 1_000, 1.1, 10_000, (500, 500), events_per_second=500, seeded=True),
    Workload("longtail", 10_000, 0, 0, 10_000, (500, 500), events_per_second=500),
    Workload("lowrate", 3_000, 1_000, 1.1, 10_000, (1, 10), LOW_RATE_PER_SECOND, seeded=True),
)
# The stage profile each workload is priced on (infra/config.py): low rate is the small team's, whose one
# shard sees every event (on the standard profile's two, each shard's windows would hold half of them).
PROFILES = {"lowrate": "small"}
# The event source mapping's tumbling window (infra/config.py): the processor writes each item once per window.
TUMBLING_WINDOW_SECONDS = STAGES["prod"].processor.tumbling_window_seconds
# Lambda ends a window early past this much state.
MAX_WINDOW_STATE_BYTES = 1024 * 1024
SIMULATED_START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SEED_RATE, SEED_BATCH = 500.0, 500


@dataclass
class Meter:
    """What one handler's invocations asked of AWS, and what they cost to run."""

    invocations: int = 0
    cpu_seconds: float = 0.0
    billed_seconds: float = 0.0
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    wcu: float = 0.0
    index_wcu: float = 0.0
    rcu: float = 0.0
    s3_puts: int = 0
    s3_gets: int = 0
    kinesis_units: int = 0
    kinesis_bytes: int = 0
    eventbridge_entries: int = 0
    sqs_requests: int = 0
    sns_publishes: int = 0
    log_bytes: int = 0
    api_requests: int = 0
    wcu_by_item: Counter[str] = field(default_factory=Counter)
    wcu_by_table: Counter[str] = field(default_factory=Counter)
    wcu_by_kind: Counter[str] = field(default_factory=Counter)  # errata's item kinds: where a cut would go
    wcu_by_index: Counter[str] = field(default_factory=Counter)
    writes_by_kind: Counter[str] = field(default_factory=Counter)
    bytes_by_kind: Counter[str] = field(default_factory=Counter)  # item sizes after each write, summed
    max_item_bytes: int = 0
    max_item: str = ""
    latency_seconds: float = 0.0


# The custom metrics the handlers published in the runs (their names): each is billed for every hour it has
# data (bench/fixed_cost.py prices them).
PUBLISHED_METRICS: set[str] = set()


def _record_metrics() -> None:
    from aws_lambda_powertools import Metrics

    add_metric = Metrics.add_metric

    def recording(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        PUBLISHED_METRICS.add(f"{self.service}/{name}")
        return add_metric(self, name, *args, **kwargs)

    Metrics.add_metric = recording  # type: ignore[method-assign]


class Counting:
    """Wraps botocore's `_make_api_call`: counts each call into the meter of the handler running, and keeps
    the time moto and the counting spend (in this process) apart from the handler's own CPU."""

    def __init__(self) -> None:
        self.meter: Meter | None = None
        self.overhead = 0.0  # thread CPU seconds of moto and of the counting itself
        self._lock = threading.Lock()
        self.put_records: list[tuple[str, bytes, str]] = []  # (shard, data, sequence number) ingest put
        self._original = botocore.client.BaseClient._make_api_call
        self._original_stub = BotocoreStubber.__call__

    def install(self) -> None:
        counting = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            return counting.call(client, operation, params)

        def stub(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return counting._original_stub(stubber, event_name, request, **kwargs)
            finally:
                with counting._lock:
                    counting.overhead += time.thread_time() - started

        botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]
        BotocoreStubber.__call__ = stub  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]
        BotocoreStubber.__call__ = self._original_stub  # type: ignore[method-assign]

    def call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        meter = self.meter
        if meter is None:
            return self._original(client, operation, params)
        started = time.thread_time()
        before = _items_before(service, operation, params)
        spent = time.thread_time() - started
        try:
            response = self._original(client, operation, params)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                # DynamoDB bills a write its condition refused: the item's size in write units, no index entry.
                with self._lock:
                    for table_name, _key, old in before:
                        units = capacity.write_units(capacity.item_size(old))
                        meter.wcu += units
                        meter.wcu_by_table[_TABLE_LABELS.get(table_name, table_name)] += units
                        meter.wcu_by_kind["refused by a condition"] += units
            raise
        finally:
            started = time.thread_time()
            latency = price.CALL_LATENCY_SECONDS.get((service, operation), price.DEFAULT_CALL_LATENCY_SECONDS)
            if threading.current_thread().name.startswith("item-write"):
                latency /= WRITE_THREADS  # the batch's item writes wait in parallel (errata.processing.batch)
            with self._lock:  # the item writes count from several threads
                meter.calls[(service, operation)] += 1
                meter.latency_seconds += latency
                self.overhead += spent + time.thread_time() - started
        started = time.thread_time()
        with self._lock:
            self._count(meter, service, operation, params, response, before)
            self.overhead += time.thread_time() - started
        return response

    def _count(
        self,
        meter: Meter,
        service: str,
        operation: str,
        params: dict[str, Any],
        response: dict[str, Any],
        before: list[tuple[str, dict[str, Any], capacity.Item | None]],
    ) -> None:
        if service == "dynamodb":
            transactional = operation == "TransactWriteItems"
            for table_name, key, old in before:
                table = _table(table_name)
                new = _stored(table_name, key)
                cost = capacity.write_cost(table, old, new, transactional=transactional)
                meter.wcu += cost.units
                meter.index_wcu += cost.index_units
                label = _TABLE_LABELS.get(table_name, table_name)
                item_name = f"{label}:{_key_text(key)}"
                meter.wcu_by_item[item_name] += cost.total
                meter.wcu_by_table[label] += cost.total
                kind = _item_kind(label, key)
                meter.wcu_by_kind[kind] += cost.total
                meter.writes_by_kind[kind] += 1
                meter.bytes_by_kind[kind] += cost.size_after
                meter.wcu_by_index.update({f"{label}.{name}": units for name, units in cost.by_index.items()})
                if cost.size_after > meter.max_item_bytes:
                    meter.max_item_bytes, meter.max_item = cost.size_after, item_name
            meter.rcu += _read_units(operation, params, response)
        elif service == "s3":
            if operation in ("PutObject", "CopyObject", "ListObjectsV2", "ListObjects", "CreateMultipartUpload"):
                meter.s3_puts += 1
            else:
                meter.s3_gets += 1
        elif service == "kinesis" and operation in ("PutRecords", "PutRecord"):
            records = params.get("Records") or [params]
            for record in records:
                size = len(record["Data"]) + len(record["PartitionKey"].encode())
                meter.kinesis_units += math.ceil(size / KINESIS_UNIT_BYTES)
                meter.kinesis_bytes += size
            results = response.get("Records") or [response]
            for record, result in zip(records, results, strict=True):
                if "SequenceNumber" in result:
                    self.put_records.append((result["ShardId"], bytes(record["Data"]), result["SequenceNumber"]))
        elif service == "events" and operation == "PutEvents":
            for entry in params["Entries"]:
                meter.eventbridge_entries += max(1, math.ceil(len(json.dumps(entry).encode()) / CHUNK_64K))
        elif service == "sqs" and operation.startswith("SendMessage"):
            meter.sqs_requests += 1
        elif service == "sns" and operation == "Publish":
            meter.sns_publishes += 1


# The tables' key schemas and indexes, read from moto once per table; their names without the prefix.
_TABLES: dict[str, capacity.Table] = {}
_TABLE_LABELS: dict[str, str] = {}


def _backend_table(name: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(name)


def _table(name: str) -> capacity.Table:
    if name not in _TABLES:
        table = _backend_table(name)
        keys = tuple(key["AttributeName"] for key in table.schema)
        indexes = tuple(
            capacity.Index(
                name=index.name,
                keys=tuple(key["AttributeName"] for key in index.schema),
                projection=index.projection.get("ProjectionType", "ALL"),
                included=tuple(index.projection.get("NonKeyAttributes", ())),
            )
            for index in table.global_indexes
        )
        _TABLES[name] = capacity.Table(name, keys, indexes)
    return _TABLES[name]


def _stored(table_name: str, key: dict[str, Any]) -> capacity.Item | None:
    table = _backend_table(table_name)
    values = [DynamoType(key[attribute["AttributeName"]]) for attribute in table.schema]
    item = table.get_item(values[0], values[1] if len(values) > 1 else None)
    return None if item is None else item.to_json()["Attributes"]


def _key_of(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in _table(table_name).keys}


def _item_kind(label: str, key: dict[str, Any]) -> str:
    """What an item is, from its key (the key schemas of errata.store): `counters issue h#` is an issue's
    hour window, `counters project u#` a project's hour user sketch, `user-issues =` an alias."""
    values = [str(next(iter(value.values()))) for value in key.values()]
    if label == "counters":
        pk, sk = key["pk"]["S"], key["sk"]["S"]
        owner = pk.split("#", 1)[0]
        return (
            f"counters {owner} {'<project>' if owner == 'active' else sk.split('#', 1)[0] + ('#' if '#' in sk else '')}"
        )
    if label == "user-issues":
        return "user-issues =" if any(value.startswith("=") for value in values) else "user-issues"
    return label


def _key_text(key: dict[str, Any]) -> str:
    return "|".join(str(next(iter(value.values()))) for value in key.values())


def _items_before(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The items a DynamoDB write will touch, as they are before it."""
    if service != "dynamodb":
        return []
    writes: list[tuple[str, dict[str, Any]]] = []
    if operation in ("UpdateItem", "DeleteItem"):
        writes.append((params["TableName"], params["Key"]))
    elif operation == "PutItem":
        writes.append((params["TableName"], _key_of(params["TableName"], params["Item"])))
    elif operation == "TransactWriteItems":
        for entry in params["TransactItems"]:
            ((_kind, body),) = entry.items()
            key = body["Key"] if "Key" in body else _key_of(body["TableName"], body["Item"])
            writes.append((body["TableName"], key))
    elif operation == "BatchWriteItem":
        for table_name, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    writes.append((table_name, _key_of(table_name, request["PutRequest"]["Item"])))
                else:
                    writes.append((table_name, request["DeleteRequest"]["Key"]))
    return [(table_name, key, _stored(table_name, key)) for table_name, key in writes]


def _read_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return capacity.read_units(capacity.item_size(response.get("Item")), consistent)
    if operation == "BatchGetItem":
        found = [item for items in response.get("Responses", {}).values() for item in items]
        keys = sum(len(request["Keys"]) for request in params["RequestItems"].values())
        # Each key read is rounded up on its own; a key not found still costs the minimum.
        units = sum(capacity.read_units(capacity.item_size(item), consistent) for item in found)
        return units + (keys - len(found)) * capacity.read_units(0, consistent)
    if operation in ("Query", "Scan"):
        size = sum(capacity.item_size(item) for item in response.get("Items", []))
        return capacity.read_units(size, consistent)
    if operation == "TransactGetItems":
        return sum(
            capacity.read_units(capacity.item_size(r.get("Item")), transactional=True)
            for r in response.get("Responses", [])
        )
    return 0.0


class _CountingStream(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


@contextlib.contextmanager
def _logs_counted(stream: _CountingStream) -> Iterator[None]:
    """Powertools' loggers hold the stream they were made with; EMF metrics print to sys.stdout."""
    handlers = [
        handler
        for logger in [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__)
    ]
    previous = [handler.setStream(stream) for handler in handlers]  # type: ignore[arg-type]
    try:
        with contextlib.redirect_stdout(stream):  # type: ignore[type-var]
            yield
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.setStream(old)  # type: ignore[arg-type]


def _invoke(counting: Counting, meter: Meter, handler: Callable[..., Any], event: Any, context: Any) -> Any:
    stream = _CountingStream()
    counting.meter = meter
    overhead, latency = counting.overhead, meter.latency_seconds
    try:
        with _logs_counted(stream):  # its own set-up is not the handler's CPU
            started = time.process_time()
            try:
                result = handler(event, context)
            finally:
                cpu = time.process_time() - started - (counting.overhead - overhead)
    finally:
        counting.meter = None
    meter.invocations += 1
    meter.cpu_seconds += cpu
    # Lambda bills wall time per invocation, rounded up to the millisecond.
    meter.billed_seconds += math.ceil((cpu + meter.latency_seconds - latency) * 1000) / 1000
    meter.log_bytes += stream.bytes + price.LAMBDA_PLATFORM_LOG_BYTES[SYSTEM_LOG_LEVEL]
    return result


def _envelope(payload: dict[str, Any], dsn_key: str) -> bytes:
    envelope = Envelope(headers={"event_id": payload["event_id"], "dsn": f"https://{dsn_key}@errata.example/1"})
    envelope.add_item(Item(payload=PayloadRef(json=payload), type="event"))
    out = io.BytesIO()
    envelope.serialize_into(out)
    return gzip.compress(out.getvalue(), compresslevel=6)


def _api_gateway_event(project_id: str, body: bytes, dsn_key: str) -> dict[str, Any]:
    from errata_local.gateway import api_gateway_event

    builder = EnvironBuilder(
        path=f"/api/{project_id}/envelope/",
        method="POST",
        data=body,
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "Content-Encoding": "gzip",
            "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={dsn_key}, sentry_client=sentry.python/2.75.0",
            "User-Agent": "sentry.python/2.75.0",
        },
    )
    return api_gateway_event(Request(builder.get_environ()))


def _window_event(
    records: list[tuple[str, bytes, str]], stream_arn: str, shard: str, window: _Window, final: bool
) -> dict[str, Any]:
    """An invocation of a tumbling window, as Lambda makes it (errata_local.poller emulates the same)."""
    start = SIMULATED_START + timedelta(seconds=window.index * TUMBLING_WINDOW_SECONDS)
    return {
        **_kinesis_event(records, stream_arn),
        "window": {"start": start.isoformat(), "end": (start + timedelta(seconds=TUMBLING_WINDOW_SECONDS)).isoformat()},
        "state": window.state,
        "shardId": shard,
        "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": final and window.terminated_early,
    }


@dataclass
class _Window:
    index: int  # seconds since SIMULATED_START // TUMBLING_WINDOW_SECONDS
    state: dict[str, Any] = field(default_factory=dict)
    terminated_early: bool = False


def _kinesis_event(records: list[tuple[str, bytes, str]], stream_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "k",
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": time.time(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/bench",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
            }
            for shard, data, sequence in records
        ]
    }


@dataclass
class Result:
    workload: Workload
    ingest: Meter
    processor: Meter
    floor_cpu_seconds: float
    batches: int
    warmup_ingest: Meter = field(default_factory=Meter)
    warmup_processor: Meter = field(default_factory=Meter)

    @property
    def events(self) -> int:
        return self.workload.events

    def dollars(self) -> dict[str, float]:
        """Per event, by service (the events after the warm-up)."""
        return {name: value / self.events for name, value in _dollars(self.ingest, self.processor).items()}

    warmup_events: int = 0

    def first_sightings_usd(self) -> float:
        """What the warm-up's events (each issue and user once) cost beyond the rate the events after them
        cost: the first sightings of the workload's issues and users, paid once in a month of this traffic."""
        if not self.warmup_events:
            return 0.0
        warmup = sum(_dollars(self.warmup_ingest, self.warmup_processor).values())
        return warmup - sum(self.dollars().values()) * self.warmup_events

    def usd_per_million(self) -> float:
        """A million events of this traffic: the steady rate, plus its first sightings once."""
        return sum(self.dollars().values()) * 1e6 + self.first_sightings_usd()

    def hottest_item(self) -> tuple[str, float]:
        name, units = max(self.processor.wcu_by_item.items(), key=lambda pair: pair[1])
        return name, units / self.events


def _dollars(ingest: Meter, processor: Meter) -> dict[str, float]:
    """What the meters' calls cost, by service."""
    meters = (ingest, processor)
    lambda_gb_s = ingest.billed_seconds * INGEST_MEMORY_GB + processor.billed_seconds * PROCESSOR_MEMORY_GB
    return {
        "api_gateway": ingest.api_requests * price.API_GATEWAY_HTTP_REQUEST if INGEST_ENDPOINT == "http_api" else 0,
        "lambda": sum(m.invocations for m in meters) * price.LAMBDA_REQUEST + lambda_gb_s * price.LAMBDA_GB_SECOND_ARM,
        "kinesis": sum(m.kinesis_units for m in meters) * price.KINESIS_PUT_PAYLOAD_UNIT,
        "dynamodb": sum(m.wcu + m.index_wcu for m in meters) * price.DYNAMODB_WRITE_REQUEST_UNIT
        + sum(m.rcu for m in meters) * price.DYNAMODB_READ_REQUEST_UNIT,
        "s3": sum(m.s3_puts for m in meters) * price.S3_PUT + sum(m.s3_gets for m in meters) * price.S3_GET,
        "eventbridge": sum(m.eventbridge_entries for m in meters) * price.EVENTBRIDGE_EVENT,
        "sqs_sns": sum(m.sqs_requests for m in meters) * price.SQS_REQUEST
        + sum(m.sns_publishes for m in meters) * price.SNS_PUBLISH,
        "logs": sum(m.log_bytes for m in meters) / 1e9 * price.CLOUDWATCH_LOGS_GB,
    }


def run(workload: Workload, seed: int) -> Result:
    """One workload through ingest and the processor, on a fresh moto."""
    import boto3

    from errata.store.projects import ProjectSettingsPatch, ProjectStore
    from errata_local.admin import create_project
    from errata_local.aws import provision
    from errata_local.lambda_context import LocalLambdaContext
    from errata_local.stack import local_invoke
    from functions.ingest import handler as ingest_handler
    from functions.process import handler as process_handler

    ingest, processor = Meter(), Meter()
    warmup_ingest, warmup_processor = Meter(), Meter()
    floor = 0.0
    batches = 0
    # The simulated clock: event n arrives n / rate seconds after the start, and everything that reads the
    # time (ingest's received_at, the processor's windows and once-a-minute refreshes) reads it.
    with mock_aws(), time_machine.travel(SIMULATED_START, tick=False) as clock:
        _TABLES.clear()
        prefix = f"errata-bench-{workload.name}"
        settings = provision(boto3.client, prefix, shards=_shards(workload))
        _TABLE_LABELS.update(
            {name: name.removeprefix(f"{prefix}-") for name in boto3.client("dynamodb").list_tables()["TableNames"]}
        )
        os.environ.update(settings.as_env())
        ingest_handler.service.cache_clear()
        process_handler._settings_and_clients.cache_clear()
        store = ProjectStore(boto3.client("dynamodb"), settings.projects_table)
        project = create_project(store, "bench", "1")
        # A quota above the workload's rate: the bench prices what is let in (a storm at 1,000 events/s is
        # 60,000 a minute; the default quota is 10,000).
        store.update_settings("1", ProjectSettingsPatch(rate_limit_per_minute=10_000_000))
        dsn_key = project.public_keys[0]
        stream_arn = boto3.client("kinesis").describe_stream_summary(StreamName=settings.events_stream)[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        counting = Counting()
        counting.install()
        try:
            invoke_ingest = local_invoke(ingest_handler)
            invoke_process = local_invoke(process_handler)
            ingest_context = LocalLambdaContext(function_name="errata-bench-ingest")
            process_context = LocalLambdaContext(function_name="errata-bench-process")
            sizes = batch_sizes(workload, seed)
            next_batch = next(sizes)
            seeds = population_events(workload, seed) if workload.seeded else []
            meters = [warmup_ingest, warmup_processor] if seeds else [ingest, processor]
            queued: dict[str, list[tuple[str, bytes, str, int]]] = defaultdict(list)  # with the record's window
            windows: dict[str, _Window] = {}

            def invoke(event: dict[str, Any]) -> dict[str, Any]:
                result: dict[str, Any] = _invoke(counting, meters[1], invoke_process, event, process_context)
                assert not result["batchItemFailures"], result
                return result

            def end_window(shard: str) -> None:
                window = windows.pop(shard)
                window_end = SIMULATED_START + timedelta(seconds=(window.index + 1) * TUMBLING_WINDOW_SECONDS)
                clock.move_to(max(window_end, datetime.now(UTC)))
                invoke(_window_event([], stream_arn, shard, window, final=True))

            def drain(all_records: bool) -> None:
                """Delivers each shard's full batches (all of them at the end), a batch within one window,
                and ends a window once a later one's records arrive."""
                nonlocal next_batch, floor, batches
                for shard, records in queued.items():
                    while records:
                        first = records[0][3]
                        same = next((n for n, r in enumerate(records) if r[3] != first), len(records))
                        window = windows.get(shard)
                        if window is not None and (window.index != first or window.terminated_early):
                            end_window(shard)
                            continue
                        if same < next_batch and same == len(records) and not all_records:
                            break  # the batch is still gathering
                        batch = [r[:3] for r in records[: min(same, next_batch)]]
                        del records[: len(batch)]
                        started = time.process_time()
                        for _, data, _ in batch:
                            pydantic_core.from_json(gzip.decompress(data))
                        if meters[1] is processor:  # the floor of the measured batches only
                            floor += time.process_time() - started
                        window = windows.setdefault(shard, _Window(first))
                        result = invoke(_window_event(batch, stream_arn, shard, window, final=False))
                        window.state = result["state"]
                        window.terminated_early = len(json.dumps(window.state)) > MAX_WINDOW_STATE_BYTES
                        batches += meters[1] is processor
                        next_batch = next(sizes) if meters[1] is processor else SEED_BATCH
                if all_records:
                    for shard in list(windows):
                        end_window(shard)

            # The seeds go at Zipf's rate in full batches whatever the workload (a low rate's 10,000 seeds at
            # its own pace are hours of moto time): their cost beyond the steady rate is a once-a-month figure.
            measured_from = 0.0
            if seeds:
                next_batch = SEED_BATCH
            for index, payload in enumerate(itertools.chain(seeds, events(workload, seed))):
                if index == len(seeds) and seeds:
                    drain(all_records=True)  # the seeds' windows end; the measured events open their own
                    measured_from = math.ceil(index / SEED_RATE / TUMBLING_WINDOW_SECONDS) * TUMBLING_WINDOW_SECONDS
                    meters = [ingest, processor]
                    next_batch = next(sizes)
                if index < len(seeds):
                    seconds = index / SEED_RATE
                else:
                    seconds = measured_from + (index - len(seeds)) / workload.events_per_second
                clock.move_to(SIMULATED_START + timedelta(seconds=seconds))
                body = _envelope(payload, dsn_key)
                event = _api_gateway_event("1", body, dsn_key)
                meters[0].api_requests += max(1, math.ceil(len(body) / API_GATEWAY_UNIT_BYTES))
                response = _invoke(counting, meters[0], invoke_ingest, event, ingest_context)
                assert response["statusCode"] == 200, response
                window_index = int(seconds // TUMBLING_WINDOW_SECONDS)
                for shard, data, sequence in counting.put_records:
                    queued[shard].append((shard, data, sequence, window_index))
                counting.put_records.clear()
                if sum(map(len, queued.values())) >= 2 * next_batch:
                    drain(all_records=False)
            drain(all_records=True)
            if workload.name == "lowrate":
                # The minute evaluator runs every minute of the month: the metrics it publishes count in the
                # small profile's fixed cost (not metered here: bench/alert_latency.py times alerting).
                from functions.alert import handler as alert_handler

                alert_handler._wired.cache_clear()
                schedule = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
                local_invoke(alert_handler)(schedule, LocalLambdaContext(function_name="errata-bench-alert"))
        finally:
            counting.uninstall()
    return Result(workload, ingest, processor, floor, batches, warmup_ingest, warmup_processor, len(seeds))


def _shards(workload: Workload) -> int:
    return stage_config("prod", profile=PROFILES.get(workload.name, "standard")).stream.shards


def _table_lines(result: Result) -> list[str]:
    events = result.events
    p, i = result.processor, result.ingest
    dollars = result.dollars()
    hottest, hottest_wcu = result.hottest_item()
    steady = sum(dollars.values()) * 1e6
    warmup = result.warmup_events
    return [
        f"## {result.workload.name}: {events:,} events after {warmup:,} that send each issue and user once, at"
        f" {result.workload.events_per_second:,.1f} events/s over {_shards(result.workload)} shard(s),"
        f" {TUMBLING_WINDOW_SECONDS} s windows;"
        f" {result.batches:,} processor batches",
        f"  per event: WCU {(p.wcu + i.wcu) / events:.3f} (table)"
        f" + {(p.index_wcu + i.index_wcu) / events:.3f} (indexes),"
        f" RCU {(p.rcu + i.rcu) / events:.3f}, S3 PUT {(p.s3_puts + i.s3_puts) / events:.3f},"
        f" S3 GET {(p.s3_gets + i.s3_gets) / events:.3f}, Kinesis units {i.kinesis_units / events:.2f},"
        f" EventBridge {p.eventbridge_entries / events:.4f}, log bytes {(p.log_bytes + i.log_bytes) / events:.0f}",
        f"  CPU ms per event: ingest {i.cpu_seconds / events * 1e3:.2f}, processor {p.cpu_seconds / events * 1e3:.2f}"
        f" (floor {result.floor_cpu_seconds / events * 1e3:.3f}): processor {events / p.cpu_seconds:,.0f} events/s"
        f" per core, floor {events / result.floor_cpu_seconds:,.0f};"
        f" billed ms per event: ingest {i.billed_seconds / events * 1e3:.2f},"
        f" processor {p.billed_seconds / events * 1e3:.2f}",
        "  WCU by table: " + ", ".join(f"{t} {u / events:.3f}" for t, u in p.wcu_by_table.most_common()),
        "  WCU by item kind: " + ", ".join(f"{k} {u / events:.3f}" for k, u in p.wcu_by_kind.most_common()),
        "  writes per event (mean KB after a write): "
        + ", ".join(
            f"{k} {n / events:.3f} ({p.bytes_by_kind[k] / n / 1024:.2f})" for k, n in p.writes_by_kind.most_common()
        ),
        "  index WCU by index: " + ", ".join(f"{k} {u / events:.3f}" for k, u in p.wcu_by_index.most_common()),
        f"  hottest item: {hottest} ({hottest_wcu:.4f} WCU per event);"
        f" largest item {p.max_item_bytes / 1024:.1f} KB ({p.max_item})",
        "  calls per event: "
        + ", ".join(f"{s}.{o} {n / events:.3f}" for (s, o), n in (p.calls + i.calls).most_common(12)),
        "  USD per million: "
        + ", ".join(f"{k} {v * 1e6:.3f}" for k, v in dollars.items() if v)
        + f"; total {steady:.2f}",
        f"  a million events of this traffic: {steady:.2f} steady + {result.first_sightings_usd():.2f} once for the"
        f" first sightings (their cost beyond the steady rate) = {result.usd_per_million():.2f} USD",
    ]


def main() -> int:
    global INGEST_ENDPOINT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every workload's event count")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--ingest-endpoint", choices=["http_api", "function_url"], default=INGEST_ENDPOINT)
    args = parser.parse_args()
    INGEST_ENDPOINT = args.ingest_endpoint
    # The local stack's moto patches (same answers, tested): moto as released deep-copies a table per item
    # of a transaction, which made this run take minutes per thousand events. moto's CPU is not counted.
    from errata_local import moto_patches

    moto_patches.apply_all()
    _record_metrics()
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    results: dict[str, Result] = {}
    print(
        f"Cost per event on AWS ({price.REGION} list prices of {price.DATE}, bench/aws_prices.py); seed {args.seed}; "
        f"ingest at the {INGEST_ENDPOINT.replace('_', ' ')}"
    )
    for workload in chosen:
        scaled = replace(workload, events=max(10, int(workload.events * args.scale)))
        started = time.monotonic()
        result = run(scaled, args.seed)
        results[workload.name] = result
        for line in _table_lines(result):
            print(line)
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    fixed = math.nan
    if "lowrate" in results:
        # A small team: about a million events a month on the small profile. Its custom metrics are the ones
        # the functions published in this run (nonzero counts only: errata.function_metrics), counted as if
        # every one were published every hour of the month.
        from fixed_cost import fixed_usd_per_month

        metrics = len(PUBLISHED_METRICS)
        costs = fixed_usd_per_month("prod", "small", metrics)
        fixed = sum(costs.values())
        per_million = results["lowrate"].usd_per_million()
        print(
            f"## small profile (prod, infra/config.py): fixed {fixed:.2f} USD a month ("
            + ", ".join(f"{name} {value:.2f}" for name, value in costs.items() if value)
            + f"; custom metrics: {', '.join(sorted(PUBLISHED_METRICS))});"
            f" at 1M events a month at low rate's {per_million:.2f} per million:"
            f" {fixed + per_million:.2f} USD a month"
        )
    zipf = results.get("zipf")
    fields = {
        "usd_per_million_zipf": results["zipf"].usd_per_million() if "zipf" in results else math.nan,
        "usd_per_million_storm": results["storm"].usd_per_million() if "storm" in results else math.nan,
        "usd_per_million_lowrate": results["lowrate"].usd_per_million() if "lowrate" in results else math.nan,
        "wcu_per_event_zipf": (zipf.processor.wcu + zipf.processor.index_wcu) / zipf.events if zipf else math.nan,
        "processor_vs_floor": (
            sum(r.processor.cpu_seconds for r in results.values()) / sum(r.floor_cpu_seconds for r in results.values())
        ),
        "max_item_kb": max(r.processor.max_item_bytes for r in results.values()) / 1024,
        # One project's events at 300,000/s, each workload's mix: the item written most, in WCU per second.
        # Only workloads whose batches fill: at 300,000 events/s no batch holds one to ten events.
        "hottest_item_wcu_per_s_at_300k": max(
            (r.hottest_item()[1] for r in results.values() if min(r.workload.batch_sizes) >= 100), default=math.nan
        )
        * 300_000,
        "usd_per_month_fixed_small": fixed,
    }
    print("SUMMARY " + " ".join(f"{name}={value:.2f}" for name, value in fields.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
