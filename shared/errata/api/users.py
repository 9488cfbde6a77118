"""/api/projects/{p}/users: the customer-support view, every issue a user hit."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from errata.api.context import ProjectId, queries
from errata.models.issue import UserIssueList
from errata.search import user_kind
from errata.store.dynamo import InvalidCursor

router = Router()  # type: ignore[no-untyped-call]


@router.get("/api/projects/<project_id>/users/<user_id>/issues")
def user_issues(
    project_id: ProjectId,
    user_id: Annotated[str, Path(min_length=1, max_length=256)],
    by: Annotated[Literal["id", "email", "ip"] | None, Query(description="default: read off the value")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")] = None,
) -> UserIssueList:
    """The issues a user hit, found by user id, email or IP address (as the search box's `user:` reads it),
    a page at a time; each page's most recently hit first."""
    try:
        issues, next_cursor = queries().issues_of_user(project_id, by or user_kind(user_id), user_id, limit, cursor)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return UserIssueList(issues=issues, next_cursor=next_cursor)
