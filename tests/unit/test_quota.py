"""The ingest quota (errata.ingest.ProjectQuota) against DynamoDB (moto in-process), with the clocks in the
test's hands: it holds while the processor counts nothing (a lagging stream), it is shared by containers,
and a refused storm costs one write per container per second, not one per request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from errata.errors import RateLimited
from errata.ingest import ProjectQuota
from errata.store.counters import COUNTERS_TABLE, CounterStore
from errata.store.projects import Project, ProjectSettings

TABLE = "errata-test-counters"
PROJECT = Project(project_id="7", name="shop", public_keys=["k"], settings=ProjectSettings(rate_limit_per_minute=100))


class Clocks:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 10, 0, 5, tzinfo=UTC)
        self.seconds = 0.0

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**COUNTERS_TABLE.create_table_request(TABLE))
        yield client


def _container(dynamodb: Any, clocks: Clocks) -> ProjectQuota:
    return ProjectQuota(CounterStore(dynamodb, TABLE), clock=lambda: clocks.now, monotonic=lambda: clocks.seconds)


def _offer(quota: ProjectQuota, requests: int) -> int:
    """How many single-event requests of `requests` were admitted."""
    admitted = 0
    for _ in range(requests):
        try:
            quota.admit(PROJECT, 1)
            admitted += 1
        except RateLimited:
            pass
    return admitted


def test_containers_share_the_quota_without_the_processor_counting_anything(dynamodb: Any) -> None:
    clocks = Clocks()
    first, second = _container(dynamodb, clocks), _container(dynamodb, clocks)
    admitted = 0
    for _ in range(20):  # 20 seconds of both containers taking 10 requests a second each
        admitted += _offer(first, 10) + _offer(second, 10)
        clocks.tick(1.0)
    # Each container may overshoot by what it accepts between two flushes (here 10 requests).
    assert 100 <= admitted <= 100 + 2 * 10
    usage = CounterStore(dynamodb, TABLE)
    assert usage.quota_usage("7", clocks.now) == admitted
    dropped = CounterStore(dynamodb, TABLE).windows("quota#7", "minute", clocks.now, clocks.now)[0].dropped
    assert admitted + dropped >= 400 - 2 * 10  # the last second's refusals are flushed with the next request


def test_a_refused_storm_writes_once_per_second_not_once_per_request(dynamodb: Any) -> None:
    clocks = Clocks()
    writes: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", lambda **kw: writes.append("update"))
    quota = _container(dynamodb, clocks)
    assert _offer(quota, 100) == 100
    for _ in range(3):  # 3 seconds of 1,000 refused requests each
        assert _offer(quota, 1000) == 0
        clocks.tick(1.0)
    assert len(writes) <= 4


def test_a_new_minute_starts_a_new_count(dynamodb: Any) -> None:
    clocks = Clocks()
    quota = _container(dynamodb, clocks)
    assert _offer(quota, 150) == 100
    clocks.tick(60.0)
    assert _offer(quota, 150) == 100


def test_a_failed_write_of_the_count_never_fails_the_request(dynamodb: Any) -> None:
    clocks = Clocks()
    quota = _container(dynamodb, clocks)

    def throttled(**_: Any) -> None:
        raise RuntimeError("ProvisionedThroughputExceededException")

    dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", throttled)
    dynamodb.meta.events.register("before-call.dynamodb.GetItem", throttled)
    for _ in range(5):
        assert _offer(quota, 10) == 10
        clocks.tick(1.0)
