"""The listing indexes sort by ranks: copies of an issue's totals made by a write (the recency rank at most once
a minute, the totals once doubled or ten minutes on), and by the minute evaluator once events stop
(errata.store.issues, decision 0009 step 4). A write to a busy issue in between changes no index entry, and a
listing still shows exact totals (it reads the page's items by key)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.capacity import Index, Table, write_cost
from errata.naming import physical_name
from errata.store.dynamo import to_item
from errata.store.issues import ISSUES_TABLE, IssueStore
from errata.store.tables import GlobalIndex, KeyAttribute, TableSpec
from errata.timefmt import iso_utc
from errata_local.aws import provision
from errata_local.stack import LocalStack, StackInfo
from functions.alert import handler as alert_function
from functions.process import handler as process
from tests.integration.conftest import TestProject
from tests.integration.test_counts_users_releases import _rewrite
from tests.integration.test_processor_delivery import Shard, _deliver, _event_record

pytestmark = pytest.mark.integration

ISSUES_INDEXES = Table(
    "issues",
    keys=("project_id", "issue_id"),
    indexes=tuple(
        Index(
            index.name,
            (index.partition_key.name, *([index.sort_key.name] if index.sort_key else [])),
            index.projection,
            index.included,
        )
        for index in ISSUES_TABLE.indexes
    ),
)


class Clock:
    """The processor's clock, moved on by the test (events keep their real arrival times)."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    new_batch = process.new_batch

    def with_clock() -> Any:
        batch = new_batch()
        batch._clock = moved
        return batch

    monkeypatch.setattr(process, "new_batch", with_clock)
    return moved


def _raw_item(stack: LocalStack, info: StackInfo, project: TestProject, issue_id: str) -> dict[str, Any]:
    dynamodb: Any = stack.client("dynamodb")
    key = {"project_id": {"S": project.project_id}, "issue_id": {"S": issue_id}}
    item: dict[str, Any] = dynamodb.get_item(TableName=info.settings.issues_table, Key=key, ConsistentRead=True)["Item"]
    return item


def _deliver_events(shard: Shard, project: TestProject, message: str, count: int) -> None:
    assert _deliver([_event_record(shard, project, message, user=f"u{n}") for n in range(count)]) == []


def test_ranks_follow_recency_each_minute_and_totals_on_doubling_or_ten_minutes_on(
    stack: LocalStack, info: StackInfo, project: TestProject, clock: Clock
) -> None:
    shard = Shard()
    _deliver_events(shard, project, "ledger out of balance", 10)
    [issue] = project.issues()
    first = _raw_item(stack, info, project, issue["id"])
    assert (first["rank_events"], first["rank_users"]) == ({"N": "10"}, {"N": "10"})

    _deliver_events(shard, project, "ledger out of balance", 5)  # 15: neither a minute on nor doubled
    second = _raw_item(stack, info, project, issue["id"])
    assert second["event_count"] == {"N": "15"}
    assert (second["rank_events"], second["ranked_at"]) == (first["rank_events"], first["ranked_at"])
    cost = write_cost(ISSUES_INDEXES, first, second)
    assert cost.index_writes == 0, cost.by_index  # the write touched the item alone
    [listed] = project.issues(sort="frequency")
    assert (listed["count"], listed["user_count"]) == (15, 10)  # exact, though the rank is not

    _deliver_events(shard, project, "ledger out of balance", 4)  # 19: still less than double
    assert _raw_item(stack, info, project, issue["id"])["rank_events"] == {"N": "10"}
    _deliver_events(shard, project, "ledger out of balance", 1)  # 20: doubled, copied within the minute
    doubled = _raw_item(stack, info, project, issue["id"])
    assert doubled["rank_events"] == {"N": "20"}
    assert write_cost(ISSUES_INDEXES, second, doubled).index_writes > 0

    clock.ahead = timedelta(seconds=61)
    _deliver_events(shard, project, "ledger out of balance", 1)  # a minute on: the recency rank only
    recent = _raw_item(stack, info, project, issue["id"])
    assert recent["rank_seen"] == recent["last_seen"]
    assert recent["ranked_at"]["S"] > doubled["ranked_at"]["S"]
    assert (recent["rank_events"], recent["totals_ranked_at"]) == ({"N": "20"}, doubled["totals_ranked_at"])
    cost = write_cost(ISSUES_INDEXES, doubled, recent)
    assert set(cost.by_index) == {"ranked_by_recency"}, cost.by_index  # one entry moved, not four

    clock.ahead = timedelta(minutes=11)
    _deliver_events(shard, project, "ledger out of balance", 1)  # ten minutes on: the totals too
    third = _raw_item(stack, info, project, issue["id"])
    assert (third["rank_events"], third["rank_users"]) == ({"N": "22"}, third["user_count"])
    assert third["totals_ranked_at"]["S"] > doubled["totals_ranked_at"]["S"]
    assert write_cost(ISSUES_INDEXES, recent, third).by_index.keys() >= {"ranked_by_frequency", "ranked_by_recency"}

    # The last events came within the minute: the evaluator copies them once the minute is over.
    _deliver_events(shard, project, "ledger out of balance", 3)
    store = IssueStore(stack.client("dynamodb"), info.settings.issues_table)
    since = iso_utc(datetime.now(UTC) - timedelta(minutes=2))
    assert store.settle_ranks(store.recently_active(project.project_id, since), clock() + timedelta(seconds=30)) == 0
    assert store.settle_ranks(store.recently_active(project.project_id, since), clock() + timedelta(seconds=61)) == 1
    settled = _raw_item(stack, info, project, issue["id"])
    assert (settled["rank_events"], settled["rank_users"]) == ({"N": "25"}, settled["user_count"])
    assert store.settle_ranks(store.recently_active(project.project_id, since), clock() + timedelta(minutes=3)) == 0


def test_the_order_is_the_ranks_and_the_counts_are_the_items(
    stack: LocalStack, info: StackInfo, project: TestProject, clock: Clock
) -> None:
    shard = Shard()
    _deliver_events(shard, project, "payment declined", 8)
    _deliver_events(shard, project, "cart expired", 6)
    _deliver_events(shard, project, "cart expired", 3)  # 9, less than double: its rank stays 6 for ten minutes
    assert [(i["title"], i["count"]) for i in project.issues(sort="frequency")] == [
        ("payment declined", 8),
        ("cart expired", 9),
    ]
    clock.ahead = timedelta(seconds=61)
    _deliver_events(shard, project, "cart expired", 1)  # a minute on: its recency rank, not its totals
    assert [i["title"] for i in project.issues(sort="frequency")] == ["payment declined", "cart expired"]
    clock.ahead = timedelta(minutes=11)
    _deliver_events(shard, project, "cart expired", 1)
    assert [(i["title"], i["count"]) for i in project.issues(sort="frequency")] == [
        ("cart expired", 11),
        ("payment declined", 8),
    ]
    # The evaluator's "moved lately" reaches back past the lag of the recency rank: an issue ranked by its
    # events of 50 s ago, seen again now (a minute has not passed since its rank was copied).
    earlier = datetime.now(UTC) - timedelta(seconds=50)
    assert _deliver([_event_record(shard, project, "stale lock", received_at=earlier) for _ in range(4)]) == []
    _deliver_events(shard, project, "stale lock", 1)
    store = IssueStore(stack.client("dynamodb"), info.settings.issues_table)
    ranked = {i["title"]: i for i in store.list_issues(project.project_id, "recency", 10)[0]}
    assert ranked["stale lock"]["rank_seen"] < iso_utc(datetime.now(UTC) - timedelta(seconds=30))
    moved = store.recently_active(project.project_id, iso_utc(datetime.now(UTC) - timedelta(seconds=30)))
    assert "stale lock" in {issue["title"] for issue in moved}


def test_a_state_saved_before_ranks_gets_the_new_indexes_and_its_issues_ranked(stack: LocalStack) -> None:
    """`make dev` restores the tables its data directory saved; one saved by an earlier version has the
    listing indexes of then (keyed by the totals, whole items projected) and issues without ranks."""
    prefix = f"errata-before-ranks-{uuid.uuid4().hex[:8]}"
    name = physical_name(prefix, ISSUES_TABLE.logical_name)
    earlier = TableSpec(
        logical_name="issues",
        partition_key=KeyAttribute("project_id"),
        sort_key=KeyAttribute("issue_id"),
        indexes=(
            GlobalIndex("by_frequency", KeyAttribute("project_id"), KeyAttribute("event_count", "N")),
            GlobalIndex("by_recency", KeyAttribute("project_id"), KeyAttribute("last_seen")),
            # Named as today's, but projecting what a listing filtered on before the items were tested.
            GlobalIndex(
                "ranked_by_users",
                KeyAttribute("project_id"),
                KeyAttribute("rank_users", "N"),
                projection="INCLUDE",
                included=("status", "title", "culprit", "environment"),
            ),
        ),
    )
    dynamodb: Any = stack.client("dynamodb")
    dynamodb.create_table(**earlier.create_table_request(name))
    saved = {"project_id": "7", "issue_id": "a" * 32, "title": "KeyError: 'sku'", "event_count": 41}
    saved |= {"user_count": 3, "last_seen": "2026-12-01T10:00:00.000Z", "status": "unresolved"}
    dynamodb.put_item(TableName=name, Item=to_item(saved))
    dynamodb.put_item(TableName=name, Item=to_item({"project_id": "7", "issue_id": "b" * 32, "alias_of": "a" * 32}))

    provision(stack.client, prefix)

    indexes = dynamodb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    assert sorted(index["IndexName"] for index in indexes) == sorted(index.name for index in ISSUES_TABLE.indexes)
    wanted = {
        index["IndexName"]: index["Projection"]
        for index in ISSUES_TABLE.create_table_request(name)["GlobalSecondaryIndexes"]
    }
    assert {index["IndexName"]: index["Projection"] for index in indexes} == wanted  # ranked_by_users rebuilt
    store = IssueStore(dynamodb, name)
    for sort in ("frequency", "recency", "users", "impact"):
        listed, _ = store.list_issues("7", sort, 10)  # type: ignore[arg-type]
        assert [(item["issue_id"], item["event_count"]) for item in listed] == [("a" * 32, 41)], sort
    item = store.get_issue("7", "a" * 32)
    assert item is not None
    assert (item["rank_events"], item["rank_users"], item["rank_seen"]) == (41, 3, "2026-12-01T10:00:00.000Z")
    assert "rank_events" not in (store.get_issue("7", "b" * 32) or {})  # an alias stays out of the listings


def test_the_minute_evaluator_settles_the_ranks_of_an_issue_gone_quiet(
    stack: LocalStack, info: StackInfo, project: TestProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = Shard()
    _deliver_events(shard, project, "webhook signature invalid", 4)
    _deliver_events(shard, project, "webhook signature invalid", 2)  # within the minute: the rank stays 4
    [issue] = project.issues()
    assert _raw_item(stack, info, project, issue["id"])["rank_events"] == {"N": "4"}
    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr(alert_function, "utc_now", lambda: later)
    summary = stack.evaluate_alerts()
    assert summary["ranks_settled"] >= 1, summary
    assert _raw_item(stack, info, project, issue["id"])["rank_events"] == {"N": "6"}


def test_a_new_title_environment_release_or_level_moves_no_index_entry(
    stack: LocalStack, info: StackInfo, project: TestProject
) -> None:
    """What the latest event sets (title, culprit, environment, release, level) is filtered on the page's
    items, not projected into the indexes: an issue whose events differ writes only its item."""
    shard = Shard()
    first_events = [_event_record(shard, project, "job 1 failed", user=f"u{n}") for n in range(10)]
    assert _deliver(first_events) == []
    [issue] = project.issues()
    before = _raw_item(stack, info, project, issue["id"])
    later = _event_record(shard, project, "job 2 failed", user="u1")  # the same issue: numbers are not grouped
    _rewrite(later, environment="staging", release="api@3.2.0", level="warning")
    assert _deliver([later]) == []
    after = _raw_item(stack, info, project, issue["id"])
    assert (after["title"]["S"], after["environment"]["S"], after["level"]["S"]) == (
        "job 2 failed",
        "staging",
        "warning",
    )
    assert after["last_release"] == {"S": "api@3.2.0"} and after["event_count"] == {"N": "11"}
    cost = write_cost(ISSUES_INDEXES, before, after)
    assert cost.index_writes == 0, cost.by_index
    found = project.api("/issues", query="environment:staging level:warning release:api@3.2.0").json()["issues"]
    assert [issue["id"] for issue in found] == [issue["id"]]
