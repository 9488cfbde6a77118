"""/api/projects/{p}/issues: the list, one issue, its status, sampled events, counts and tickets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from errata.alerts.announcements import issue_url
from errata.api.context import IssueId, ProjectId, bus, projects, queries, tickets, wired
from errata.models.alerts import ISSUE_RESOLVED, AlertDetail
from errata.models.integrations import TicketList, TicketRequest
from errata.models.issue import (
    IssueDetail,
    IssueList,
    IssueStatusChange,
    IssueSummary,
    TagBreakdownList,
    WindowCountList,
)
from errata.search import STATUS_WORDS, InvalidSearch, parse_search
from errata.store.alert_bus import API_SOURCE, BusEvent
from errata.store.dynamo import InvalidCursor
from errata.trackers.ticket_facts import TicketFacts

logger = Logger(service="api")
router = Router()  # type: ignore[no-untyped-call]


@router.get("/api/projects/<project_id>/issues")
def list_issues(
    project_id: ProjectId,
    sort: Annotated[
        Literal["frequency", "recency", "users", "impact"],
        Query(description="impact: users newly affected lately, weighted by level (errata.impact)"),
    ] = "frequency",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")] = None,
    query: Annotated[str, Query(max_length=500, description="user:<id|email|ip> release:<v> is:unresolved text")] = "",
    status: Annotated[Literal["unresolved", "resolved", "ignored", "regressed"] | None, Query()] = None,
    release: Annotated[str | None, Query(max_length=200)] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[Literal["debug", "info", "warning", "error", "fatal"] | None, Query()] = None,
) -> IssueList:
    """Issues by frequency, recency, users or impact, a page at a time (`cursor` = the previous `next_cursor`),
    narrowed by the search box's syntax in `query` and by the explicit filters."""
    try:
        search = parse_search(query)
    except InvalidSearch as exc:
        raise BadRequestError(str(exc)) from None
    if status is not None:
        search.statuses = STATUS_WORDS[status]
    search.release = release or search.release
    search.environment = environment or search.environment
    search.level = level or search.level
    try:
        issues, next_cursor = queries().list_issues(project_id, sort, limit, cursor, search)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return IssueList(issues=issues, next_cursor=next_cursor)


@router.get("/api/projects/<project_id>/issues/<issue_id>")
def get_issue(project_id: ProjectId, issue_id: IssueId) -> IssueDetail:
    """The issue with its representative event (frames linked to the repository by the code mappings), the
    deploy it was first seen in, and its tickets."""
    detail = queries().issue_detail(project_id, issue_id)
    if detail is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    return detail


@router.patch("/api/projects/<project_id>/issues/<issue_id>")
def patch_issue(project_id: ProjectId, issue_id: IssueId, change: Annotated[IssueStatusChange, Body()]) -> IssueSummary:
    """Resolve, resolve in the next release, ignore or reopen. A resolved issue seen again in a later
    release becomes `regressed`."""
    summary = queries().change_status(project_id, issue_id, change)
    if summary is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    if change.status in ("resolved", "resolved_in_next_release"):
        _announce_resolved(project_id, summary)
    return summary


def _announce_resolved(project_id: str, summary: IssueSummary) -> None:
    """`Issue Resolved` on the bus, so the incidents opened for the issue are resolved (PagerDuty). The
    status is already saved: a failed put is logged, not answered as an error."""
    detail = AlertDetail(
        project_id=project_id,
        issue_id=summary.id,
        title=summary.title,
        culprit=summary.culprit,
        level=summary.level,
        release=summary.last_release,
        users=summary.user_count,
        url=issue_url(wired()[0].dashboard_url, project_id, summary.id),
        reason="resolved in Errata",
        subject=summary.id,
    )
    if bus().publish([BusEvent(API_SOURCE, ISSUE_RESOLVED, detail)]):
        logger.warning("Issue Resolved was not published", extra={"issue_id": summary.id})


@router.get("/api/projects/<project_id>/issues/<issue_id>/events")
def issue_events(project_id: ProjectId, issue_id: IssueId) -> dict[str, list[dict[str, Any]]]:
    """A uniform sample of the issue's events (at most the project's `sample_size`), frames linked."""
    project = projects().get_project(project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return {"events": queries().sample_events(project_id, issue_id, project.settings.sample_size)}


@router.get("/api/projects/<project_id>/issues/<issue_id>/counts")
def issue_counts(
    project_id: ProjectId, issue_id: IssueId, window: Annotated[Literal["minute", "hour"], Query()] = "hour"
) -> WindowCountList:
    """Events per minute (last hour) or events and users per hour (last fourteen days, so last week's hour is
    there)."""
    return WindowCountList(window=window, counts=queries().issue_counts(project_id, issue_id, window))


@router.get("/api/projects/<project_id>/issues/<issue_id>/tags")
def issue_tags(
    project_id: ProjectId, issue_id: IssueId, days: Annotated[int, Query(ge=1, le=14)] = 14
) -> TagBreakdownList:
    """The issue's events by environment, release, server, route, runtime and browser over the last `days`
    days: each tag's ten most frequent values, and the rest as `other`."""
    if queries().summary(project_id, issue_id) is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    return queries().tag_breakdown(project_id, issue_id, days)


@router.get("/api/projects/<project_id>/issues/<issue_id>/tickets")
def list_tickets(project_id: ProjectId, issue_id: IssueId) -> TicketList:
    return TicketList(tickets=tickets().tickets(project_id, issue_id))


@router.post("/api/projects/<project_id>/issues/<issue_id>/tickets")
def create_ticket(project_id: ProjectId, issue_id: IssueId, request: Annotated[TicketRequest, Body()]) -> Response[str]:
    """A Jira or Linear ticket for the issue (201), or the one it already has (200): one ticket per tracker,
    however often this is called. The tracker's refusal is a 502 with its reason; nothing is kept then."""
    summary = queries().summary(project_id, issue_id)
    if summary is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id}")
    facts = TicketFacts(
        title=summary.title,
        culprit=summary.culprit,
        level=summary.level,
        events=summary.count,
        users=summary.user_count,
        first_seen=summary.first_seen,
        last_seen=summary.last_seen,
        first_release=summary.first_release,
        url=issue_url(wired()[0].dashboard_url, project_id, issue_id),
    )
    ticket, created = tickets().create(project_id, issue_id, request.tracker, facts)
    return Response(
        status_code=201 if created else 200, content_type=content_types.APPLICATION_JSON, body=ticket.model_dump_json()
    )
