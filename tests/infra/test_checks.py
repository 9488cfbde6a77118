"""cfn-lint and cdk-nag on every synthesized template; the local stack agrees with the template."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from errata.naming import physical_name
from errata_local.alerting import provision_alerting
from errata_local.aws import TABLES, EmbeddedAws
from tests.infra.conftest import SynthesizedStage

# W3005 (obsolete DependsOn): CDK itself emits DependsOn next to an implicit Ref/GetAtt dependency; the
# duplicate is harmless and not ours to change.
CFN_LINT_IGNORED = ["W3005"]


@pytest.fixture(params=["dev", "prod", "small"])
def checked(request: pytest.FixtureRequest, stages: dict[str, SynthesizedStage]) -> SynthesizedStage:
    """Every synthesized stage, the small-team profile too."""
    return stages[request.param]


def test_cfn_lint_is_clean_on_every_template(checked: SynthesizedStage) -> None:
    stage = checked
    templates = stage.templates()
    assert len(templates) == 2
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--format",
            "parseable",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cdk_nag_finds_nothing_unsuppressed(checked: SynthesizedStage) -> None:
    stage = checked
    for stack in (stage.storage_stack, stage.services_stack):
        annotations = Annotations.from_stack(stack)
        errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert errors == [], errors
        assert warnings == [], warnings


def test_every_nag_suppression_carries_a_reason(stage: SynthesizedStage) -> None:
    reports = sorted(stage.outdir.glob("AwsSolutions-*-NagReport.csv"))
    assert len(reports) == 2
    for report in reports:
        for line in report.read_text().splitlines()[1:]:
            if '"Suppressed"' in line:
                reason = line.split('","')[3]
                assert len(reason) > 40, line


@pytest.fixture(scope="module")
def local_aws() -> Iterator[EmbeddedAws]:
    aws = EmbeddedAws()
    aws.start()
    yield aws
    aws.stop()


def _local_table(aws: EmbeddedAws, name: str) -> dict[str, Any]:
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
        "indexes": sorted(
            (i["IndexName"], tuple(sorted((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"])))
            for i in table.get("GlobalSecondaryIndexes", [])
        ),
        "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
    }


def _template_table(properties: dict[str, Any]) -> dict[str, Any]:
    ttl = properties.get("TimeToLiveSpecification", {})
    return {
        "keys": sorted((k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]),
        "indexes": sorted(
            (i["IndexName"], tuple(sorted((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"])))
            for i in properties.get("GlobalSecondaryIndexes", [])
        ),
        "ttl": ttl.get("AttributeName") if ttl.get("Enabled") else None,
    }


def test_the_local_stack_and_the_template_agree(local_aws: EmbeddedAws, stages: dict[str, SynthesizedStage]) -> None:
    stage = stages["prod"]
    settings = local_aws.provision(prefix=stage.config.prefix)
    template = stage.storage.to_json()["Resources"]

    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for r in template.values()
        if r["Type"] == "AWS::DynamoDB::GlobalTable"
    }
    assert set(tables) == {physical_name(stage.config.prefix, spec.logical_name) for spec in TABLES}
    for name, properties in tables.items():
        assert _local_table(local_aws, name) == _template_table(properties), name

    streams = [r["Properties"]["Name"] for r in template.values() if r["Type"] == "AWS::Kinesis::Stream"]
    assert streams == [settings.events_stream]
    queues = {r["Properties"]["QueueName"] for r in template.values() if r["Type"] == "AWS::SQS::Queue"}
    alerting = provision_alerting(local_aws.client, stage.config.prefix, settings.event_bus, 60)
    local_queues = [
        settings.dead_letter_queue_url,
        alerting.notifications_queue_url,
        alerting.notifications_dead_letters_url,
    ]
    assert queues == {url.rsplit("/", 1)[1] for url in local_queues}
    topics = {r["Properties"]["TopicName"] for r in template.values() if r["Type"] == "AWS::SNS::Topic"}
    local_topics = {
        arn.rsplit(":", 1)[1] for arn in (alerting.page_topic_arn, alerting.notify_topic_arn, alerting.email_topic_arn)
    }
    assert topics == local_topics | {f"{stage.config.prefix}-operations"}
    # The routes the local stack put on moto's bus are the rules of the template (errata.alerts.routes).
    local_rules = local_aws.client("events").list_rules(EventBusName=settings.event_bus)["Rules"]
    deployed = [
        r["Properties"]["EventPattern"]
        for r in stage.services.to_json()["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    assert sorted(json.dumps(json.loads(r["EventPattern"]), sort_keys=True) for r in local_rules) == sorted(
        json.dumps(pattern, sort_keys=True) for pattern in deployed
    )
    bucket_prefixes = [
        r["Properties"]["BucketName"]["Fn::Join"][1][0]
        for r in template.values()
        if r["Type"] == "AWS::S3::Bucket" and "BucketName" in r["Properties"]
    ]
    assert f"{settings.event_payloads_bucket}-" in bucket_prefixes


def test_synth_works_without_the_cdk_cli(tmp_path: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.app", "--stage", "prod", "--outdir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {"Errata-prod-Storage", "Errata-prod-Services"} <= set(manifest["artifacts"])
