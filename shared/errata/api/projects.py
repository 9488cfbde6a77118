"""/api/projects/{p}: settings, DSN keys, fingerprint-rule preview."""

from __future__ import annotations

import secrets
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from errata.api.context import ProjectId, projects, queries
from errata.models.issue import ProjectKey, ProjectKeyList, ProjectView, RulePreviewList, RulesText
from errata.store.projects import Project, ProjectSettingsPatch

router = Router()  # type: ignore[no-untyped-call]


def _project_view(project: Project) -> ProjectView:
    return ProjectView(
        project_id=project.project_id,
        name=project.name,
        settings=project.settings,
        dropped_last_hour=queries().dropped_last_hour(project.project_id),
    )


@router.get("/api/projects/<project_id>")
def get_project(project_id: ProjectId) -> ProjectView:
    project = projects().get_project(project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return _project_view(project)


@router.patch("/api/projects/<project_id>")
def patch_project(project_id: ProjectId, patch: Annotated[ProjectSettingsPatch, Body()]) -> ProjectView:
    """Change settings: `rate_limit_per_minute` (ingest quota), `sample_size` (payloads kept per issue)."""
    project = projects().update_settings(project_id, patch)
    if project is None:
        raise NotFoundError(f"no project {project_id}")
    return _project_view(project)


def public_origin() -> str:
    """This API's origin as the caller reached it; ingest and the hooks share it (one HTTP API)."""
    headers = router.current_event.headers
    return f"{headers.get('x-forwarded-proto') or 'https'}://{headers.get('host') or 'localhost'}"


def _dsn(project_id: str, public_key: str) -> str:
    scheme, host = public_origin().split("://", 1)
    return f"{scheme}://{public_key}@{host}/{project_id}"


@router.get("/api/projects/<project_id>/keys")
def list_keys(project_id: ProjectId) -> ProjectKeyList:
    """The project's DSN keys (public by design: they ship in browser apps)."""
    project = projects().get_project(project_id)
    keys = project.public_keys if project else []
    return ProjectKeyList(keys=[ProjectKey(public_key=key, dsn=_dsn(project_id, key)) for key in keys])


@router.post("/api/projects/<project_id>/keys")
def create_key(project_id: ProjectId) -> Response[str]:
    """A new DSN key (needs project:admin). Rotate: create, deploy the new DSN, revoke the old key."""
    key = secrets.token_hex(16)
    if projects().add_public_key(project_id, key) is None:
        raise NotFoundError(f"no project {project_id}")
    body = ProjectKey(public_key=key, dsn=_dsn(project_id, key)).model_dump_json()
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.delete("/api/projects/<project_id>/keys/<public_key>")
def revoke_key(project_id: ProjectId, public_key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> Response[str]:
    """Revokes a DSN key: ingest refuses it within a minute (its per-container cache)."""
    if not projects().revoke_public_key(project_id, public_key):
        raise NotFoundError(f"no key {public_key} in project {project_id}")
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@router.post("/api/projects/<project_id>/fingerprint-rules/preview")
def preview_fingerprint_rules(project_id: ProjectId, body: Annotated[RulesText, Body()]) -> RulePreviewList:
    """Which of the 50 most recent issues these rules would regroup (nothing is saved)."""
    try:
        matches, checked = queries().preview_rules(project_id, body.rules)
    except ValueError as exc:  # InvalidRule names the line
        raise BadRequestError(str(exc)) from None
    return RulePreviewList(matches=matches, checked=checked)
