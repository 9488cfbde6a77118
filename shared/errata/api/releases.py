"""/api/projects/{p}/releases, deploys, artifacts (source maps, ProGuard) and traffic."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from errata.api.context import ProjectId, artifacts, queries
from errata.models.artifacts import ArtifactList, ArtifactUploadPlan, ArtifactUploadRequest, ArtifactView, UploadSlot
from errata.models.issue import Deploy, IssueList, ReleaseList
from errata.store.artifacts import UPLOAD_CONTENT_TYPE, UPLOAD_URL_SECONDS
from errata.store.dynamo import InvalidCursor

router = Router()  # type: ignore[no-untyped-call]
Version = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")]


@router.post("/api/projects/<project_id>/deploys")
def post_deploy(project_id: ProjectId, deploy: Annotated[Deploy, Body()]) -> Response[dict[str, str]]:
    """Marks a release boundary; releases that are not semantic versions are ordered by deploy time. With a
    `commit`, stack frames of the release link to that commit."""
    queries().record_deploy(project_id, deploy)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body={"release": deploy.release})


@router.get("/api/projects/<project_id>/traffic")
def traffic(project_id: ProjectId, hours: Annotated[int, Query(ge=1, le=360)] = 24) -> dict[str, list[dict[str, Any]]]:
    """Per hour and per release or route: sessions, errored, crashed (release health), requests (from
    transactions) and errors, so alerting can compute "% of traffic"."""
    return {"traffic": queries().traffic(project_id, hours)}


Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]


@router.get("/api/projects/<project_id>/releases")
def releases(
    project_id: ProjectId, limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Cursor = None
) -> ReleaseList:
    """Releases, newest first seen first, a page at a time."""
    try:
        found, next_cursor = queries().releases(project_id, limit, cursor)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return ReleaseList(releases=found, next_cursor=next_cursor)


@router.get("/api/projects/<project_id>/releases/<version>/issues")
def release_issues(
    project_id: ProjectId,
    version: Annotated[str, Path(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Cursor = None,
) -> IssueList:
    """Issues first seen in this release, newest first, a page at a time."""
    try:
        issues, next_cursor = queries().issues_first_seen_in(project_id, version, limit, cursor)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return IssueList(issues=issues, next_cursor=next_cursor)


@router.post("/api/projects/<project_id>/releases/<version>/artifacts")
def upload_artifacts(
    project_id: ProjectId, version: Version, request: Annotated[ArtifactUploadRequest, Body()]
) -> ArtifactUploadPlan:
    """Presigned S3 PUT URLs for a release's source maps, minified files and ProGuard mappings: the files go
    straight to S3 (no AWS credentials in the build, no size limit of API Gateway in the way)."""
    uploads = []
    for file in request.files:
        try:
            debug_id = str(file.debug_id) if file.debug_id else None
            planned = artifacts().plan_upload(project_id, version, file.name, file.kind, file.size, debug_id)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        for _key, url in planned:
            uploads.append(
                UploadSlot(
                    name=file.name,
                    kind=file.kind,
                    url=url,
                    headers={"Content-Length": str(file.size), "Content-Type": UPLOAD_CONTENT_TYPE},
                )
            )
    return ArtifactUploadPlan(release=version, expires_in=UPLOAD_URL_SECONDS, uploads=uploads)


@router.get("/api/projects/<project_id>/releases/<version>/artifacts")
def list_artifacts(
    project_id: ProjectId,
    version: Version,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> ArtifactList:
    """The release's uploaded files in name order, a page at a time."""
    try:
        found, next_cursor = artifacts().page(project_id, version, limit, cursor)
    except InvalidCursor as exc:
        raise BadRequestError(str(exc)) from None
    return ArtifactList(
        release=version,
        artifacts=[ArtifactView(name=a.name, size=a.size, last_modified=a.last_modified) for a in found],
        next_cursor=next_cursor,
    )
