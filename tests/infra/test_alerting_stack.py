"""Alerting as deployed: the EventBridge rules are errata.alerts.routes (the ones the local stack creates),
topics use a customer-managed key that EventBridge and CloudWatch may use, failed deliveries end in a
dead-letter queue with an alarm, the evaluator runs every minute, and each function may do what its code
does and no more."""

from __future__ import annotations

import json
from typing import Any

from errata.alerts.routes import EVALUATOR_SCHEDULE, NOTIFICATION_MAX_RECEIVES, ROUTES
from tests.infra.conftest import SynthesizedStage
from tests.infra.test_stacks import _actions, _one, _role_statements


def _listed(action: str | list[str]) -> list[str]:
    return [action] if isinstance(action, str) else action


def test_the_api_keeps_integration_secrets_in_its_stage_prefix_and_serves_the_hooks(stage: SynthesizedStage) -> None:
    statements = _role_statements(stage, "api")
    [ssm] = [s for s in statements if any(a.startswith("ssm:") for a in _listed(s["Action"]))]
    assert sorted(_listed(ssm["Action"])) == ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"]
    assert f"parameter/errata/{stage.config.stage}/integrations/*" in json.dumps(ssm["Resource"])
    routes = {r["Properties"]["RouteKey"] for r in stage.services.find_resources("AWS::ApiGatewayV2::Route").values()}
    assert "POST /api/hooks/{proxy+}" in routes
    table = stage.storage.find_resources(
        "AWS::DynamoDB::GlobalTable", {"Properties": {"TableName": f"{stage.config.prefix}-integrations"}}
    )
    assert len(table) == 1
    [spec] = table.values()
    assert spec["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def _rules(stage: SynthesizedStage) -> dict[str, dict[str, Any]]:
    return stage.services.find_resources("AWS::Events::Rule")


def _target_kind(target: dict[str, Any]) -> str:
    arn = json.dumps(target["Arn"])
    if "PageTopic" in arn:
        return "page_topic"
    if "NotifyTopic" in arn:
        return "notify_topic"
    assert "Alert" in arn, arn
    return "alert_function"


def test_the_deployed_rules_are_the_routes_the_local_stack_uses(stage: SynthesizedStage) -> None:
    deployed = {
        json.dumps(rule["Properties"]["EventPattern"], sort_keys=True): [
            _target_kind(t) for t in rule["Properties"]["Targets"]
        ]
        for rule in _rules(stage).values()
        if "EventPattern" in rule["Properties"]
    }
    expected = {json.dumps(route.pattern, sort_keys=True): [route.target] for route in ROUTES}
    assert deployed == expected
    for rule in _rules(stage).values():
        if "EventPattern" in rule["Properties"]:
            assert "EventBus" in json.dumps(rule["Properties"]["EventBusName"])


def test_the_minute_schedule_invokes_the_alert_function(stage: SynthesizedStage) -> None:
    [schedule] = [r for r in _rules(stage).values() if "ScheduleExpression" in r["Properties"]]
    assert schedule["Properties"]["ScheduleExpression"] == EVALUATOR_SCHEDULE
    assert "Alert" in json.dumps(schedule["Properties"]["Targets"][0]["Arn"])


def test_domain_events_that_fail_end_in_a_dead_letter_queue(stage: SynthesizedStage) -> None:
    [domain] = [r for r in _rules(stage).values() if "Issue Created" in json.dumps(r["Properties"].get("EventPattern"))]
    [target] = domain["Properties"]["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert "AlertFunctionDeadLetters" in json.dumps(target["DeadLetterConfig"])


def test_topics_use_a_customer_managed_key_that_eventbridge_and_cloudwatch_may_use(stage: SynthesizedStage) -> None:
    topics = stage.storage.find_resources("AWS::SNS::Topic")
    assert len(topics) == 4  # page, notify, email, operations
    for topic in topics.values():
        key = topic["Properties"]["KmsMasterKeyId"]
        assert "AlertsKey" in json.dumps(key), "alias/aws/sns cannot be used by EventBridge or CloudWatch"
    key = _one(stage.storage.find_resources("AWS::KMS::Key"))["Properties"]
    assert key["EnableKeyRotation"] is True
    [grant] = [s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowEventBridgeAndCloudWatchToPublish"]
    assert sorted(grant["Principal"]["Service"]) == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_page_and_notify_topics_feed_the_notifier_queue_which_dead_letters(stage: SynthesizedStage) -> None:
    subscriptions = stage.storage.find_resources("AWS::SNS::Subscription", {"Properties": {"Protocol": "sqs"}})
    topics = sorted(json.dumps(s["Properties"]["TopicArn"]) for s in subscriptions.values())
    assert len(topics) == 2 and "NotifyTopic" in topics[0] and "PageTopic" in topics[1]
    assert all(s["Properties"]["RawMessageDelivery"] is True for s in subscriptions.values())
    queues = stage.storage.find_resources("AWS::SQS::Queue")
    [queue] = [q for q in queues.values() if q["Properties"]["QueueName"].endswith("-notifications")]
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == NOTIFICATION_MAX_RECEIVES
    assert "NotificationsDeadLetters" in json.dumps(queue["Properties"]["RedrivePolicy"])
    mappings = [
        m["Properties"]
        for m in stage.services.find_resources("AWS::Lambda::EventSourceMapping").values()
        if "NotificationsQueue" in json.dumps(m["Properties"]["EventSourceArn"])
    ]
    assert len(mappings) == 1
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    email = stage.storage.find_resources("AWS::SNS::Subscription", {"Properties": {"Protocol": "email"}})
    alert_email = [s for s in email.values() if s["Properties"]["Endpoint"] == "team@example.com"]
    assert len(alert_email) == 1 and "EmailTopic" in json.dumps(alert_email[0]["Properties"]["TopicArn"])


def test_alarms_see_partial_failures_dead_letters_and_failed_notifications(stage: SynthesizedStage) -> None:
    alarms = stage.services.find_resources("AWS::CloudWatch::Alarm")
    by_metric = {(a["Properties"].get("Namespace"), a["Properties"]["MetricName"]): a for a in alarms.values()}
    for name in ("failed", "dead_lettered"):
        alarm = by_metric[("Errata", name)]["Properties"]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "process"}]
        assert alarm["Threshold"] == 0
    queues_watched = [
        json.dumps(a["Properties"]["Dimensions"])
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert any("NotificationsDeadLetters" in q for q in queues_watched)


def test_alert_and_notify_functions_may_do_what_their_code_does(stage: SynthesizedStage) -> None:
    alert = _actions(_role_statements(stage, "alert"))
    assert alert == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",  # action-interval claims
        "dynamodb:DeleteItem",  # a claim given back when the bus refused the notification
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",  # clears published announcements from the outbox
        "events:PutEvents",
    }
    notify_statements = _role_statements(stage, "notify")
    notify = _actions(notify_statements)
    assert {"sns:Publish", "ssm:GetParameter", "sqs:ChangeMessageVisibility", "sqs:ReceiveMessage"} <= notify
    # Publishing to the encrypted email topic needs the key (GenerateDataKey* is how CDK grants it).
    assert not {a for a in notify if a.endswith("*")} - {"kms:GenerateDataKey*"}
    # A rule's jira/linear action reads the tracker settings and claims the ticket: that table only.
    tables = [s for s in notify_statements if any(str(a).startswith("dynamodb:") for a in _listed(s["Action"]))]
    assert tables and all("IntegrationsTable" in json.dumps(s["Resource"]) for s in tables)
    assert {a for a in notify if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    [kms] = [s for s in notify_statements if "kms:GenerateDataKey*" in s["Action"]]
    assert "AlertsKey" in json.dumps(kms["Resource"])
    [ssm] = [s for s in notify_statements if s["Action"] == "ssm:GetParameter"]
    assert f"parameter/errata/{stage.config.stage}/*" in json.dumps(ssm["Resource"])
