"""Dead-letter queues: encrypted, TLS only, fourteen days, and exempt from having a DLQ of their own."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct


def dead_letter_queue(
    scope: Construct, construct_id: str, *, queue_name: str, holds: str, removal_policy: RemovalPolicy
) -> sqs.Queue:
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=removal_policy,
    )
    NagSuppressions.add_resource_suppressions(
        queue,
        [
            {
                "id": "AwsSolutions-SQS3",
                "reason": f"This queue is a dead-letter queue ({holds}); a DLQ of a DLQ would only move the problem.",
            }
        ],
    )
    return queue
