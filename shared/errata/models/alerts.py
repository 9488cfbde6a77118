"""Alerting's vocabulary: the domain events on the bus, the alert rules a project keeps, and the notification
an alert becomes.

A rule is conditions -> actions, like Sentry's issue alerts. The event-driven conditions (`new_issue`,
`regression`) fire from the processor's events; the time-based ones (`event_frequency`, `frequency_spike`,
`high_impact`, `release_health`) from the minute evaluator. Each alert carries its blast radius; a rule's
`page_requires` must hold for its high-urgency actions to run, so a storm from one client reaches the
low-urgency channels at most.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Detail types on the stage's bus.
ISSUE_CREATED = "Issue Created"
ISSUE_REGRESSED = "Issue Regressed"
ISSUE_ESCALATING = "Issue Escalating"
ISSUE_RESOLVED = "Issue Resolved"
RELEASE_UNHEALTHY = "Release Unhealthy"
DOMAIN_EVENTS = (ISSUE_CREATED, ISSUE_REGRESSED, ISSUE_ESCALATING, ISSUE_RESOLVED, RELEASE_UNHEALTHY)
ALERT_TRIGGERED = "Alert Triggered"

Channel = Literal["email", "slack", "pagerduty", "sns", "jira", "linear"]
Urgency = Literal["high", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlastRadius(BaseModel):
    """How much of the project an issue touches, over the last hour."""

    clients: int = Field(description="distinct users, or IP addresses for events without a user")
    user_share: float | None = Field(
        default=None, description="affected users / active users of the project (0-1); null without users"
    )
    traffic_share: float | None = Field(
        default=None,
        description="events / requests and sessions of the project (0-1); null when no traffic is reported",
    )
    route: str | None = None
    route_share: float | None = Field(default=None, description="events / requests of the issue's route (0-1)")


class Counts(BaseModel):
    last_minute: int = 0
    last_hour: int = 0
    total: int = 0


class AlertDetail(BaseModel):
    """The detail of every domain event: enough to notify without another read."""

    project_id: str
    issue_id: str | None = None
    title: str
    culprit: str | None = None
    level: str = "error"
    release: str | None = None
    environment: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    users: int = 0
    blast_radius: BlastRadius = Field(default_factory=lambda: BlastRadius(clients=0))
    first_seen: str | None = None
    last_seen: str | None = None
    url: str = ""
    # Why it is on the bus: a regression's releases, an escalation's rule and measure, a release's health.
    reason: str = ""
    rule_id: str | None = Field(default=None, description="the rule whose time-based condition held")
    resolved_release: str | None = None
    subject: str = Field(default="", description="what the action interval is kept per: the issue or the release")


class NewIssue(_Strict):
    kind: Literal["new_issue"] = "new_issue"


class Regression(_Strict):
    kind: Literal["regression"] = "regression"


class EventFrequency(_Strict):
    """More than `events` events in the last `minutes` minutes."""

    kind: Literal["event_frequency"] = "event_frequency"
    events: int = Field(ge=1, le=10_000_000)
    minutes: int = Field(default=60, ge=1, le=60)


class FrequencySpike(_Strict):
    """The last hour's count is more than `factor` times the same hour a week earlier, and above `floor`
    (so 1 -> 5 does not fire)."""

    kind: Literal["frequency_spike"] = "frequency_spike"
    factor: float = Field(default=3.0, gt=1, le=1000)
    floor: int = Field(default=20, ge=1, le=1_000_000_000)


class HighImpact(_Strict):
    """Affects more than `user_percent` of the project's active users, or more than `route_percent` of one
    route's requests, over the last hour."""

    kind: Literal["high_impact"] = "high_impact"
    user_percent: float | None = Field(default=None, gt=0, le=100)
    route_percent: float | None = Field(default=None, gt=0, le=100)


class ReleaseHealth(_Strict):
    """The share of errored or crashed sessions of a release in the last hour is above `unhealthy_percent`."""

    kind: Literal["release_health"] = "release_health"
    unhealthy_percent: float = Field(gt=0, le=100)
    min_sessions: int = Field(default=20, ge=1, le=1_000_000_000)


Condition = Annotated[
    NewIssue | Regression | EventFrequency | FrequencySpike | HighImpact | ReleaseHealth,
    Field(discriminator="kind"),
]


class Filters(_Strict):
    """All given filters must match the alert (a tag filter matches the issue's latest event's tags)."""

    environment: list[str] | None = Field(default=None, max_length=20)
    level: list[Literal["debug", "info", "warning", "error", "fatal"]] | None = None
    release: list[str] | None = Field(default=None, max_length=50)
    tags: dict[str, str] = Field(default_factory=dict, max_length=10)


class PageRequires(_Strict):
    """The blast radius a high-urgency action needs. Every given bound must hold."""

    clients: int = Field(default=2, ge=1, le=1_000_000_000, description="distinct users (or IPs) at least")
    user_percent: float | None = Field(default=None, ge=0, le=100)
    traffic_percent: float | None = Field(default=None, ge=0, le=100)


class Action(_Strict):
    channel: Channel
    urgency: Urgency = "low"
    target: str = Field(
        default="default",
        max_length=256,
        pattern=r"^[A-Za-z0-9_:./-]+$",
        description="slack/pagerduty: the name of the integration in SSM (/errata/<stage>/<channel>/<name>); "
        "sns: the topic ARN; email: the stage's email topic; jira/linear: a ticket through the project's "
        "tracker integration (the target is not used)",
    )


class AlertRuleInput(_Strict):
    """PUT body of an alert rule."""

    name: str = Field(min_length=1, max_length=200)
    conditions: list[Condition] = Field(min_length=1, max_length=10, description="any one fires the rule")
    filters: Filters = Field(default_factory=Filters)
    page_requires: PageRequires | None = Field(
        default=None, description="without it, high-urgency actions run for any blast radius"
    )
    actions: list[Action] = Field(min_length=1, max_length=10)
    action_interval_minutes: int = Field(default=30, ge=1, le=10_080)
    enabled: bool = True


class AlertRule(AlertRuleInput):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class AlertRuleList(BaseModel):
    rules: list[AlertRule]
    defaults: bool = Field(description="true while the project has not set rules of its own")


class Notification(BaseModel):
    """The detail of an `Alert Triggered` event: one action of one rule, routed by channel and urgency."""

    rule_id: str
    rule_name: str
    trigger: str = Field(description="the domain event type that fired the rule")
    channel: Channel
    target: str
    urgency: Urgency
    event_action: Literal["trigger", "resolve"] = "trigger"
    paging_held_back: bool = Field(
        default=False, description="a high-urgency action that the blast radius held back (low urgency instead)"
    )
    alert: AlertDetail
