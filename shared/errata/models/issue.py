"""What the dashboard API returns for issues."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from errata.models.integrations import FirstSeenIn, Ticket
from errata.store.projects import ProjectSettings


class IssueSummary(BaseModel):
    id: str
    grouping_config: str | None = Field(default=None, description="the grouping config that made the issue")
    title: str = Field(description="the raised exception's type and message (or the message)")
    root_cause: str | None = Field(
        default=None, description="the exception that grouped it (a chain's root cause), when not the title's"
    )
    culprit: str | None = None
    type: str = Field(description="the type of the exception that grouped it")
    level: str
    status: str
    count: int
    user_count: int
    first_seen: str = Field(description="ISO 8601, UTC")
    last_seen: str = Field(description="ISO 8601, UTC")
    first_release: str | None = None
    last_release: str | None = None
    environment: str | None = Field(default=None, description="the latest event's environment")

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> IssueSummary:
        return cls(
            id=item["issue_id"],
            grouping_config=item.get("grouping_config"),
            title=item.get("title", ""),
            root_cause=item.get("root_cause"),
            culprit=item.get("culprit"),
            type=item.get("type", ""),
            level=item.get("level", "error"),
            status=item.get("status", "unresolved"),
            count=item.get("event_count", 0),
            user_count=item.get("user_count", 0),
            first_seen=item.get("first_seen", ""),
            last_seen=item.get("last_seen", ""),
            first_release=item.get("first_release"),
            last_release=item.get("last_release"),
            environment=item.get("environment"),
        )


class IssueList(BaseModel):
    issues: list[IssueSummary]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null at the end")


# The parts of the stored (scrubbed) event that the issue page shows.
EVENT_VIEW_FIELDS = (
    "event_id",
    "timestamp",
    "level",
    "platform",
    "logger",
    "message",
    "logentry",
    "exception",
    "request",
    "user",
    "tags",
    "contexts",
    "extra",
    "breadcrumbs",
    "release",
    "environment",
    "server_name",
    "transaction",
    "fingerprint",
    "threads",
    "errors",  # what symbolication could not resolve, and why
)


class IssueDetail(IssueSummary):
    event: dict[str, Any] | None = Field(
        default=None,
        description="The representative event, scrubbed; in-app frames carry `source_link` (or "
        "`source_link_reason`), and `source_ref` says which commit the links point at",
    )
    first_seen_in: FirstSeenIn | None = Field(
        default=None, description="the deploy (and commit) of the release the issue was first seen in"
    )
    tickets: list[Ticket] = Field(default_factory=list)


class UserIssue(BaseModel):
    issue: IssueSummary
    user_events: int = Field(description="events of this issue that the user hit")
    user_last_seen: str


class UserIssueList(BaseModel):
    issues: list[UserIssue]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null at the end")


class Release(BaseModel):
    version: str
    first_seen: str
    last_seen: str
    events: int
    users: int = Field(default=0, description="distinct users its events hit (a HyperLogLog estimate)")
    deploys: list[dict[str, Any]] = Field(
        default_factory=list, description="release, environment, commit, ref, url, at"
    )


class ReleaseList(BaseModel):
    releases: list[Release]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null at the end")


class WindowCountView(BaseModel):
    start: str = Field(description="start of the window, ISO 8601 UTC")
    events: int
    users: int | None = Field(description="distinct users in an hour, exact up to 100; null for a minute")


class WindowCountList(BaseModel):
    window: str
    counts: list[WindowCountView]


class TagValueCount(BaseModel):
    value: str
    count: int


class TagBreakdown(BaseModel):
    """One tag's most frequent values over the issue's events; `other` counts the events with another value,
    none, or one past the day's value cap."""

    key: str
    values: list[TagValueCount]
    other: int


class TagBreakdownList(BaseModel):
    days: int
    events: int
    tags: list[TagBreakdown]


class ProjectView(BaseModel):
    project_id: str
    name: str
    settings: ProjectSettings
    dropped_last_hour: int = Field(description="events refused by the quota in the last hour")


class IssueStatusChange(BaseModel):
    """PATCH body for an issue. `ignored` takes `ignore_count` (come back after N more events) and/or
    `ignore_until` (come back after this time)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["unresolved", "resolved", "resolved_in_next_release", "ignored"]
    ignore_count: int | None = Field(default=None, ge=1, le=1_000_000_000)
    ignore_until: datetime | None = None


class Deploy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: str = Field(min_length=1, max_length=200)
    environment: str | None = Field(default=None, max_length=64)
    commit: str | None = Field(default=None, max_length=64)
    ref: str | None = Field(default=None, max_length=200, description="the tag or branch deployed")
    url: str | None = Field(default=None, max_length=2048)
    provider: Literal["api", "github", "gitlab"] = Field(default="api", description="who reported the deploy")


class RulePreview(BaseModel):
    issue: IssueSummary
    rule: str = Field(description="the first rule that matches the issue's representative event")


class RulePreviewList(BaseModel):
    matches: list[RulePreview]
    checked: int = Field(description="how many recent issues were checked")


class RulesText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: str = Field(max_length=20_000)


class ProjectKey(BaseModel):
    public_key: str
    dsn: str


class ProjectKeyList(BaseModel):
    keys: list[ProjectKey]
