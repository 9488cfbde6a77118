"""The write path at 300,000 events per second (issue #14, docs/scale.md): the real processor handler over
synthetic shards, against moto in-process, every write counted by DynamoDB's size rules (bench/capacity.py
through bench/cost.py's counting layer), then extrapolated to the shard count each case needs.

    uv run python bench/scale_sim.py [--shards 4] [--batches 3] [--seed 7]

Each case is a global event rate and a traffic shape. A Kinesis shard takes at most 1 MiB/s and 1,000 records/s,
and one processor invocation at a time (the mapping's parallelization factor is 1: the shard marks need it),
so a shard carries what the processor handles on the vCPU its memory buys (measured here), whichever is
lowest; the case needs rate / that many shards. A shard's batches are `batch events` records (the prod
stage's batch size and window), a random sample of the whole stream (partition keys are event ids).

The simulation runs `--shards` shards of `--batches` batches each through the real handler. For every item
written it records in how many batches it was written (p = that share of all batches), the write units of a
write (the item's size, its index entries), and its shard marks. At full scale an item is written
shards x batches/s x p times a second, and carries the mark of every shard that wrote it in the last 8 days
(errata.store.shard_marks): its write units are recomputed with those marks. For an item written under a
revision condition (an issue, a user sketch), the expected number of other writes inside one read-to-write
window (CONDITION_WINDOW_SECONDS) says how often it would be refused and retried. Printed: per case the
shards, the hottest items' writes/s and write units/s against DynamoDB's 1,000 WCU/s per partition, the
conflict rate, and the processor side's monthly cost; last, for scripts:

    SCALE case_a_wcu_per_s=<x> case_b_wcu_per_s=<x> case_c_wcu_per_s=<x> under_partition_limit=<yes|no>
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aws_prices as price
import capacity
import cost
from moto import mock_aws
from workloads import event

from errata.models.ingested import IngestedEvent
from infra.config import STAGES

PARTITION_WCU_PER_S = 1_000
SHARD_BYTES_PER_S = 1024 * 1024
SHARD_RECORDS_PER_S = 1_000
# Lambda gives a function one vCPU at 1,769 MB of memory, proportionally less below.
VCPU_PER_MB = 1 / 1769
MARK_BYTES = 2 + 14 + 64 + 1 + 5  # a mark's name and value (errata.store.shard_marks)
MARK_DAYS = 8
# From the read an item's condition rests on to the write that relies on it: the batch's prefetch, then the
# parallel writes (bench/aws_prices.py's latencies of a BatchGetItem and an UpdateItem, and the work between).
CONDITION_WINDOW_SECONDS = 0.03
SECONDS_PER_MONTH = price.HOURS_PER_MONTH * 3600
PROD = STAGES["prod"].processor


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    events_per_s: int
    projects: int
    issues_per_project: int
    zipf_s: float
    users: int


CASES = (
    Case("a", "300,000 events/s over 100,000 issues of 1,000 projects", 300_000, 1_000, 100, 1.1, 100_000),
    Case("b", "one project at 100,000 events/s over 1,000 issues", 100_000, 1, 1_000, 1.1, 10_000),
    Case("c", "one issue in a storm at 100,000 events/s, on every shard", 100_000, 1, 1, 0.0, 1_000),
)


@dataclass
class ItemSeen:
    batches: int = 0
    units: float = 0.0
    shards: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ItemAtScale:
    name: str  # "<table>:<key values>"
    writes_per_s: float
    wcu_per_s: float
    conflicts: float  # other writes inside one condition window (revision-conditioned items only)
    writers: int  # shards whose marks it carries
    bytes: float

    @property
    def partition(self) -> str:
        """DynamoDB's limits are per partition: every item of one partition key value counts together."""
        return self.name.split("|", 1)[0]


@dataclass
class CaseResult:
    case: Case
    shards_needed: int
    batch_events: int
    batches_per_s_per_shard: float
    items: list[ItemAtScale]
    partitions: Counter[str]  # write units per second by partition key value
    usd_per_million: float
    processor_events_per_s_per_vcpu: float
    record_bytes: int

    @property
    def hottest_wcu_per_s(self) -> float:
        return max(self.partitions.values())


def _draw_issue(rng: random.Random, case: Case, cumulative: list[float] | None) -> tuple[str, int]:
    project = str(1 + rng.randrange(case.projects))
    if cumulative:
        return project, rng.choices(range(case.issues_per_project), cum_weights=cumulative)[0]
    return project, rng.randrange(case.issues_per_project)


def _records(case: Case, rng: random.Random, count: int, shard: str, sequence: int) -> list[tuple[str, bytes, str]]:
    cumulative = None
    if case.issues_per_project > 1 and case.zipf_s:
        total, cumulative = 0.0, []
        for rank in range(1, case.issues_per_project + 1):
            total += 1 / rank**case.zipf_s
            cumulative.append(total)
    records = []
    now = datetime.now(UTC)
    for n in range(count):
        project, fingerprint = _draw_issue(rng, case, cumulative)
        payload = event(rng, fingerprint, rng.randrange(case.users), now)
        ingested = IngestedEvent(project_id=project, event_id=payload["event_id"], received_at=now, payload=payload)
        records.append((shard, ingested.encode(), f"{sequence + n:056d}"))
    return records


def simulate(case: Case, shards: int, batches: int, seed: int) -> CaseResult:
    import boto3

    from errata.store.projects import ProjectStore
    from errata_local.admin import create_project
    from errata_local.aws import provision
    from errata_local.lambda_context import LocalLambdaContext
    from errata_local.stack import local_invoke
    from functions.process import handler as process_handler

    rng = random.Random(f"{seed}:{case.name}")
    seen: dict[str, ItemSeen] = defaultdict(ItemSeen)
    with mock_aws():
        cost._TABLES.clear()
        prefix = f"errata-scale-{case.name}"
        settings = provision(boto3.client, prefix)
        dynamodb = boto3.client("dynamodb")
        labels = {name: name.removeprefix(f"{prefix}-") for name in dynamodb.list_tables()["TableNames"]}
        cost._TABLE_LABELS.update(labels)
        os.environ.update(settings.as_env())
        process_handler._settings_and_clients.cache_clear()
        store = ProjectStore(dynamodb, settings.projects_table)
        for project_id in range(1, case.projects + 1):
            create_project(store, f"project {project_id}", str(project_id))
        stream_arn = boto3.client("kinesis").describe_stream_summary(StreamName=settings.events_stream)[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        counting = cost.Counting()
        counting.install()
        invoke = local_invoke(process_handler)
        context = LocalLambdaContext(function_name="errata-scale-process")

        def run_batch(meter: cost.Meter, shard: str, count: int, first: int) -> None:
            records = _records(case, rng, count, shard, first)
            before = Counter(meter.wcu_by_item)
            result = cost._invoke(counting, meter, invoke, cost._kinesis_event(records, stream_arn), context)
            assert not result["batchItemFailures"], result
            for name, units in meter.wcu_by_item.items():
                if units > before[name]:
                    item = seen[name]
                    item.batches += 1
                    item.units += units - before[name]
                    item.shards.add(shard)

        try:
            # A probe batch measures what decides the shard count: the records' size and the processor's CPU
            # per event in this traffic; the simulated batches then have the size they have at full scale.
            probe = cost.Meter()
            run_batch(probe, "shardId-probe", PROD.batch_size, 0)
            record_bytes = len(_records(case, random.Random(seed), 1, "size", 0)[0][1])
            events_per_vcpu = PROD.batch_size / probe.cpu_seconds
            vcpu = PROD.memory_mb * VCPU_PER_MB
            per_shard = min(SHARD_RECORDS_PER_S, SHARD_BYTES_PER_S / record_bytes, events_per_vcpu * vcpu)
            shards_needed = math.ceil(case.events_per_s / per_shard)
            shard_rate = case.events_per_s / shards_needed
            batch_events = min(PROD.batch_size, max(1, round(shard_rate * PROD.batching_window_seconds)))
            seen.clear()
            meter = cost.Meter()
            for round_ in range(batches):
                for shard_number in range(shards):
                    run_batch(meter, f"shardId-{shard_number:012d}", batch_events, 10**6 * (round_ + 1))
                    print(f"  batch {round_ + 1}.{shard_number + 1}: {batch_events} events", file=sys.stderr)
        finally:
            counting.uninstall()
        stored = _stored_items(dynamodb, labels)
    batches_per_s = shard_rate / batch_events
    total_batches = shards * batches
    items = []
    for name, item in seen.items():
        share = item.batches / total_batches
        writes_per_s = shards_needed * batches_per_s * share
        size, marks_now, conditioned = stored.get(name, (0, len(item.shards), False))
        # Every shard that wrote the item within MARK_DAYS leaves its mark on it.
        writers = shards_needed * (1 - math.exp(-share * batches_per_s * MARK_DAYS * 86_400))
        extra = max(0.0, writers - marks_now) * MARK_BYTES
        units = item.units / item.batches + capacity.write_units(int(size + extra)) - capacity.write_units(size)
        conflicts = writes_per_s * CONDITION_WINDOW_SECONDS if conditioned else 0.0
        items.append(ItemAtScale(name, writes_per_s, writes_per_s * units, conflicts, round(writers), size + extra))
    items.sort(key=lambda row: row.wcu_per_s, reverse=True)
    partitions: Counter[str] = Counter()
    for row in items:
        partitions[row.partition] += row.wcu_per_s
    processor = cost.Result(
        cost.Workload(case.name, total_batches * batch_events, 1, 0, 0, (batch_events, batch_events)),
        cost.Meter(),
        meter,
        0.0,
        0,
    )
    return CaseResult(
        case,
        shards_needed,
        batch_events,
        batches_per_s,
        items,
        partitions,
        processor.usd_per_million(),
        events_per_vcpu,
        record_bytes,
    )


def _stored_items(dynamodb: Any, labels: dict[str, str]) -> dict[str, tuple[int, int, bool]]:
    """Every item's size, shard marks and whether its writes are revision-conditioned, by its meter name."""
    found = {}
    for table, label in labels.items():
        keys = cost._table(table).keys
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                name = f"{label}:{cost._key_text({key: item[key] for key in keys})}"
                marks = sum(attribute.startswith("w_") for attribute in item)
                conditioned = "revision" in item or "user_revision" in item
                found[name] = (capacity.item_size(item), marks, conditioned)
    return found


def _print(result: CaseResult) -> None:
    case = result.case
    print(f"## case {case.name}: {case.description}")
    print(
        f"  {result.shards_needed:,} shards: records of {result.record_bytes:,} bytes, the processor"
        f" {result.processor_events_per_s_per_vcpu:,.0f} events/s per vCPU ({PROD.memory_mb} MB:"
        f" {PROD.memory_mb * VCPU_PER_MB:.2f} vCPU); batches of {result.batch_events} events,"
        f" {result.batches_per_s_per_shard:.2f} a second per shard; Lambda concurrency {result.shards_needed:,}"
    )
    for row in result.items[:4]:
        flag = "OVER" if row.wcu_per_s > PARTITION_WCU_PER_S else "ok"
        print(
            f"  {flag:>4} item {row.name[:80]}: {row.writes_per_s:,.1f} writes/s of {row.bytes / 1024:.1f} KB"
            f" (marks of {row.writers:,} shards), {row.wcu_per_s:,.0f} WCU/s;"
            f" {row.conflicts:.2f} other writes per condition window"
        )
    for partition, units in result.partitions.most_common(3):
        flag = "OVER" if units > PARTITION_WCU_PER_S else "ok"
        print(f"  {flag:>4} partition {partition[:80]}: {units:,.0f} WCU/s")
    monthly = case.events_per_s * SECONDS_PER_MONTH * result.usd_per_million / 1e6
    shard_hours = result.shards_needed * price.KINESIS_SHARD_HOUR * price.HOURS_PER_MONTH
    print(
        f"  processor side {result.usd_per_million:.2f} USD per million events: {monthly:,.0f} USD a month,"
        f" plus {shard_hours:,.0f} USD of shard hours"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=4, help="shards simulated per case")
    parser.add_argument("--batches", type=int, default=3, help="batches per simulated shard")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()
    results = {}
    for case in CASES:
        if args.only and case.name not in args.only.split(","):
            continue
        started = time.monotonic()
        results[case.name] = simulate(case, args.shards, args.batches, args.seed)
        _print(results[case.name])
        print(f"  ({time.monotonic() - started:.0f} s)")
    figures = " ".join(f"case_{name}_wcu_per_s={r.hottest_wcu_per_s:.0f}" for name, r in results.items())
    under = all(r.hottest_wcu_per_s <= PARTITION_WCU_PER_S for r in results.values())
    print(f"SCALE {figures} under_partition_limit={'yes' if under else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
