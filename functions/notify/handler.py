"""Notifier: each SQS record is one `Alert Triggered` event (raw SNS delivery); it goes to Slack, PagerDuty,
email or SNS. A failed delivery is a batch item failure whose retry waits longer each time."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.alerts.delivery import Delivery
from errata.function_metrics import function_metrics
from errata.models.alerts import Notification
from errata.settings import Settings
from errata.wiring import Clients, delivery

logger = Logger(service="notify")
metrics = function_metrics("notify")


@cache
def _wired() -> tuple[Settings, Clients, Delivery]:
    settings, clients = Settings.from_env(), Clients()
    return settings, clients, delivery(settings, clients)


def deliver_record(record: SQSRecord) -> str:
    settings, clients, channels = _wired()
    notification = Notification.model_validate(parse(event=record.json_body, model=EventBridgeModel).detail)
    try:
        where = channels.deliver(notification, record.message_id)
    except Exception as exc:
        receives = int(record.attributes.approximate_receive_count or 1)
        backoff = min(settings.notification_backoff_seconds * 2 ** (receives - 1), 43_200)
        clients["sqs"].change_message_visibility(
            QueueUrl=settings.notifications_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=backoff
        )
        logger.warning(
            "delivery failed; retried later",
            extra={"channel": notification.channel, "reason": str(exc), "receives": receives, "retry_in": backoff},
        )
        metrics.add_metric(name="deliveries_failed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="deliveries", unit=MetricUnit.Count, value=1)
    logger.info("delivered", extra={"channel": notification.channel, "rule": notification.rule_id, "to": where})
    return where


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=deliver_record, processor=processor, context=context
    )
    return dict(response)
