"""Rules -> notifications: filters, the blast radius a page needs, and the defaults of a new project."""

from __future__ import annotations

from errata.models.alerts import (
    ISSUE_CREATED,
    ISSUE_ESCALATING,
    ISSUE_REGRESSED,
    ISSUE_RESOLVED,
    RELEASE_UNHEALTHY,
    Action,
    AlertDetail,
    AlertRule,
    BlastRadius,
    FrequencySpike,
    NewIssue,
    Notification,
    PageRequires,
    Regression,
)

# A project that has not set rules of its own gets these (GET alert-rules says `defaults: true`).
DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        id="default-new-issue",
        name="New issues and regressions by email",
        conditions=[NewIssue(), Regression()],
        actions=[Action(channel="email", urgency="low")],
    ),
    AlertRule(
        id="default-spike",
        name="Page on a spike that touches at least 1% of users",
        conditions=[FrequencySpike()],
        page_requires=PageRequires(clients=2, user_percent=1.0),
        actions=[Action(channel="pagerduty", urgency="high"), Action(channel="email", urgency="low")],
    ),
)

_EVENT_CONDITIONS = {ISSUE_CREATED: "new_issue", ISSUE_REGRESSED: "regression"}


def rule_fires(rule: AlertRule, trigger: str, detail: AlertDetail) -> bool:
    """Whether `rule` fires on a domain event (before the action interval)."""
    if not rule.enabled or not matches_filters(rule, detail):
        return False
    if trigger in _EVENT_CONDITIONS:
        return any(condition.kind == _EVENT_CONDITIONS[trigger] for condition in rule.conditions)
    if trigger in (ISSUE_ESCALATING, RELEASE_UNHEALTHY):
        return detail.rule_id == rule.id  # the evaluator names the rule whose condition held
    return False


def matches_filters(rule: AlertRule, detail: AlertDetail) -> bool:
    filters = rule.filters
    if filters.environment is not None and detail.environment not in filters.environment:
        return False
    if filters.level is not None and detail.level not in filters.level:
        return False
    if filters.release is not None and detail.release not in filters.release:
        return False
    return all(detail.tags.get(key) == value for key, value in filters.tags.items())


def page_allowed(requires: PageRequires | None, blast: BlastRadius) -> bool:
    """Every bound of `requires` holds. An unknown share (no users, no traffic reported) does not hold."""
    if requires is None:
        return True
    if blast.clients < requires.clients:
        return False
    if requires.user_percent is not None and (blast.user_share or 0.0) * 100 < requires.user_percent:
        return False
    return not (requires.traffic_percent is not None and (blast.traffic_share or 0.0) * 100 < requires.traffic_percent)


def notifications_for(rule: AlertRule, trigger: str, detail: AlertDetail) -> list[Notification]:
    """The notifications a firing rule sends: its high-urgency actions only when the blast radius allows a
    page; otherwise its low-urgency ones, marked as having held a page back."""
    paging = page_allowed(rule.page_requires, detail.blast_radius)
    held_back = not paging and any(action.urgency == "high" for action in rule.actions)
    return [
        Notification(
            rule_id=rule.id,
            rule_name=rule.name,
            trigger=trigger,
            channel=action.channel,
            target=action.target,
            urgency=action.urgency,
            paging_held_back=held_back,
            alert=detail,
        )
        for action in rule.actions
        if paging or action.urgency == "low"
    ]


def resolutions_for(rule: AlertRule, detail: AlertDetail) -> list[Notification]:
    """An issue resolved in Errata resolves the incidents a rule opened for it (PagerDuty `resolve`)."""
    return [
        Notification(
            rule_id=rule.id,
            rule_name=rule.name,
            trigger=ISSUE_RESOLVED,
            channel=action.channel,
            target=action.target,
            urgency=action.urgency,
            event_action="resolve",
            alert=detail,
        )
        for action in rule.actions
        if action.channel == "pagerduty"
    ]
