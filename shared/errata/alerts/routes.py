"""How alerts travel, as data: the EventBridge rules and the SNS subscriptions. The CDK app deploys exactly
these; the local stack creates the same rules on moto's bus (with queues where moto cannot target SNS or
Lambda) and the same subscriptions on moto's topics. A test holds the synthesized template to them.

    processor / evaluator / API --domain events--> [DomainEvents] --> alert function (rules, intervals)
    alert function --Alert Triggered--> [PageAlerts]   urgency high --> page topic   --\\
                                        [NotifyAlerts] urgency low  --> notify topic --+--> notifications queue
                                                                                           --> notify function
    notify function --> Slack, PagerDuty, a raw SNS topic, or the email topic (the stage's addresses)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from errata.models.alerts import ALERT_TRIGGERED, DOMAIN_EVENTS
from errata.store.alert_bus import ALERTS_SOURCE, API_SOURCE, EVALUATOR_SOURCE, PROCESSOR_SOURCE

Target = Literal["alert_function", "page_topic", "notify_topic"]
EVALUATOR_SCHEDULE = "rate(1 minute)"


@dataclass(frozen=True)
class Route:
    name: str
    description: str
    pattern: dict[str, Any]
    target: Target


ROUTES: tuple[Route, ...] = (
    Route(
        "DomainEvents",
        "Issue and release events to the alert rules",
        {"source": [PROCESSOR_SOURCE, EVALUATOR_SOURCE, API_SOURCE], "detail-type": list(DOMAIN_EVENTS)},
        "alert_function",
    ),
    Route(
        "PageAlerts",
        "High-urgency notifications to the page topic",
        {"source": [ALERTS_SOURCE], "detail-type": [ALERT_TRIGGERED], "detail": {"urgency": ["high"]}},
        "page_topic",
    ),
    Route(
        "NotifyAlerts",
        "Low-urgency notifications to the notify topic",
        {"source": [ALERTS_SOURCE], "detail-type": [ALERT_TRIGGERED], "detail": {"urgency": ["low"]}},
        "notify_topic",
    ),
)

# Logical names (errata.naming.physical_name) of the topics and queues of alerting.
PAGE_TOPIC = "alerts-page"
NOTIFY_TOPIC = "alerts-notify"
EMAIL_TOPIC = "alerts-email"
NOTIFICATIONS_QUEUE = "notifications"
NOTIFICATIONS_DEAD_LETTERS = "notifications-dead-letters"
TOPICS: dict[Target, str] = {"page_topic": PAGE_TOPIC, "notify_topic": NOTIFY_TOPIC}

# The notifications queue: a delivery that fails is retried with backoff (the notifier sets the message's
# visibility to base * 2^(receives - 1)), then dead-lettered.
NOTIFICATION_MAX_RECEIVES = 5
NOTIFICATION_BACKOFF_SECONDS = 30
