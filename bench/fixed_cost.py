"""What a stage costs each month before its first event: its synthesized CloudFormation templates priced
(bench/aws_prices.py). Used by bench/cost.py for the low-rate line; on its own:

    uv run python bench/fixed_cost.py [--stage prod] [--profile small] [--metrics 12]

Priced: the Kinesis stream (shard hours, or an on-demand stream's hours), CloudWatch alarms, customer-managed
KMS keys, Secrets Manager secrets, CloudWatch dashboards, and the custom metrics the functions publish every
hour (`--metrics`: how many distinct ones; bench/cost.py counts them in its low-rate run). Not priced, because
they are billed by use or free at this size: DynamoDB on-demand tables (storage of a few MB), S3, Lambda,
API Gateway, EventBridge rules, SQS, SNS, Cognito below 10,000 monthly active users, log storage.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Any

import aws_prices as price

from infra.app import CDK_JSON, add_stacks
from infra.config import stage_config

CLOUDWATCH_DASHBOARD_MONTH = 3.00


def templates(stage: str, profile: str) -> list[dict[str, Any]]:
    import aws_cdk as cdk

    context = json.loads(CDK_JSON.read_text())["context"]
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(outdir=outdir, context={**context, "stage": stage})
        add_stacks(app, stage_config(stage, profile=profile))
        assembly = app.synth()
        return [stack.template for stack in assembly.stacks]


def fixed_usd_per_month(stage: str, profile: str, metrics: int) -> dict[str, float]:
    """The stage's fixed monthly cost by item."""
    resources = [resource for template in templates(stage, profile) for resource in template["Resources"].values()]

    def count(kind: str) -> int:
        return sum(resource["Type"] == kind for resource in resources)

    stream = 0.0
    for resource in resources:
        if resource["Type"] == "AWS::Kinesis::Stream":
            properties = resource["Properties"]
            if properties.get("StreamModeDetails", {}).get("StreamMode") == "ON_DEMAND":
                stream += price.KINESIS_ON_DEMAND_STREAM_HOUR * price.HOURS_PER_MONTH
            else:
                stream += properties["ShardCount"] * price.KINESIS_SHARD_HOUR * price.HOURS_PER_MONTH
    return {
        "kinesis stream": stream,
        "alarms": count("AWS::CloudWatch::Alarm") * price.CLOUDWATCH_ALARM_MONTH,
        "kms keys": count("AWS::KMS::Key") * price.KMS_KEY_MONTH,
        "secrets": count("AWS::SecretsManager::Secret") * price.SECRETS_MANAGER_SECRET_MONTH,
        "dashboards": count("AWS::CloudWatch::Dashboard") * CLOUDWATCH_DASHBOARD_MONTH,
        "custom metrics": metrics * price.CLOUDWATCH_METRIC_MONTH,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--metrics", type=int, default=12, help="distinct custom metrics published every hour")
    args = parser.parse_args()
    costs = fixed_usd_per_month(args.stage, args.profile, args.metrics)
    print(", ".join(f"{name} {value:.2f}" for name, value in costs.items() if value))
    print(f"FIXED stage={args.stage} profile={args.profile} usd_per_month={sum(costs.values()):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
