"""From domain events to notifications: the alert function's domain.

`AlertEngine` takes one domain event, finds the project's rules that fire on it, keeps each rule's action
interval per issue (or release), and puts one `Alert Triggered` event per action on the bus, where the routes
send it by urgency. `MinuteEvaluator` runs on the schedule: it publishes what the processor's outbox still
holds, and checks the time-based conditions of the projects that had events in the last minutes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from errata.alerts.announcements import issue_url, publish_announcements
from errata.alerts.rules import notifications_for, resolutions_for, rule_fires
from errata.alerts.signals import IssueSignals, ProjectHour, SignalReader, blast_radius
from errata.models.alerts import (
    ALERT_TRIGGERED,
    ISSUE_CREATED,
    ISSUE_ESCALATING,
    ISSUE_REGRESSED,
    ISSUE_RESOLVED,
    RELEASE_UNHEALTHY,
    AlertDetail,
    AlertRule,
    Counts,
    EventFrequency,
    FrequencySpike,
    HighImpact,
    Notification,
    ReleaseHealth,
)
from errata.store.alert_bus import ALERTS_SOURCE, EVALUATOR_SOURCE, AlertBus, BusEvent
from errata.store.alert_rules import AlertRuleStore
from errata.store.counters import CounterStore
from errata.store.issues import IssueStore
from errata.timefmt import iso_utc

logger = logging.getLogger(__name__)


class NotificationsNotPublished(Exception):
    """Some notifications did not reach the bus; their intervals were released, so a retry sends them."""


class AlertEngine:
    def __init__(self, rules: AlertRuleStore, bus: AlertBus, signals: SignalReader) -> None:
        self._rules = rules
        self._bus = bus
        self._signals = signals

    def on_domain_event(self, detail_type: str, detail: AlertDetail, now: datetime) -> list[Notification]:
        rules, _ = self._rules.rules(detail.project_id)
        subject = detail.subject or detail.issue_id or ""
        if detail_type == ISSUE_RESOLVED:
            notifications = [
                n
                for rule in rules
                if self._rules.fired(detail.project_id, rule.id, subject)
                for n in resolutions_for(rule, detail)
            ]
            self._publish(notifications, [], detail_type)
            return notifications
        if detail_type in (ISSUE_CREATED, ISSUE_REGRESSED) and detail.issue_id:
            detail = self._with_blast_radius(detail, now)
        notifications = []
        claimed: list[tuple[AlertRule, str]] = []
        for rule in rules:
            if not rule_fires(rule, detail_type, detail):
                continue
            interval = timedelta(minutes=rule.action_interval_minutes)
            if not self._rules.claim_interval(detail.project_id, rule.id, subject, detail_type, now, interval):
                continue  # notified within the interval (or a redelivered event)
            claimed.append((rule, subject))
            notifications.extend(notifications_for(rule, detail_type, detail))
        self._publish(notifications, claimed, detail_type)
        return notifications

    def _with_blast_radius(self, detail: AlertDetail, now: datetime) -> AlertDetail:
        assert detail.issue_id is not None
        issue = self._signals.issue_hour(detail.project_id, detail.issue_id, now)
        project = self._signals.project_hour(detail.project_id, now)
        radius = blast_radius(
            issue, project, detail.blast_radius.route, clients=max(detail.users, len(issue.hour_clients))
        )
        return detail.model_copy(update={"blast_radius": radius})

    def _publish(self, notifications: list[Notification], claimed: list[tuple[AlertRule, str]], trigger: str) -> None:
        events = [BusEvent(ALERTS_SOURCE, ALERT_TRIGGERED, n) for n in notifications]
        failed = self._bus.publish(events)
        if failed:
            failed_rules = {notifications[i].rule_id for i in failed}
            for rule, subject in claimed:
                if rule.id in failed_rules:
                    self._rules.release_interval(notifications[0].alert.project_id, rule.id, subject, trigger)
            raise NotificationsNotPublished(f"{len(failed)} of {len(events)} notifications were not accepted")


@dataclass
class EvaluationSummary:
    projects: int = 0
    issues: int = 0
    escalations: int = 0
    unhealthy_releases: int = 0
    outbox_published: int = 0
    outbox_pending: int = 0
    ranks_settled: int = 0


class MinuteEvaluator:
    """Reads only what moved: the projects marked active in the last minutes, and their issues seen since."""

    def __init__(
        self,
        *,
        rules: AlertRuleStore,
        bus: AlertBus,
        issues: IssueStore,
        counters: CounterStore,
        signals: SignalReader,
        dashboard_url: str = "",
        lookback: timedelta = timedelta(minutes=2),
    ) -> None:
        self._rules = rules
        self._bus = bus
        self._issues = issues
        self._counters = counters
        self._signals = signals
        self._dashboard_url = dashboard_url
        self._lookback = lookback

    def run(self, now: datetime) -> EvaluationSummary:
        summary = EvaluationSummary()
        self._drain_outbox(summary)
        events: list[BusEvent] = []
        for project_id in sorted(self._counters.active_projects(now - self._lookback, now)):
            active = self._issues.recently_active(project_id, iso_utc(now - self._lookback))
            # An issue whose events stopped within a minute of its ranks being copied would keep stale ranks.
            summary.ranks_settled += self._issues.settle_ranks(active, now)
            rules, _ = self._rules.rules(project_id)
            timed = [rule for rule in rules if rule.enabled and _timed_conditions(rule)]
            if not timed:
                continue
            summary.projects += 1
            project = self._signals.project_hour(project_id, now)
            events.extend(self._releases(project_id, project, timed, now, summary))
            if any(not isinstance(c, ReleaseHealth) for rule in timed for c in _timed_conditions(rule)):
                events.extend(self._issues_of(project_id, active, project, timed, now, summary))
        failed = self._bus.publish(events)
        if failed:
            logger.warning("escalations not published; the next minute evaluates again", extra={"count": len(failed)})
        return summary

    def _drain_outbox(self, summary: EvaluationSummary) -> None:
        pending = self._issues.pending_announcements()
        if pending:
            left = publish_announcements(self._bus, self._issues, pending)
            summary.outbox_published += len(pending) - len(left)
            summary.outbox_pending += len(left)

    def _issues_of(
        self,
        project_id: str,
        active: list[dict[str, Any]],
        project: ProjectHour,
        rules: list[AlertRule],
        now: datetime,
        summary: EvaluationSummary,
    ) -> list[BusEvent]:
        events = []
        for item in active:
            if item.get("status") in ("resolved", "resolved_in_next_release", "ignored"):
                continue  # a resolved issue speaks again through its regression
            summary.issues += 1
            signals = self._signals.issue(project_id, item["issue_id"], now)
            detail = self._detail(project_id, item, signals, project, now)
            for rule in rules:
                reason = next(
                    (r for c in _timed_conditions(rule) if (r := _issue_condition_holds(c, signals, detail, now))),
                    None,
                )
                if reason:
                    summary.escalations += 1
                    escalation = detail.model_copy(update={"rule_id": rule.id, "reason": reason})
                    events.append(BusEvent(EVALUATOR_SOURCE, ISSUE_ESCALATING, escalation))
        return events

    def _detail(
        self, project_id: str, item: dict[str, object], signals: IssueSignals, project: ProjectHour, now: datetime
    ) -> AlertDetail:
        issue_id = str(item["issue_id"])
        route = item.get("route")
        return AlertDetail(
            project_id=project_id,
            issue_id=issue_id,
            title=str(item.get("title", "")),
            culprit=_text(item.get("culprit")),
            level=str(item.get("level", "error")),
            release=_text(item.get("last_release")),
            environment=_text(item.get("environment")),
            tags={str(k): str(v) for k, v in dict(item.get("tags") or {}).items()},  # type: ignore[call-overload]
            counts=Counts(
                last_minute=signals.events_since(now.replace(second=0, microsecond=0)),
                last_hour=signals.last_hour_events,
                total=int(str(item.get("event_count", 0))),
            ),
            users=int(str(item.get("user_count", 0))),
            blast_radius=blast_radius(signals, project, _text(route)),
            first_seen=_text(item.get("first_seen")),
            last_seen=_text(item.get("last_seen")),
            url=issue_url(self._dashboard_url, project_id, issue_id),
            subject=issue_id,
        )

    def _releases(
        self, project_id: str, project: ProjectHour, rules: list[AlertRule], now: datetime, summary: EvaluationSummary
    ) -> list[BusEvent]:
        events = []
        for version, sessions in sorted(project.releases.items()):
            for rule in rules:
                for condition in _timed_conditions(rule):
                    if not isinstance(condition, ReleaseHealth) or sessions.sessions < condition.min_sessions:
                        continue
                    if sessions.unhealthy_share * 100 <= condition.unhealthy_percent:
                        continue
                    summary.unhealthy_releases += 1
                    share = round(sessions.unhealthy_share * 100, 1)
                    detail = AlertDetail(
                        project_id=project_id,
                        title=f"Release {version} is unhealthy: {share}% of sessions errored or crashed",
                        release=version,
                        counts=Counts(last_hour=sessions.errored + sessions.crashed),
                        reason=f"{sessions.errored} errored and {sessions.crashed} crashed of {sessions.sessions} "
                        f"sessions this hour (threshold {condition.unhealthy_percent}%)",
                        url=f"{self._dashboard_url.rstrip('/')}/#/projects/{project_id}/releases",
                        rule_id=rule.id,
                        subject=f"release:{version}",
                    )
                    events.append(BusEvent(EVALUATOR_SOURCE, RELEASE_UNHEALTHY, detail))
                    break
        return events


def _timed_conditions(rule: AlertRule) -> list[EventFrequency | FrequencySpike | HighImpact | ReleaseHealth]:
    return [c for c in rule.conditions if isinstance(c, EventFrequency | FrequencySpike | HighImpact | ReleaseHealth)]


def _issue_condition_holds(
    condition: EventFrequency | FrequencySpike | HighImpact | ReleaseHealth,
    signals: IssueSignals,
    detail: AlertDetail,
    now: datetime,
) -> str | None:
    """Why the condition holds for the issue, or None."""
    if isinstance(condition, EventFrequency):
        since = now.replace(second=0, microsecond=0) - timedelta(minutes=condition.minutes - 1)
        events = signals.events_since(since)
        if events > condition.events:
            return f"{events} events in the last {condition.minutes} minutes (more than {condition.events})"
    elif isinstance(condition, FrequencySpike):
        last_hour, week_ago = signals.last_hour_events, signals.week_ago_hour_events
        if last_hour >= condition.floor and last_hour > condition.factor * week_ago:
            return (
                f"{last_hour} events in the last hour against {week_ago} in the same hour last week "
                f"(more than {condition.factor:g}x, floor {condition.floor})"
            )
    elif isinstance(condition, HighImpact):
        radius = detail.blast_radius
        if condition.user_percent is not None and (radius.user_share or 0) * 100 > condition.user_percent:
            return f"affects {(radius.user_share or 0) * 100:.1f}% of this hour's active users"
        if (
            condition.route_percent is not None
            and radius.route_share is not None
            and (radius.route_share or 0) * 100 > condition.route_percent
        ):
            return f"fails {(radius.route_share or 0) * 100:.1f}% of {radius.route} requests this hour"
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
