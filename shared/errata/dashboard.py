"""Read side for the dashboard API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from errata.grouping.rules import matching_rule, parse_rules
from errata.issue_status import RESOLVED
from errata.models.event import SentryEvent
from errata.models.integrations import CodeMapping, FirstSeenIn, FrameAtCommit, SourceRef
from errata.models.issue import (
    EVENT_VIEW_FIELDS,
    Deploy,
    IssueDetail,
    IssueStatusChange,
    IssueSummary,
    Release,
    RulePreview,
    TagBreakdown,
    TagBreakdownList,
    TagValueCount,
    UserIssue,
    WindowCountView,
)
from errata.search import IssueSearch
from errata.source_control.links import culprit_frame, frame_link, link_event, source_ref
from errata.store.counters import CounterStore, Window, issue_key, quota_key, window_start
from errata.store.event_payloads import EventPayloadStore, sample_key
from errata.store.integrations import IntegrationStore
from errata.store.issues import IssueFilter, IssueSort, IssueStore
from errata.store.releases import ReleaseStore
from errata.store.user_issues import IdentityKind, UserIssueStore, user_key
from errata.tag_values import TAG_KEYS
from errata.timefmt import iso_utc, utc_now

_WINDOW_SPAN = {"minute": timedelta(hours=1), "hour": timedelta(days=14)}


class IssueQueries:
    def __init__(
        self,
        issues: IssueStore,
        payloads: EventPayloadStore,
        counters: CounterStore,
        user_issues: UserIssueStore,
        releases: ReleaseStore,
        integrations: IntegrationStore,
    ) -> None:
        self._integrations = integrations
        self._issues = issues
        self._payloads = payloads
        self._counters = counters
        self._user_issues = user_issues
        self._releases = releases

    def issues_of_user(
        self, project_id: str, kind: IdentityKind, value: str, limit: int, cursor: str | None = None
    ) -> tuple[list[UserIssue], str | None]:
        """A page of the user's issues (one Query on the user index, one BatchGetItem for the titles: no
        Scan), the page's own most recently hit first, and the next page's cursor."""
        entries, next_cursor = self._user_issues.page_of(user_key(project_id, kind, value), limit, cursor)
        issues = self._issues.get_many(project_id, [entry["issue_id"] for entry in entries])
        found = [
            UserIssue(
                issue=IssueSummary.from_item(issues[entry["issue_id"]]),
                user_events=entry.get("events", 0),
                user_last_seen=entry.get("last_seen", ""),
            )
            for entry in entries
            if entry["issue_id"] in issues
        ]
        return sorted(found, key=lambda found_issue: found_issue.user_last_seen, reverse=True), next_cursor

    def releases(self, project_id: str, limit: int, cursor: str | None = None) -> tuple[list[Release], str | None]:
        """A page of releases, newest first seen first (one Query of the release index)."""
        items, next_cursor = self._releases.releases(project_id, limit, cursor)
        releases = [
            Release(
                version=i["version"],
                first_seen=i["first_seen"],
                last_seen=i["last_seen"],
                events=i["events"],
                users=i.get("user_count", 0),
                deploys=i.get("deploys", []),
            )
            for i in items
        ]
        return releases, next_cursor

    def issues_first_seen_in(
        self, project_id: str, version: str, limit: int, cursor: str | None = None
    ) -> tuple[list[IssueSummary], str | None]:
        items, next_cursor = self._issues.first_seen_in(project_id, version, limit, cursor)
        return [IssueSummary.from_item(item) for item in items], next_cursor

    def sample_events(self, project_id: str, issue_id: str, sample_size: int) -> list[dict[str, Any]]:
        """The issue's sampled payloads. Slots fill in order; a slot without a reference was kept, if ever, as
        an object of its own (before batch objects), so the first slot found in neither ends the list."""
        events = []
        references = self._counters.sample_references(issue_key(project_id, issue_id))
        for slot in range(sample_size):
            payload = self._payloads.get(references.get(slot) or sample_key(project_id, issue_id, slot))
            if payload is None:
                if slot in references:
                    continue  # its batch object expired; a later slot may be younger
                break
            events.append({key: payload[key] for key in EVENT_VIEW_FIELDS if key in payload})
        mappings = self._integrations.code_mappings(project_id) if events else []
        deploys: dict[str, list[dict[str, Any]]] = {}
        return [self._linked(project_id, event, mappings, deploys) for event in events]

    def _linked(
        self,
        project_id: str,
        event: dict[str, Any],
        mappings: list[CodeMapping],
        deploys: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        """The event with its frames linked to the repository (deploys read once per release)."""
        release = event.get("release") if isinstance(event.get("release"), str) else None
        if release and release not in deploys:
            deploys[release] = self._releases.deploys(project_id, release)
        environment = event.get("environment") if isinstance(event.get("environment"), str) else None
        return link_event(event, mappings, source_ref(release, deploys.get(release or "", []), environment))

    def change_status(self, project_id: str, issue_id: str, change: IssueStatusChange) -> IssueSummary | None:
        issue = self._issues.get_issue(project_id, issue_id)
        if issue is None:
            return None
        resolved_release = issue.get("last_release") if change.status in RESOLVED else None
        ignore_until_count = None
        if change.status == "ignored" and change.ignore_count is not None:
            ignore_until_count = int(issue.get("event_count", 0)) + change.ignore_count
        ignore_until = iso_utc(change.ignore_until) if change.status == "ignored" and change.ignore_until else None
        updated = self._issues.set_status(
            project_id,
            issue_id,
            change.status,
            resolved_release=resolved_release,
            ignore_until_count=ignore_until_count,
            ignore_until=ignore_until,
        )
        return IssueSummary.from_item(updated) if updated else None

    def record_deploy(self, project_id: str, deploy: Deploy, now: datetime | None = None) -> None:
        self._releases.record_deploy(project_id, deploy.model_dump(exclude_none=True), now or utc_now())

    def traffic(self, project_id: str, hours: int, now: datetime | None = None) -> list[dict[str, Any]]:
        until = now or utc_now()
        return self._counters.traffic(project_id, until - timedelta(hours=hours), until)

    def dropped_last_hour(self, project_id: str, now: datetime | None = None) -> int:
        until = now or utc_now()
        windows = self._counters.windows(quota_key(project_id), "minute", until - timedelta(hours=1), until)
        return sum(window.dropped for window in windows)

    def issue_counts(
        self, project_id: str, issue_id: str, window: Window, now: datetime | None = None
    ) -> list[WindowCountView]:
        until = now or utc_now()
        pk, since = issue_key(project_id, issue_id), until - _WINDOW_SPAN[window]
        if window == "minute":
            counts = self._counters.issue_minutes(pk, since, until)
        else:
            counts = self._counters.windows(pk, "hour", since, until)
        return [WindowCountView(start=iso_utc(c.start), events=c.events, users=c.users) for c in counts]

    def tag_breakdown(
        self, project_id: str, issue_id: str, days: int, top: int = 10, now: datetime | None = None
    ) -> TagBreakdownList:
        """Each breakdown tag's `top` values over the issue's last `days` days (one Query of its hours)."""
        until = now or utc_now()
        since = window_start(until - timedelta(days=days - 1), "hour").replace(hour=0)  # whole days
        found = self._counters.tag_counts(issue_key(project_id, issue_id), since, until)
        tags = []
        for key in TAG_KEYS:
            counted = sorted(
                ((value, count) for (tag, value), count in found.counts.items() if tag == key),
                key=lambda pair: (-pair[1], pair[0]),
            )
            if not counted:
                continue
            shown = [TagValueCount(value=value, count=count) for value, count in counted[:top]]
            other = max(0, found.events - sum(value.count for value in shown))
            tags.append(TagBreakdown(key=key, values=shown, other=other))
        return TagBreakdownList(days=days, events=found.events, tags=tags)

    def list_issues(
        self,
        project_id: str,
        sort: IssueSort,
        limit: int,
        cursor: str | None = None,
        search: IssueSearch | None = None,
    ) -> tuple[list[IssueSummary], str | None]:
        """A page of issues and the next page's cursor. `user:` searches go through the user index (one
        Query), the rest through the sort index with DynamoDB filters."""
        search = search or IssueSearch()
        filters = IssueFilter(
            statuses=search.statuses,
            release=search.release,
            environment=search.environment,
            level=search.level,
            text=search.text,
        )
        if search.user is not None:
            kind, value = search.user
            entries = self._user_issues.issues_of(user_key(project_id, kind, value), 100)
            found = self._issues.get_many(project_id, [entry["issue_id"] for entry in entries])
            items = [item for item in found.values() if filters.matches(item)]
            key = {"frequency": "event_count", "recency": "last_seen", "users": "user_count", "impact": "impact"}[sort]
            items.sort(key=lambda item: item.get(key, 0), reverse=True)
            return [IssueSummary.from_item(item) for item in items[:limit]], None
        items, next_cursor = self._issues.list_issues(project_id, sort, limit, cursor, filters)
        return [IssueSummary.from_item(item) for item in items], next_cursor

    def preview_rules(self, project_id: str, rules_text: str, limit: int = 50) -> tuple[list[RulePreview], int]:
        """Which of the most recent issues the rules would regroup, judged on each issue's representative
        event (one Query and one S3 read per issue; nothing is changed)."""
        rules = parse_rules(rules_text)  # InvalidRule (a ValueError) names the line
        items, _ = self._issues.list_issues(project_id, "recency", limit)
        previews = []
        for item in items:
            payload = self._payloads.get(item["payload_key"]) if item.get("payload_key") else None
            if payload is None:
                continue
            rule = matching_rule(rules, SentryEvent.model_validate(payload))
            if rule is not None:
                previews.append(RulePreview(issue=IssueSummary.from_item(item), rule=rule.text))
        return previews, len(items)

    def summary(self, project_id: str, issue_id: str) -> IssueSummary | None:
        item = self._issues.get_issue(project_id, issue_id)
        return IssueSummary.from_item(item) if item else None

    def issue_detail(self, project_id: str, issue_id: str) -> IssueDetail | None:
        item = self._issues.get_issue(project_id, issue_id)
        if item is None:
            return None
        payload = self._payloads.get(item["payload_key"]) if item.get("payload_key") else None
        event = {key: payload[key] for key in EVENT_VIEW_FIELDS if key in payload} if payload else None
        mappings = self._integrations.code_mappings(project_id)
        deploys: dict[str, list[dict[str, Any]]] = {}
        if event is not None:
            event = self._linked(project_id, event, mappings, deploys)
        summary = IssueSummary.from_item(item)
        return IssueDetail(
            **summary.model_dump(),
            event=event,
            first_seen_in=self._first_seen_in(project_id, item, event, mappings, deploys),
            tickets=self._integrations.tickets(project_id, issue_id),
        )

    def _first_seen_in(
        self,
        project_id: str,
        item: dict[str, Any],
        event: dict[str, Any] | None,
        mappings: list[CodeMapping],
        deploys: dict[str, list[dict[str, Any]]],
    ) -> FirstSeenIn | None:
        """The suspect commit: the first deploy of the release the issue was first seen in (to the issue's
        environment first), and the culprit frame at that commit. Read when asked, so a deploy hook that
        arrives after the first events still counts."""
        release = item.get("first_release")
        if not release:
            return None
        if release not in deploys:
            deploys[release] = self._releases.deploys(project_id, release)
        shipped = [d for d in deploys[release] if d.get("commit") or d.get("ref")]
        if not shipped:
            return None
        environment = item.get("environment")
        deploy = min(shipped, key=lambda d: (d.get("environment") != environment, d.get("at", "")))
        frame = culprit_frame(event, item.get("type")) if event else None
        at_commit = None
        if frame is not None:
            ref = SourceRef(commit=deploy.get("commit") or deploy.get("ref"), source="deploy")
            link, _ = frame_link(frame, event.get("platform") if event else None, mappings, ref)
            at_commit = FrameAtCommit(
                function=frame.get("function"),
                filename=frame.get("filename"),
                lineno=frame.get("lineno"),
                source_link=link,
            )
        return FirstSeenIn(
            release=release,
            environment=deploy.get("environment"),
            commit=deploy.get("commit"),
            ref=deploy.get("ref"),
            deployed_at=deploy.get("at"),
            deploy_url=deploy.get("url"),
            frame=at_commit,
        )
