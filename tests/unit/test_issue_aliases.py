"""IssueAliases against DynamoDB (moto): one target per current hash, aliases never overwrite an issue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from errata.store.issues import ISSUES_TABLE, IssueAliases, IssueStore

TABLE = "errata-test-issues"


@dataclass
class _Grouping:
    issue_id: str
    legacy_ids: tuple[str, ...] = ()


@dataclass
class _Staged:
    project_id: str
    grouping: _Grouping
    issue_id: str = field(default="")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**ISSUES_TABLE.create_table_request(TABLE))
        yield client


def _issue(dynamodb: Any, issue_id: str) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"project_id": {"S": "p"}, "issue_id": {"S": issue_id}})


def test_events_of_one_current_hash_join_one_issue_whatever_their_legacy_hashes(dynamodb: Any) -> None:
    _issue(dynamodb, "legacy-2")
    aliases = IssueAliases(IssueStore(dynamodb, TABLE))
    events = [_Staged("p", _Grouping("new", ("legacy-1",))), _Staged("p", _Grouping("new", ("legacy-2",)))]
    aliases.resolve(events)
    assert [e.issue_id for e in events] == ["legacy-2", "legacy-2"]
    item = dynamodb.get_item(TableName=TABLE, Key={"project_id": {"S": "p"}, "issue_id": {"S": "new"}})["Item"]
    assert item["alias_of"]["S"] == "legacy-2"
    # A later container, with the legacy config retired, finds the issue through the alias.
    later = [_Staged("p", _Grouping("new"))]
    IssueAliases(IssueStore(dynamodb, TABLE)).resolve(later)
    assert later[0].issue_id == "legacy-2"


def test_an_alias_never_overwrites_an_issue_another_shard_just_made(dynamodb: Any) -> None:
    _issue(dynamodb, "legacy")
    store = IssueStore(dynamodb, TABLE)
    assert store.put_alias("p", "legacy", "other") is False
    _issue(dynamodb, "new")  # made between our read and our alias
    aliases = IssueAliases(store)
    assert aliases._alias(("p", "new"), "legacy") == "new"
    item = dynamodb.get_item(TableName=TABLE, Key={"project_id": {"S": "p"}, "issue_id": {"S": "new"}})["Item"]
    assert "alias_of" not in item


def test_new_hashes_stay_themselves(dynamodb: Any) -> None:
    events = [_Staged("p", _Grouping("fresh", ("old",)))]
    IssueAliases(IssueStore(dynamodb, TABLE)).resolve(events)
    assert events[0].issue_id == "fresh"
