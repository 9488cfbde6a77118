"""Alerting, locally. moto cannot target SNS or Lambda from an EventBridge rule, nor fire a schedule, so:

- the routes (errata.alerts.routes) are created on moto's bus as they are in AWS, each targeting an SQS
  queue that stands in for its target: the alert function's input, or a relay to the route's SNS topic;
- this dispatcher drains those queues into the same handlers (functions/alert, functions/notify) and
  publishes relayed events to moto's real topics, whose subscriptions (with the deployed filter policies
  and raw delivery) fill the notifications queue, exactly as SNS does in AWS;
- the email topic's local subscriber is a queue whose messages become `.eml` files in the outbox;
- the minute evaluator runs on a timer.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from errata.alerts.routes import (
    EMAIL_TOPIC,
    NOTIFICATION_MAX_RECEIVES,
    NOTIFICATIONS_DEAD_LETTERS,
    NOTIFICATIONS_QUEUE,
    ROUTES,
    TOPICS,
    Route,
)
from errata.naming import physical_name
from errata_local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ALERT_INPUT_QUEUE = "alert-function-input"
EMAIL_QUEUE = "email-outbox"
# Long polls: moto's SQS wakes a waiting receive when a message arrives, so a hop costs no polling delay and
# an idle queue one request every 5 s. stop() does not wait for a receive to return: the stack stops moto
# next, which ends it.
_WAIT_SECONDS = 5


@dataclass(frozen=True)
class AlertingResources:
    page_topic_arn: str
    notify_topic_arn: str
    email_topic_arn: str
    notifications_queue_url: str
    notifications_dead_letters_url: str
    alert_input_url: str
    relay_urls: dict[str, str]  # relay queue URL -> topic ARN
    email_queue_url: str


def _queue(sqs: Any, name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow_publishers(sqs: Any, url: str, arn: str) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def provision_alerting(
    client: Callable[[str], Any], prefix: str, event_bus: str, visibility_seconds: int
) -> AlertingResources:
    sqs, sns, events = client("sqs"), client("sns"), client("events")
    topics = {
        name: sns.create_topic(Name=physical_name(prefix, name))["TopicArn"] for name in (*TOPICS.values(), EMAIL_TOPIC)
    }
    dead_url, dead_arn = _queue(sqs, physical_name(prefix, NOTIFICATIONS_DEAD_LETTERS))
    notifications_url, notifications_arn = _queue(
        sqs,
        physical_name(prefix, NOTIFICATIONS_QUEUE),
        {
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": NOTIFICATION_MAX_RECEIVES}
            ),
        },
    )
    for name in TOPICS.values():
        sns.subscribe(
            TopicArn=topics[name],
            Protocol="sqs",
            Endpoint=notifications_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
    email_url, email_arn = _queue(sqs, physical_name(prefix, EMAIL_QUEUE))
    sns.subscribe(TopicArn=topics[EMAIL_TOPIC], Protocol="sqs", Endpoint=email_arn)
    alert_url, alert_arn = _queue(
        sqs,
        physical_name(prefix, ALERT_INPUT_QUEUE),
        {
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3}),
        },
    )
    _allow_publishers(sqs, alert_url, alert_arn)
    relays: dict[str, str] = {}
    for route in ROUTES:
        if route.target == "alert_function":
            target_arn = alert_arn
        else:
            relay_url, target_arn = _queue(sqs, physical_name(prefix, f"relay-{TOPICS[route.target]}"))
            _allow_publishers(sqs, relay_url, target_arn)
            relays[relay_url] = topics[TOPICS[route.target]]
        put_route(events, event_bus, route, target_arn)
    return AlertingResources(
        page_topic_arn=topics[TOPICS["page_topic"]],
        notify_topic_arn=topics[TOPICS["notify_topic"]],
        email_topic_arn=topics[EMAIL_TOPIC],
        notifications_queue_url=notifications_url,
        notifications_dead_letters_url=dead_url,
        alert_input_url=alert_url,
        relay_urls=relays,
        email_queue_url=email_url,
    )


def put_route(events: Any, event_bus: str, route: Route, target_arn: str) -> None:
    events.put_rule(
        Name=route.name, EventBusName=event_bus, EventPattern=json.dumps(route.pattern), Description=route.description
    )
    events.put_targets(Rule=route.name, EventBusName=event_bus, Targets=[{"Id": route.target, "Arn": target_arn}])


class AlertDispatcher:
    def __init__(
        self,
        *,
        sqs: Any,
        sns: Any,
        resources: AlertingResources,
        alert_handler: Handler,
        notify_handler: Handler,
        outbox: Path,
        evaluator_seconds: float = 60.0,
    ) -> None:
        self._sqs = sqs
        self._sns = sns
        self._resources = resources
        self._alert = alert_handler
        self._notify = notify_handler
        self._outbox = outbox
        self._evaluator_seconds = evaluator_seconds
        self._evaluate_lock = threading.Lock()
        self._stop = threading.Event()
        queues: list[tuple[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]]] = [
            (resources.alert_input_url, self._to_alert_function),
            *((url, functools.partial(self._relay, topic_arn=arn)) for url, arn in resources.relay_urls.items()),
            (resources.notifications_queue_url, self._to_notifier),
            (resources.email_queue_url, self._to_email),
        ]
        self._threads = [
            threading.Thread(
                target=self._queue_loop, args=queue, name=f"alerts-{queue[0].rsplit('/', 1)[-1]}", daemon=True
            )
            for queue in queues
        ]
        self._threads.append(threading.Thread(target=self._schedule_loop, name="alert-evaluator", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=0.2)

    def evaluate(self) -> dict[str, Any]:
        """One run of the minute evaluator, as the schedule would invoke it."""
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "time": time.time()}
        with self._evaluate_lock:
            return self._alert(event, LocalLambdaContext(function_name="errata-local-alert"))

    def _schedule_loop(self) -> None:
        while not self._stop.wait(self._evaluator_seconds):
            try:
                self.evaluate()
            except Exception:
                logger.exception("the minute evaluator failed")

    def _queue_loop(self, url: str, handle: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        while not self._stop.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=_WAIT_SECONDS, AttributeNames=["All"]
                ).get("Messages", [])
                done = handle(messages) if messages else []
                if done:
                    self._sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                    )
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("alert dispatch from %s failed; retrying", url)
                self._stop.wait(0.5)

    def _to_alert_function(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = []
        for message in messages:
            try:
                self._alert(_as_aws_delivers(message["Body"]), LocalLambdaContext(function_name="errata-local-alert"))
            except Exception:
                logger.exception("the alert function failed; the event is retried")
                continue
            done.append(message)
        return done

    def _relay(self, messages: list[dict[str, Any]], topic_arn: str) -> list[dict[str, Any]]:
        """What the EventBridge rule's SNS target does in AWS: the event JSON becomes the message."""
        for message in messages:
            self._sns.publish(TopicArn=topic_arn, Message=json.dumps(_as_aws_delivers(message["Body"])))
        return messages

    def _to_notifier(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        event = {"Records": [_sqs_record(m, self._resources.notifications_queue_url) for m in messages]}
        result = self._notify(event, LocalLambdaContext(function_name="errata-local-notify"))
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        return [m for m in messages if m["MessageId"] not in failed]

    def _to_email(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The email subscriber: each SNS notification becomes a message file a mail client opens."""
        self._outbox.mkdir(parents=True, exist_ok=True)
        for message in messages:
            notification = json.loads(message["Body"])
            email = EmailMessage()
            email["From"] = "Errata <errata@localhost>"
            email["To"] = "alerts@localhost"
            email["Subject"] = notification.get("Subject") or "Errata alert"
            email["Date"] = formatdate(localtime=False)
            email.set_content(notification.get("Message", ""))
            (self._outbox / f"email-{message['MessageId'][:12]}.eml").write_bytes(bytes(email))
        return messages


def _as_aws_delivers(body: str) -> dict[str, Any]:
    """moto's rule targets leave out the event's `account`, which EventBridge always sends."""
    event: dict[str, Any] = json.loads(body)
    event.setdefault("account", "123456789012")
    return event


def _sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to a function."""
    name = queue_url.rsplit("/", 1)[-1]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{name}",
        "awsRegion": "us-east-1",
    }
