"""Read side for the dashboard API."""

from __future__ import annotations

from errata.models.issue import EVENT_VIEW_FIELDS, IssueDetail, IssueSummary
from errata.store.event_payloads import EventPayloadStore
from errata.store.issues import IssueSort, IssueStore


class IssueQueries:
    def __init__(self, issues: IssueStore, payloads: EventPayloadStore) -> None:
        self._issues = issues
        self._payloads = payloads

    def list_issues(self, project_id: str, sort: IssueSort, limit: int) -> list[IssueSummary]:
        return [IssueSummary.from_item(item) for item in self._issues.list_issues(project_id, sort, limit)]

    def issue_detail(self, project_id: str, issue_id: str) -> IssueDetail | None:
        item = self._issues.get_issue(project_id, issue_id)
        if item is None:
            return None
        payload = self._payloads.get(item["payload_key"]) if item.get("payload_key") else None
        event = {key: payload[key] for key in EVENT_VIEW_FIELDS if key in payload} if payload else None
        summary = IssueSummary.from_item(item)
        return IssueDetail(**summary.model_dump(), grouping_config=item.get("grouping_config"), event=event)
