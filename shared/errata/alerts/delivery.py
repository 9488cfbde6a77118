"""Delivery of one notification to its channel: Slack (incoming webhook, Block Kit), PagerDuty (Events API
v2), email (a readable message published to the stage's email topic) or a raw SNS topic.

Webhook URLs and routing keys are read at run time from SSM Parameter Store (`<prefix>/slack/<name>`,
`<prefix>/pagerduty/<name>`, SecureString) and never logged. A failed delivery raises `DeliveryFailed`; the
notifier's queue retries it with backoff and dead-letters it in the end. Locally, an outbox folder stands in
for a channel that has no secret configured: the message lands there as the file a person would read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from errata.models.alerts import Notification
from errata.models.integrations import Tracker
from errata.trackers.ticket_facts import TicketFacts
from errata.trackers.tickets import TicketService, TrackerNotConfigured

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_HEADER_MAX = 150  # Slack header block text
_FIELD_MAX = 2000  # Slack section field text
_SECTION_MAX = 3000  # Slack section text
_SUMMARY_MAX = 1024  # PagerDuty payload.summary


class DeliveryFailed(Exception):
    """The channel refused or could not be reached; the message is retried."""


Post = Callable[[str, dict[str, Any]], tuple[int, str]]
Secret = Callable[[str], str | None]


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def headline(notification: Notification) -> str:
    alert = notification.alert
    prefix = {"Issue Created": "New issue", "Issue Regressed": "Regression", "Issue Escalating": "Escalating"}
    return f"{prefix.get(notification.trigger, notification.trigger)}: {alert.title}"


def _facts(notification: Notification) -> list[tuple[str, str]]:
    alert, radius = notification.alert, notification.alert.blast_radius
    facts = [
        ("Events", f"{alert.counts.last_hour} last hour, {alert.counts.total} in all"),
        ("Users", str(alert.users)),
        ("Release", alert.release or "none"),
        ("Environment", alert.environment or "none"),
        (
            "Blast radius",
            f"{radius.clients} clients, {_percent(radius.user_share)} of users, {_percent(radius.traffic_share)} "
            "of traffic" + (f", {_percent(radius.route_share)} of {radius.route}" if radius.route_share else ""),
        ),
    ]
    if alert.first_seen:
        facts.append(("First seen", alert.first_seen))
    return facts


def slack_message(notification: Notification) -> dict[str, Any]:
    """An incoming-webhook body: `text` is the fallback shown in notifications, `blocks` the message."""
    alert = notification.alert
    context = f"Rule *{notification.rule_name}* ({notification.urgency} urgency)"
    if notification.paging_held_back:
        context += ": not paged, the blast radius is below the rule's bound"
    summary = (f"`{alert.culprit}`\n" if alert.culprit else "") + alert.reason
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(notification)[:_HEADER_MAX]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": summary[:_SECTION_MAX]},
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{value}"[:_FIELD_MAX]} for name, value in _facts(notification)
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    if alert.url.startswith(("http://", "https://")):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in Errata"}, "url": alert.url}
                ],
            }
        )
    return {"text": headline(notification), "blocks": blocks}


def pagerduty_event(notification: Notification, routing_key: str) -> dict[str, Any]:
    """An Events API v2 body: one incident per issue (`dedup_key`), resolved when the issue is."""
    alert = notification.alert
    dedup_key = alert.issue_id or f"{alert.project_id}:{alert.subject}"
    if notification.event_action == "resolve":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    severity = "warning" if notification.urgency == "low" else ("critical" if alert.level == "fatal" else "error")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": headline(notification)[:_SUMMARY_MAX],
            "source": f"errata project {alert.project_id}",
            "severity": severity,
            "component": alert.culprit or "",
            "group": alert.environment or "",
            "class": notification.trigger,
            "custom_details": {name: value for name, value in _facts(notification)} | {"reason": alert.reason},
        },
        "client": "Errata",
    }
    if alert.url.startswith(("http://", "https://")):
        event["client_url"] = alert.url
        event["links"] = [{"href": alert.url, "text": "Open in Errata"}]
    return event


def email_message(notification: Notification) -> tuple[str, str]:
    """Subject (SNS allows 100 characters) and plain-text body."""
    alert = notification.alert
    subject = f"[Errata] {headline(notification)}"
    lines = [headline(notification), ""]
    if alert.culprit:
        lines.append(f"Culprit: {alert.culprit}")
    lines.append(alert.reason)
    lines.append("")
    lines.extend(f"{name}: {value}" for name, value in _facts(notification))
    lines += ["", f"Rule: {notification.rule_name} ({notification.urgency} urgency)"]
    if notification.paging_held_back:
        lines.append("Not paged: the blast radius is below the rule's bound.")
    if alert.url:
        lines += ["", alert.url]
    return _single_line(subject)[:100], "\n".join(lines)


def _single_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f]+", " ", text)


class Delivery:
    def __init__(
        self,
        *,
        secret: Secret,
        post: Post,
        sns: Any,
        email_topic_arn: str,
        parameters_prefix: str,
        pagerduty_url: str = PAGERDUTY_EVENTS_URL,
        outbox: Path | None = None,
        tickets: TicketService | None = None,
    ) -> None:
        self._tickets = tickets
        self._secret = secret
        self._post = post
        self._sns = sns
        self._email_topic_arn = email_topic_arn
        self._prefix = parameters_prefix.rstrip("/")
        self._pagerduty_url = pagerduty_url
        self._outbox = outbox

    def deliver(self, notification: Notification, message_id: str) -> str:
        """Sends the notification; returns where it went (for the log, never a secret)."""
        channel = notification.channel
        if channel == "email":
            subject, text = email_message(notification)
            self._sns.publish(TopicArn=self._email_topic_arn, Subject=subject, Message=text)
            return "email topic"
        if channel == "sns":
            self._sns.publish(TopicArn=notification.target, Message=notification.model_dump_json())
            return notification.target
        if channel in ("jira", "linear"):
            return self._ticket(notification, channel)
        parameter = f"{self._prefix}/{channel}/{notification.target}"
        secret = self._secret(parameter)
        if channel == "slack":
            body = slack_message(notification)
            url = secret
        else:
            body = pagerduty_event(notification, secret or "")
            url = self._pagerduty_url if secret else None
        if url is None:
            if self._outbox is None:
                raise DeliveryFailed(f"no {channel} integration configured at {parameter}")
            return self._to_outbox(notification, body, message_id)
        status, answer = self._post(url, body)
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{channel} answered {status}: {answer[:200]}")
        return channel

    def _ticket(self, notification: Notification, tracker: Tracker) -> str:
        """A ticket for the alert's issue; an issue that has one already keeps it (no second ticket)."""
        alert = notification.alert
        if self._tickets is None or alert.issue_id is None:
            raise DeliveryFailed(f"a {tracker} action needs an issue and the tracker integration")
        facts = TicketFacts(
            title=alert.title,
            culprit=alert.culprit,
            level=alert.level,
            events=alert.counts.total,
            users=alert.users,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
            first_release=alert.release,
            url=alert.url,
        )
        try:
            ticket, created = self._tickets.create(alert.project_id, alert.issue_id, tracker, facts)
        except TrackerNotConfigured as exc:
            raise DeliveryFailed(str(exc)) from None
        return f"{tracker} {ticket.key}" + ("" if created else " (existing)")

    def _to_outbox(self, notification: Notification, body: dict[str, Any], message_id: str) -> str:
        assert self._outbox is not None
        self._outbox.mkdir(parents=True, exist_ok=True)
        name = outbox_name(notification, message_id, "json")
        (self._outbox / name).write_text(json.dumps(body, indent=2))
        return f"outbox {name}"


def outbox_name(notification: Notification, message_id: str, extension: str) -> str:
    subject = re.sub(r"[^A-Za-z0-9_.-]+", "-", notification.alert.subject or "project")[:40]
    return f"{notification.channel}-{notification.rule_id}-{subject}-{message_id[:12]}.{extension}"
