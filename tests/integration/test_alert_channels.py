"""Slack and PagerDuty deliveries against local servers that check each vendor's documented request shape
(tests/integration/vendors.py); a vendor that keeps answering 500 gets retries with backoff, then the
notification waits in the dead-letter queue."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests
import sentry_sdk

from errata_local.stack import LocalStack, StackInfo
from tests.integration.conftest import TestProject, wait_for
from tests.integration.test_alerting import capture, issue_titled, only_rules
from tests.integration.vendors import FakePagerDuty, FakeSlack

pytestmark = pytest.mark.integration


def _configure(stack: LocalStack, info: StackInfo, channel: str, name: str, value: str) -> None:
    ssm: Any = stack.client("ssm")
    ssm.put_parameter(
        Name=f"{info.settings.parameters_prefix}/{channel}/{name}", Value=value, Type="SecureString", Overwrite=True
    )


def test_slack_gets_block_kit_and_pagerduty_a_trigger_then_a_resolve(
    project: TestProject, info: StackInfo, stack: LocalStack, slack: FakeSlack, pagerduty: FakePagerDuty
) -> None:
    name = f"team-{secrets.token_hex(4)}"
    routing_key = secrets.token_hex(16)  # 32 characters, like an integration key
    _configure(stack, info, "slack", name, f"{slack.base}/services/{name}")
    _configure(stack, info, "pagerduty", name, routing_key)
    only_rules(
        project,
        new={
            "name": "New issues page",
            "conditions": [{"kind": "new_issue"}],
            "actions": [
                {"channel": "slack", "urgency": "low", "target": name},
                {"channel": "pagerduty", "urgency": "high", "target": name},
            ],
        },
    )
    sentry_sdk.init(dsn=project.dsn, release="api@5.0.0", environment="prod", default_integrations=False)
    capture(ConnectionRefusedError, "payments gateway")
    issue = issue_titled(project, "ConnectionRefusedError: payments gateway")

    [message] = wait_for(lambda: [m for m in slack.received if m["path"] == f"/services/{name}"] or None)
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "New issue: ConnectionRefusedError: payments gateway"},
    }
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in message["blocks"][1]["fields"]}
    assert fields["*Release*"] == "api@5.0.0" and fields["*Users*"] == "0"
    assert fields["*Blast radius*"].startswith("0 clients")
    button = message["blocks"][-1]["elements"][0]
    assert button["url"].endswith(f"/#/projects/{project.project_id}/issues/{issue['id']}")

    [trigger] = wait_for(lambda: [e for e in pagerduty.received if e["routing_key"] == routing_key] or None)
    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", issue["id"])
    assert trigger["payload"]["summary"] == "New issue: ConnectionRefusedError: payments gateway"
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == f"errata project {project.project_id}"

    headers = {"Authorization": f"Bearer {project.api_token}"}
    url = f"{project.base_url}/api/projects/{project.project_id}/issues/{issue['id']}"
    assert requests.patch(url, json={"status": "resolved"}, headers=headers, timeout=10).status_code == 200
    resolve = wait_for(
        lambda: next(
            (e for e in pagerduty.received if e["routing_key"] == routing_key and e["event_action"] == "resolve"),
            None,
        )
    )
    assert resolve == {"routing_key": routing_key, "event_action": "resolve", "dedup_key": issue["id"]}
    assert slack.rejected == [] and pagerduty.rejected == []
    sentry_sdk.get_client().close()


def test_a_vendor_that_answers_500_is_retried_then_dead_lettered(
    project: TestProject, info: StackInfo, stack: LocalStack, slack: FakeSlack
) -> None:
    name = f"down-{secrets.token_hex(4)}"
    path = f"/services/{name}"
    _configure(stack, info, "slack", name, f"{slack.base}{path}")
    slack.failing.add(path)
    only_rules(
        project,
        new={
            "name": "New issues to a broken Slack",
            "conditions": [{"kind": "new_issue"}],
            "actions": [{"channel": "slack", "urgency": "low", "target": name}],
        },
    )
    sentry_sdk.init(dsn=project.dsn, release="api@5.0.1", default_integrations=False)
    capture(PermissionError, "vault sealed")
    issue = issue_titled(project, "PermissionError: vault sealed")
    sqs: Any = stack.client("sqs")
    dead_letters = info.alerting.notifications_dead_letters_url

    def dead_lettered() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
        return [m for m in messages if issue["id"] in m["Body"]]

    # Backoff 1, 2, 4, 8 s between the five receives the queue allows.
    [message] = wait_for(dead_lettered, timeout=45, interval=0.5)
    assert slack.attempts[path] == 5
    assert json.loads(message["Body"])["detail"]["channel"] == "slack"
    assert not [m for m in slack.received if m["path"] == path]
    sentry_sdk.get_client().close()
