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
PARTITION_RCU_PER_S = 3_000
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


@dataclass
class CaseResult:
    case: Case
    shards_needed: int
    batch_events: int
    batches_per_s_per_shard: float
    rows: list[tuple[str, float, float, float, int]]  # name, writes/s, WCU/s, conflicts per write, marks
    usd_per_million: float
    processor_events_per_s_per_vcpu: float

    @property
    def hottest_wcu_per_s(self) -> float:
        return max(row[2] for row in self.rows)


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
    meter = cost.Meter()
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
        simulated_projects = {str(1 + n) for n in range(min(case.projects, shards * batches * PROD.batch_size))}
        for project_id in sorted(simulated_projects):
            create_project(store, f"project {project_id}", project_id)
        stream_arn = boto3.client("kinesis").describe_stream_summary(StreamName=settings.events_stream)[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        # The batch a shard's events make at full scale: the shard's share of the rate over the batching
        # window, at most the batch size; measured record sizes and processor CPU decide the share.
        probe = _records(case, random.Random(seed), 50, "probe", 0)
        record_bytes = sum(len(data) for _, data, _ in probe) / len(probe)
        counting = cost.Counting()
        counting.install()
        invoke = local_invoke(process_handler)
        context = LocalLambdaContext(function_name="errata-scale-process")
        batch_events = PROD.batch_size
        try:
            for round_ in range(batches):
                for shard_number in range(shards):
                    shard = f"shardId-{shard_number:012d}"
                    records = _records(case, rng, batch_events, shard, 10**6 * (round_ + 1))
                    before = Counter(meter.wcu_by_item)
                    result = cost._invoke(counting, meter, invoke, cost._kinesis_event(records, stream_arn), context)
                    assert not result["batchItemFailures"], result
                    for name, units in meter.wcu_by_item.items():
                        if units > before[name]:
                            item = seen[name]
                            item.batches += 1
                            item.units += units - before[name]
                            item.shards.add(shard)
        finally:
            counting.uninstall()
        marks = _marks_by_item(dynamodb, labels)
    events = shards * batches * batch_events
    events_per_vcpu = events / meter.cpu_seconds
    vcpu = PROD.memory_mb * VCPU_PER_MB
    per_shard = min(SHARD_RECORDS_PER_S, SHARD_BYTES_PER_S / record_bytes, events_per_vcpu * vcpu)
    shards_needed = math.ceil(case.events_per_s / per_shard)
    shard_rate = case.events_per_s / shards_needed
    batch_events = min(PROD.batch_size, max(1, round(shard_rate * PROD.batching_window_seconds)))
    batches_per_s = shard_rate / batch_events
    total_batches = shards * batches
    rows = []
    for name, item in seen.items():
        share = item.batches / total_batches
        writes_per_s = shards_needed * batches_per_s * share
        size, marks_now, conditioned = marks.get(name, (0, len(item.shards), False))
        writers = shards_needed * (1 - math.exp(-share * batches_per_s * MARK_DAYS * 86_400))
        extra = max(0.0, writers - marks_now) * MARK_BYTES
        units = item.units / item.batches + capacity.write_units(int(size + extra)) - capacity.write_units(size)
        conflicts = writes_per_s * CONDITION_WINDOW_SECONDS if conditioned else 0.0
        rows.append((name, writes_per_s, writes_per_s * units, conflicts, round(writers)))
    rows.sort(key=lambda row: row[2], reverse=True)
    processor = cost.Result(
        cost.Workload(case.name, events, 1, 0, 0, (batch_events, batch_events)), cost.Meter(), meter, 0.0, 0
    )
    return CaseResult(
        case, shards_needed, batch_events, batches_per_s, rows, processor.usd_per_million(), events_per_vcpu
    )


def _marks_by_item(dynamodb: Any, labels: dict[str, str]) -> dict[str, tuple[int, int, bool]]:
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
        f"  {result.shards_needed:,} shards (processor {result.processor_events_per_s_per_vcpu:,.0f} events/s per"
        f" vCPU, {PROD.memory_mb} MB), batches of {result.batch_events} events,"
        f" {result.batches_per_s_per_shard:.2f} batches/s per shard; Lambda concurrency {result.shards_needed:,}"
    )
    for name, writes, units, conflicts, writers in result.rows[:5]:
        flag = "OVER" if units > PARTITION_WCU_PER_S else "ok"
        print(
            f"  {flag:>4} {name[:90]}: {writes:,.1f} writes/s, {units:,.0f} WCU/s, marks of {writers:,} shards,"
            f" {conflicts:.2f} other writes per condition window"
        )
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
