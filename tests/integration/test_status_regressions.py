"""Issue status through the API, and the regressions events cause."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject
from tests.integration.test_counts_users_releases import _rewrite
from tests.integration.test_processor_delivery import Shard, _deliver, _event_record

pytestmark = pytest.mark.integration


def _send(project: TestProject, shard: Shard, message: str, release: str, times: int = 1) -> None:
    records = [_event_record(shard, project, message) for _ in range(times)]
    for record in records:
        _rewrite(record, release=release)
    assert _deliver(records) == []


def _issue(project: TestProject, title: str) -> dict[str, Any]:
    return next(issue for issue in project.issues() if issue["title"] == title)


def _call(project: TestProject, method: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.request(
        method,
        f"{project.base_url}/api/projects/{project.project_id}{path}",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {project.api_token}", "Content-Type": "application/json"},
        timeout=10,
    )


@pytest.fixture
def regressions(stack: LocalStack, info: StackInfo) -> Iterator[Any]:
    """An SQS queue subscribed to the bus's regression events, as an alerting rule would be."""
    events: Any = stack.client("events")
    sqs: Any = stack.client("sqs")
    name = f"regressions-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name, EventBusName=info.settings.event_bus, EventPattern=json.dumps({"detail-type": ["Issue Regressed"]})
    )
    events.put_targets(Rule=name, EventBusName=info.settings.event_bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        return [json.loads(m["Body"])["detail"] for m in messages]

    yield received
    events.remove_targets(Rule=name, EventBusName=info.settings.event_bus, Ids=["queue"])
    events.delete_rule(Name=name, EventBusName=info.settings.event_bus)


def test_a_resolved_issue_regresses_only_in_a_later_release(project: TestProject, regressions: Any) -> None:
    shard = Shard()
    _send(project, shard, "payment declined", "api@3.1.0", times=2)
    issue = _issue(project, "payment declined")
    resolved = _call(project, "PATCH", f"/issues/{issue['id']}", {"status": "resolved"})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"

    _send(project, shard, "payment declined", "api@3.0.9")  # an old release still running somewhere
    assert (_issue(project, "payment declined")["status"], _issue(project, "payment declined")["count"]) == (
        "resolved",
        3,
    )
    assert regressions() == []

    _send(project, shard, "payment declined", "api@3.2.0")
    assert _issue(project, "payment declined")["status"] == "regressed"
    [event] = regressions()
    assert {k: event[k] for k in ("project_id", "issue_id", "title", "release", "resolved_release")} == {
        "project_id": project.project_id,
        "issue_id": issue["id"],
        "title": "payment declined",
        "release": "api@3.2.0",
        "resolved_release": "api@3.1.0",
    }
    assert event["counts"]["total"] == 4 and event["url"].endswith(
        f"/projects/{project.project_id}/issues/{issue['id']}"
    )


def test_releases_that_are_not_versions_follow_deploy_order(project: TestProject, regressions: Any) -> None:
    shard = Shard()
    _send(project, shard, "cache stampede", "a1b2c3d")
    issue = _issue(project, "cache stampede")
    assert _call(project, "PATCH", f"/issues/{issue['id']}", {"status": "resolved_in_next_release"}).status_code == 200
    deploy = {"release": "f9e8d7c", "environment": "prod", "commit": "f9e8d7c0", "url": "https://ci.example.com/1"}
    assert _call(project, "POST", "/deploys", deploy).status_code == 201
    _send(project, shard, "cache stampede", "a1b2c3d")
    assert _issue(project, "cache stampede")["status"] == "resolved_in_next_release"
    _send(project, shard, "cache stampede", "f9e8d7c")
    assert _issue(project, "cache stampede")["status"] == "regressed"
    assert [e["release"] for e in regressions()] == ["f9e8d7c"]


def test_an_ignored_issue_comes_back_after_n_more_events(project: TestProject) -> None:
    shard = Shard()
    _send(project, shard, "slow query", "api@1.0.0")
    issue = _issue(project, "slow query")
    ignored = _call(project, "PATCH", f"/issues/{issue['id']}", {"status": "ignored", "ignore_count": 2})
    assert ignored.json()["status"] == "ignored"
    _send(project, shard, "slow query", "api@1.0.0", times=2)
    assert _issue(project, "slow query")["status"] == "ignored"
    _send(project, shard, "slow query", "api@1.0.0")
    assert _issue(project, "slow query")["status"] == "unresolved"


def test_status_changes_are_validated(project: TestProject) -> None:
    shard = Shard()
    _send(project, shard, "bad status", "api@1.0.0")
    issue = _issue(project, "bad status")
    assert _call(project, "PATCH", f"/issues/{issue['id']}", {"status": "deleted"}).status_code == 422
    assert _call(project, "PATCH", f"/issues/{'0' * 32}", {"status": "resolved"}).status_code == 404
    assert _call(project, "POST", "/deploys", {"environment": "prod"}).status_code == 422
