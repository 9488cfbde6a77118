"""The parts of alerting around the rules: the alert-rules API, the outbox that keeps domain events a failed
PutEvents could not deliver, and an evaluator that reads only what moved."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import sentry_sdk
from botocore.awsrequest import AWSResponse

from errata.store.dynamo import to_item
from errata.timefmt import iso_utc
from errata_local.stack import LocalStack, StackInfo
from functions.alert import handler as alert_function
from functions.process import handler as process_function
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_alerting import capture, issue_titled, outbox, settled

pytestmark = pytest.mark.integration


def _rules_url(project: TestProject, rule_id: str = "") -> str:
    return f"{project.base_url}/api/projects/{project.project_id}/alert-rules" + (f"/{rule_id}" if rule_id else "")


def _headers(project: TestProject) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.api_token}"}


def test_alert_rules_through_the_api(project: TestProject) -> None:
    headers = _headers(project)
    listed = requests.get(_rules_url(project), headers=headers, timeout=10).json()
    assert listed["defaults"] is True
    assert [r["id"] for r in listed["rules"]] == ["default-new-issue", "default-spike"]

    rule = {
        "name": "Checkout",
        "conditions": [{"kind": "high_impact", "route_percent": 2}],
        "filters": {"environment": ["prod"]},
        "actions": [{"channel": "slack", "urgency": "low", "target": "checkout"}],
    }
    saved = requests.put(_rules_url(project, "checkout"), json=rule, headers=headers, timeout=10)
    assert saved.status_code == 200, saved.text
    assert saved.json()["action_interval_minutes"] == 30
    listed = requests.get(_rules_url(project), headers=headers, timeout=10).json()
    # The first rule of its own keeps the defaults as rules to edit or delete.
    assert (listed["defaults"], [r["id"] for r in listed["rules"]]) == (
        False,
        ["checkout", "default-new-issue", "default-spike"],
    )
    one = requests.get(_rules_url(project, "checkout"), headers=headers, timeout=10).json()
    assert one["conditions"] == [{"kind": "high_impact", "user_percent": None, "route_percent": 2.0}]
    assert requests.delete(_rules_url(project, "default-spike"), headers=headers, timeout=10).status_code == 204
    assert requests.delete(_rules_url(project, "default-spike"), headers=headers, timeout=10).status_code == 404
    assert requests.get(_rules_url(project, "default-spike"), headers=headers, timeout=10).status_code == 404

    bad = dict(rule, conditions=[{"kind": "frequency_spike", "factor": 0.5}])
    refused = requests.put(_rules_url(project, "bad"), json=bad, headers=headers, timeout=10)
    assert refused.status_code == 422
    assert "factor" in str(refused.json()["detail"])
    missing = requests.get(f"{project.base_url}/api/projects/no-such-project/alert-rules", headers=headers, timeout=10)
    assert missing.status_code == 404
    assert requests.get(_rules_url(project), timeout=10).status_code == 401

    paths = requests.get(f"{project.base_url}/api/openapi.json", timeout=10).json()["paths"]
    assert set(paths["/api/projects/{project_id}/alert-rules/{rule_id}"]) == {"get", "put", "delete"}
    assert "get" in paths["/api/projects/{project_id}/alert-rules"]


@pytest.fixture
def bus_refuses_processor_events() -> Iterator[list[int]]:
    """PutEvents answers with every entry failed, as EventBridge does under throttling or an outage."""
    _, clients = process_function._settings_and_clients()
    events = clients["events"]
    refused: list[int] = []

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        sent = json.loads(params["body"])["Entries"]  # params: the serialized request
        refused.append(len(sent))
        entries = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "injected"} for _ in sent]
        return AWSResponse("https://events", 200, {}, None), {"FailedEntryCount": len(entries), "Entries": entries}

    events.meta.events.register("before-call.eventbridge.PutEvents", refuse, unique_id="refuse-put-events")
    yield refused
    events.meta.events.unregister("before-call.eventbridge.PutEvents", unique_id="refuse-put-events")


def test_a_domain_event_the_bus_refused_stays_in_the_outbox_and_is_published_by_the_evaluator(
    project: TestProject, info: StackInfo, stack: LocalStack, bus_refuses_processor_events: list[int]
) -> None:
    sentry_sdk.init(dsn=project.dsn, release="api@7.0.0", default_integrations=False)
    capture(IsADirectoryError, "upload path")
    issue = issue_titled(project, "IsADirectoryError: upload path")
    wait_for(lambda: bus_refuses_processor_events)
    assert sum(bus_refuses_processor_events) >= 3  # one try and two retries of the entry
    dynamodb: Any = stack.client("dynamodb")
    key = to_item({"project_id": project.project_id, "issue_id": issue["id"]})
    item = dynamodb.get_item(TableName=info.settings.issues_table, Key=key)["Item"]
    assert item["outbox_type"]["S"] == "Issue Created"
    assert issue["count"] == 1  # the counts are committed whatever the bus did
    assert outbox(info, project) == []

    bus_refuses_processor_events.clear()
    events = process_function._settings_and_clients()[1]["events"]
    events.meta.events.unregister("before-call.eventbridge.PutEvents", unique_id="refuse-put-events")
    summary = stack.evaluate_alerts()
    assert summary["outbox_published"] >= 1
    [sent] = settled(info, project, 1)
    assert sent.headline == "[Errata] New issue: IsADirectoryError: upload path"
    assert "outbox_type" not in dynamodb.get_item(TableName=info.settings.issues_table, Key=key)["Item"]
    stack.evaluate_alerts()  # nothing left to publish: no second notification
    assert len(settled(info, project, 1)) == 1
    sentry_sdk.get_client().close()


def test_the_evaluator_reads_only_the_issues_that_moved(
    project: TestProject, info: StackInfo, stack: LocalStack
) -> None:
    dynamodb: Any = stack.client("dynamodb")
    a_day_ago = iso_utc(datetime.now(UTC) - timedelta(days=1))
    quiet = [secrets.token_hex(16) for _ in range(40)]
    for issue_id in quiet:
        item = {"project_id": project.project_id, "issue_id": issue_id, "title": "old", "last_seen": a_day_ago}
        dynamodb.put_item(TableName=info.settings.issues_table, Item=to_item({**item, "event_count": 5}))
    requests.put(
        _rules_url(project, "busy"),
        json={
            "name": "Busy",
            "conditions": [{"kind": "event_frequency", "events": 1000}],
            "actions": [{"channel": "email"}],
        },
        headers=_headers(project),
        timeout=10,
    ).raise_for_status()
    sentry_sdk.init(dsn=project.dsn, release="api@7.1.0", default_integrations=False)
    capture(NotADirectoryError, "moving issue", times=3)
    moving = issue_titled(project, "NotADirectoryError: moving issue", count=3)

    calls: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, repr(params)))

    client = alert_function._wired()[1]["dynamodb"]
    client.meta.events.register("before-call.dynamodb", record, unique_id="count-reads")
    try:
        stack.evaluate_alerts()
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="count-reads")
    assert "Scan" not in {name for name, _ in calls}
    read = " ".join(params for _, params in calls)
    assert moving["id"] in read
    assert not [issue_id for issue_id in quiet if issue_id in read]
    [recency] = [p for name, p in calls if name == "Query" and "ranked_by_recency" in p and project.project_id in p]
    assert "rank_seen >= :since" in recency
    sentry_sdk.get_client().close()
