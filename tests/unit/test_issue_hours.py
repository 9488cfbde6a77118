"""An issue's minutes are counts in its hour item (errata.store.counters): writes add to them, the alerts'
and the API's minute windows read them back from the hours, and the hour still lists its users."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from errata.store.counters import COUNTERS_TABLE, CounterStore, minute_attribute

TABLE = "errata-test-counters"
PK = "issue#1#ab12"


@pytest.fixture
def counters() -> Iterator[tuple[Any, CounterStore]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**COUNTERS_TABLE.create_table_request(TABLE))
        yield client, CounterStore(client, TABLE)


def _add(client: Any, store: CounterStore, moment: datetime, events: int, users: set[str]) -> None:
    update = store.add_hour_item(PK, moment, events, {minute_attribute(moment): events}, users)["Update"]
    client.update_item(**update)


def test_minutes_are_counted_in_their_hours_and_read_back(counters: tuple[Any, CounterStore]) -> None:
    client, store = counters
    base = datetime(2026, 12, 8, 9, 58, 10, tzinfo=UTC)
    _add(client, store, base, 2, {"ann"})
    _add(client, store, base + timedelta(seconds=30), 1, {"bob"})  # the same minute, a later write
    _add(client, store, base + timedelta(minutes=1), 4, {"ann"})
    _add(client, store, base + timedelta(minutes=3), 5, {"cy"})  # the next hour: 10:01

    minutes = store.issue_minutes(PK, base - timedelta(minutes=5), base + timedelta(minutes=3))
    assert [(m.start.strftime("%H:%M"), m.events, m.users) for m in minutes] == [
        ("09:58", 3, None),
        ("09:59", 4, None),
        ("10:01", 5, None),
    ]
    # A range starting inside an hour leaves out that hour's earlier minutes.
    assert [m.start.minute for m in store.issue_minutes(PK, base + timedelta(minutes=1), base)] == []
    assert [
        m.start.minute for m in store.issue_minutes(PK, base + timedelta(minutes=1), base + timedelta(hours=1))
    ] == [59, 1]
    hours = store.windows(PK, "hour", base, base + timedelta(minutes=3))
    assert [(h.start.hour, h.events, h.users) for h in hours] == [(9, 7, 2), (10, 5, 1)]
    assert store.hour_activity(PK, base) == (7, {"ann", "bob"})
